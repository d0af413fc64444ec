package pipeline

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/sluicecdc/sluice/checkpoint"
	"github.com/sluicecdc/sluice/pkg/change"
)

// ErrNotStreaming says an online back-fill was asked for while the
// pipeline does not stream (starting, copying its initial snapshot,
// retrying after a failure).
var ErrNotStreaming = errors.New("the pipeline is not streaming")

// BackfillObserver is an Observer that wants to hear of online back-fills.
type BackfillObserver interface {
	Backfill(b BackfillProgress)
}

// BackfillProgress is the state of one table's online back-fill.
type BackfillProgress struct {
	Table string
	Where string
	Rows  int64  // rows applied so far
	Done  bool   // finished (or given up, with Err)
	Err   string // why it was given up
}

// backfillRequest asks the batch loop to record and start back-fills;
// done (if not nil) hears when they are in the checkpoint.
type backfillRequest struct {
	tasks []checkpoint.Backfill
	done  chan error
}

// backfills is the state of the online back-fills: those queued or
// running, each with its progress as last applied in the target.
type backfills struct {
	mu    sync.Mutex
	tasks []checkpoint.Backfill
	reqs  chan backfillRequest // requests for the batch loop
	live  bool                 // the batch loop takes requests
}

func (b *backfills) list() []checkpoint.Backfill {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.tasks)
}

// set replaces (or adds) the task of t.Table; done removes it.
func (b *backfills) set(t checkpoint.Backfill, done bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	i := slices.IndexFunc(b.tasks, func(x checkpoint.Backfill) bool { return x.Table == t.Table })
	switch {
	case done && i >= 0:
		b.tasks = slices.Delete(b.tasks, i, i+1)
	case done:
	case i >= 0:
		b.tasks[i] = t
	default:
		b.tasks = append(b.tasks, t)
	}
}

// RequestBackfill asks the running pipeline to copy tables again while it
// streams (online back-fill), optionally only the rows matching where (a
// source SQL condition). It checks the request, queues it and returns; the
// copy's progress is checkpointed, so it survives restarts.
func (p *Pipeline) RequestBackfill(ctx context.Context, tables []string, where string) error {
	if _, ok := p.src.(Backfiller); !ok {
		return errNoBackfill(p.opts.SourceKind)
	}
	if len(tables) == 0 {
		return errors.New("name at least one table to back-fill (--table schema.table)")
	}
	var reqs []checkpoint.Backfill
	for _, t := range tables {
		r, err := p.checkBackfill(ctx, t, where, time.Now().UTC().Format("20060102T150405.000000"))
		if err != nil {
			return err
		}
		reqs = append(reqs, r)
	}
	return p.sendBackfills(ctx, backfillRequest{tasks: reqs})
}

func errNoBackfill(kind string) error {
	return fmt.Errorf("the %s source cannot back-fill tables while it streams; use `sluice run --resnapshot` to copy every table again", kind)
}

// sendBackfills hands a request to the batch loop.
func (p *Pipeline) sendBackfills(ctx context.Context, r backfillRequest) error {
	p.bf.mu.Lock()
	live := p.bf.live
	p.bf.mu.Unlock()
	if !live {
		return fmt.Errorf("%w yet (it is starting, copying its initial snapshot or retrying); ask again once `sluice status` says streaming", ErrNotStreaming)
	}
	select {
	case p.bf.reqs <- r:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// requestSaved is the request function a TableWatcher gets: it returns
// once the back-fills are in the checkpoint.
func (p *Pipeline) requestSaved(ctx context.Context, tasks []checkpoint.Backfill) error {
	id := time.Now().UTC().Format("20060102T150405.000000")
	for i := range tasks {
		if tasks[i].ID == "" {
			tasks[i].ID = id
		}
	}
	r := backfillRequest{tasks: tasks, done: make(chan error, 1)}
	if err := p.sendBackfills(ctx, r); err != nil {
		return err
	}
	select {
	case err := <-r.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// takeBackfillRequest records new back-fills in the checkpoint and hands
// them to the source.
func (b *batch) takeBackfillRequest(ctx context.Context, req backfillRequest) error {
	err := b.recordBackfills(ctx, req.tasks)
	if req.done != nil {
		req.done <- err
	}
	return err
}

func (b *batch) recordBackfills(ctx context.Context, reqs []checkpoint.Backfill) error {
	for _, r := range reqs {
		b.p.bf.set(r, false)
		b.p.opts.Log.Info().Str("table", r.Table).Str("where", r.Where).Msg("back-fill requested")
		b.p.observeBackfill(BackfillProgress{Table: r.Table, Where: r.Where})
	}
	if err := b.saveBackfills(ctx); err != nil {
		return err
	}
	b.p.src.(Backfiller).Backfill(reqs)
	return nil
}

// noteBackfill records the progress a back-fill chunk brings, once applied.
func (b *batch) noteBackfill(bf *change.Backfill) {
	t := checkpoint.Backfill{Table: bf.Source.String(), Where: bf.Where, After: bf.After, Rows: bf.Rows, ID: bf.ID}
	b.p.bf.set(t, bf.Done)
	b.bfDirty = true
	b.p.observeBackfill(BackfillProgress{Table: t.Table, Where: t.Where, Rows: t.Rows, Done: bf.Done, Err: bf.Err})
	switch {
	case bf.Err != "":
		b.p.opts.Log.Error().Str("table", t.Table).Int64("rows", t.Rows).Str("error", bf.Err).Msg("back-fill given up")
	case bf.Done:
		b.p.opts.Log.Info().Str("table", t.Table).Int64("rows", t.Rows).Msg("table back-filled")
	default:
		b.p.opts.Log.Debug().Str("table", t.Table).Int64("rows", t.Rows).Strs("after", t.After).Msg("back-fill chunk applied")
	}
}

// saveBackfills writes the back-fills' progress with the last position
// durable in the target: call only when everything flushed is durable.
func (b *batch) saveBackfills(ctx context.Context) error {
	pos := b.flushed
	if pos == nil {
		pos = b.base
	}
	if pos == nil {
		return nil // nothing streamed yet: saved with the first batch
	}
	b.unsaved = pos
	return b.save(ctx)
}

func (p *Pipeline) observeBackfill(bp BackfillProgress) {
	if o, ok := p.obs.(BackfillObserver); ok {
		o.Backfill(bp)
	}
}

// resumeBackfills hands the back-fills the checkpoint lists to the source.
func (p *Pipeline) resumeBackfills() error {
	tasks := p.bf.list()
	if len(tasks) == 0 {
		return nil
	}
	bf, ok := p.src.(Backfiller)
	if !ok {
		return fmt.Errorf("the checkpoint lists unfinished back-fills, but the %s source cannot back-fill", p.opts.SourceKind)
	}
	for _, t := range tasks {
		p.opts.Log.Info().Str("table", t.Table).Int64("rows", t.Rows).Strs("after", t.After).Msg("resuming back-fill")
		p.observeBackfill(BackfillProgress{Table: t.Table, Where: t.Where, Rows: t.Rows})
	}
	bf.Backfill(tasks)
	return nil
}
