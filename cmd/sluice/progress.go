package main

import (
	"context"
	"io"
	"time"

	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"

	"github.com/sluicecdc/sluice/pkg/metrics"
	"github.com/sluicecdc/sluice/pkg/pipeline"
)

// progressPoll is how often the bars follow the snapshot's progress.
const progressPoll = 200 * time.Millisecond

// showProgress draws one bar per table (rows, rate, ETA) on an interactive
// terminal while the initial snapshot runs. Log lines go above the bars
// meanwhile (through logs, which is switched to the bars' writer and back).
// It returns when ctx ends or the snapshot is over.
func showProgress(ctx context.Context, m *metrics.Metrics, out io.Writer, logs *switchWriter) {
	tick := time.NewTicker(progressPoll)
	defer tick.Stop()
	var pb *progressBars
	defer func() {
		if pb != nil {
			pb.finish(logs)
		}
	}()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		s := m.Status()
		switch s.State {
		case string(pipeline.StateStarting):
			continue
		case string(pipeline.StateSnapshot):
		default:
			if pb != nil {
				pb.update(s.Snapshot)
			}
			return
		}
		if len(s.Snapshot) == 0 {
			continue
		}
		if pb == nil {
			pb = newProgressBars(ctx, out, 0)
			pb.prev = logs.set(pb.p)
		}
		pb.update(s.Snapshot)
	}
}

// progressBars are the bars of one snapshot.
type progressBars struct {
	p    *mpb.Progress
	prev io.Writer // the log's writer before the bars
	bars map[string]*mpb.Bar
	done map[string]bool
}

func newProgressBars(ctx context.Context, out io.Writer, width int) *progressBars {
	opts := []mpb.ContainerOption{mpb.WithOutput(out), mpb.WithRefreshRate(progressPoll), mpb.WithAutoRefresh()}
	if width > 0 {
		opts = append(opts, mpb.WithWidth(width))
	}
	return &progressBars{p: mpb.NewWithContext(ctx, opts...), bars: map[string]*mpb.Bar{}, done: map[string]bool{}}
}

func (pb *progressBars) update(tables []metrics.SnapshotRow) {
	for _, t := range tables {
		if pb.done[t.Table] {
			continue
		}
		b := pb.bars[t.Table]
		if b == nil {
			if t.Rows == 0 && !t.Done {
				continue // not started: no bar yet
			}
			b = pb.p.AddBar(max(t.Estimate, t.Rows, 1),
				mpb.PrependDecorators(decor.Name(t.Table, decor.WCSyncSpaceR), decor.CountersNoUnit("%d / %d rows", decor.WCSyncSpace)),
				mpb.AppendDecorators(decor.AverageSpeed(0, "%.0f rows/s", decor.WCSyncSpace),
					decor.OnComplete(decor.AverageETA(decor.ET_STYLE_GO, decor.WCSyncSpace), "done")))
			pb.bars[t.Table] = b
		}
		if t.Done {
			b.SetTotal(t.Rows, false)
			b.SetCurrent(t.Rows)
			b.SetTotal(-1, true)
			pb.done[t.Table] = true
			continue
		}
		if t.Rows >= t.Estimate { // the estimate was low: keep the bar short of full
			b.SetTotal(t.Rows+t.Rows/10+1, false)
		}
		b.SetCurrent(t.Rows)
	}
}

// finish completes the bars, waits for their last drawing and gives the
// log its writer back.
func (pb *progressBars) finish(logs *switchWriter) {
	for name, b := range pb.bars {
		if !pb.done[name] {
			b.Abort(false)
		}
	}
	if logs != nil && pb.prev != nil {
		logs.set(pb.prev)
	}
	pb.p.Wait()
}
