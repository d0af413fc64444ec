package pipeline

import (
	"context"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/sluicecdc/sluice/checkpoint"
	"github.com/sluicecdc/sluice/pkg/change"
)

// snapshot copies every selected table consistently with the position
// streaming starts from, and returns that position. The checkpoint says
// "snapshot" while it runs, so a crash makes the next run start it over
// (the sink empties the tables again): never a half copy taken for whole.
func (p *Pipeline) snapshot(ctx context.Context) (change.Position, error) {
	snapper, ok := p.src.(Snapshotter)
	if !ok {
		return nil, fmt.Errorf("source.snapshot: initial is not supported by the %s source; use never", p.opts.SourceKind)
	}
	loader, ok := p.sink.(Loader)
	if !ok {
		return nil, fmt.Errorf("source.snapshot: initial needs a sink that can load a snapshot; use never")
	}
	if err := p.store.Save(ctx, checkpoint.Checkpoint{Pipeline: p.opts.Name, Source: p.opts.SourceKind, Phase: checkpoint.PhaseSnapshot}); err != nil {
		return nil, fmt.Errorf("save checkpoint: %w", err)
	}
	snap, err := snapper.Snapshot(ctx)
	if err != nil {
		return nil, err
	}
	defer snap.Close()
	if err := loader.PrepareSnapshot(ctx, snap.Tables()); err != nil {
		return nil, err
	}
	chunks, err := snap.Chunks(ctx)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	prog := newProgress(p, chunks, estimates(ctx, p, snap))
	stopLog := prog.logEvery(p.opts.ProgressEvery)
	defer stopLog()
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(p.opts.SnapshotWorkers)
	for _, c := range chunks {
		g.Go(func() error {
			prog.begin(c.Table)
			var n, unreported int64
			err := loader.Load(gctx, c.Table, func(yield func(change.Row) error) error {
				return snap.Read(gctx, c, func(r change.Row) error {
					n++
					if unreported++; unreported == progressStep {
						prog.add(c.Table, unreported)
						unreported = 0
					}
					return yield(r)
				})
			})
			if err != nil {
				return err
			}
			prog.done(c, unreported)
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, fmt.Errorf("snapshot: %w", err)
	}
	stopLog()
	pos := snap.Position()
	if err := snap.Close(); err != nil {
		return nil, err
	}
	if err := p.recordPosition(ctx, pos); err != nil {
		return nil, err
	}
	if err := p.store.Save(ctx, checkpoint.Checkpoint{Pipeline: p.opts.Name, Source: p.opts.SourceKind,
		Phase: checkpoint.PhaseStreaming, Position: pos.String()}); err != nil {
		return nil, fmt.Errorf("save checkpoint: %w", err)
	}
	p.opts.Log.Info().Int("tables", len(snap.Tables())).Int64("rows", prog.total.Load()).
		Dur("took", time.Since(start)).Stringer("position", pos).Msg("snapshot done")
	return pos, nil
}

// recordPosition makes a sink that keeps its applied position in the target
// store pos there, durably: the target then says where streaming starts,
// as it does after every later commit.
func (p *Pipeline) recordPosition(ctx context.Context, pos change.Position) error {
	if _, ok := p.sink.(PositionKeeper); !ok {
		return nil
	}
	if err := p.sink.Apply(ctx, &change.Txn{Position: pos}); err != nil {
		return fmt.Errorf("record the snapshot's position in the target: %w", err)
	}
	if err := p.sink.Flush(ctx); err != nil {
		return fmt.Errorf("record the snapshot's position in the target: %w", err)
	}
	if d, ok := p.sink.(Durability); ok {
		if _, err := d.Durable(ctx, true); err != nil {
			return fmt.Errorf("record the snapshot's position in the target: %w", err)
		}
	}
	return nil
}

// estimates asks the source how many rows each table has, for progress
// displays; a source that cannot tell leaves them unknown (-1).
func estimates(ctx context.Context, p *Pipeline, snap Snapshot) map[*change.Table]int64 {
	est := map[*change.Table]int64{}
	e, ok := snap.(Estimator)
	for _, t := range snap.Tables() {
		est[t] = -1
		if !ok {
			continue
		}
		n, err := e.Estimate(ctx, t)
		if err != nil {
			p.opts.Log.Debug().Err(err).Stringer("table", t.ID).Msg("no row estimate")
			continue
		}
		est[t] = n
	}
	return est
}

// progressStep is how many rows a snapshot reader copies between reports.
const progressStep = 4096

// progress tracks the rows copied per table; it tells the observer, logs
// each table as its last chunk is copied, and every so often logs the
// tables still being copied.
type progress struct {
	p      *Pipeline
	tables map[*change.Table]*tableProgress
	order  []*change.Table
	total  atomic.Int64
	mu     sync.Mutex
}

type tableProgress struct {
	estimate int64
	rows     atomic.Int64
	started  atomic.Int64 // unix nanoseconds when its first chunk began; 0 = not yet
	left     int          // chunks not yet copied; under progress.mu
}

// begin notes that a chunk of t is being copied; the first one starts the
// table's clock (for its rate) and tells the observer.
func (pr *progress) begin(t *change.Table) {
	if pr.tables[t].started.CompareAndSwap(0, time.Now().UnixNano()) {
		pr.p.obs.SnapshotRows(t.ID, 0, false)
	}
}

func newProgress(p *Pipeline, chunks []Chunk, est map[*change.Table]int64) *progress {
	pr := &progress{p: p, tables: map[*change.Table]*tableProgress{}}
	for _, c := range chunks {
		tp := pr.tables[c.Table]
		if tp == nil {
			tp = &tableProgress{estimate: -1}
			if n, ok := est[c.Table]; ok {
				tp.estimate = n
			}
			pr.tables[c.Table] = tp
			pr.order = append(pr.order, c.Table)
		}
		tp.left++
	}
	list := make([]SnapshotTable, 0, len(pr.order))
	for _, t := range pr.order {
		list = append(list, SnapshotTable{Table: t.ID, Estimate: pr.tables[t].estimate})
	}
	p.obs.SnapshotStarted(list)
	return pr
}

func (pr *progress) add(t *change.Table, n int64) {
	pr.tables[t].rows.Add(n)
	pr.total.Add(n)
	pr.p.obs.SnapshotRows(t.ID, n, false)
}

func (pr *progress) done(c Chunk, n int64) {
	tp := pr.tables[c.Table]
	tp.rows.Add(n)
	pr.total.Add(n)
	pr.mu.Lock()
	tp.left--
	last := tp.left == 0
	pr.mu.Unlock()
	pr.p.obs.SnapshotRows(c.Table.ID, n, last)
	if last {
		rows := tp.rows.Load()
		took := time.Since(time.Unix(0, tp.started.Load()))
		pr.p.opts.Log.Info().Stringer("table", c.Table.ID).Int64("rows", rows).Dur("took", took).
			Float64("rows_per_s", rate(rows, took)).Msg("table copied")
	}
}

// logEvery logs the progress of every table being copied each interval
// (never when interval < 0); the returned function stops it.
func (pr *progress) logEvery(interval time.Duration) (stop func()) {
	if interval < 0 {
		return func() {}
	}
	done := make(chan struct{})
	var once sync.Once
	go func() {
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				pr.logRunning()
			}
		}
	}()
	return func() { once.Do(func() { close(done) }) }
}

// logRunning logs one line per table whose copy has begun and not ended:
// rows copied, the estimate, the rate and the time left at that rate.
func (pr *progress) logRunning() {
	for _, t := range pr.order {
		tp := pr.tables[t]
		pr.mu.Lock()
		left := tp.left
		pr.mu.Unlock()
		started := tp.started.Load()
		if left == 0 || started == 0 {
			continue
		}
		rows, took := tp.rows.Load(), time.Since(time.Unix(0, started))
		r := rate(rows, took)
		ev := pr.p.opts.Log.Info().Stringer("table", t.ID).Int64("rows", rows).Dur("elapsed", took).Float64("rows_per_s", r)
		if tp.estimate >= 0 {
			ev = ev.Int64("estimate", tp.estimate)
			if tp.estimate > rows && r > 0 {
				ev = ev.Dur("eta", time.Duration(float64(tp.estimate-rows)/r*float64(time.Second)).Round(time.Second))
			}
		}
		ev.Msg("copying table")
	}
}

// rate is rows per second, rounded to a whole number.
func rate(rows int64, took time.Duration) float64 {
	if took <= 0 {
		return 0
	}
	return math.Round(float64(rows) / took.Seconds())
}
