package pipeline

import (
	"context"
	"fmt"
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
	prog := newProgress(p, chunks)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(p.opts.SnapshotWorkers)
	for _, c := range chunks {
		g.Go(func() error {
			var n int64
			err := loader.Load(gctx, c.Table, func(yield func(change.Row) error) error {
				return snap.Read(gctx, c, func(r change.Row) error {
					n++
					return yield(r)
				})
			})
			if err != nil {
				return err
			}
			prog.done(c, n)
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, fmt.Errorf("snapshot: %w", err)
	}
	pos := snap.Position()
	if err := snap.Close(); err != nil {
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

// progress logs each table as its last chunk is copied.
type progress struct {
	p     *Pipeline
	mu    sync.Mutex
	left  map[*change.Table]int
	rows  map[*change.Table]int64
	total atomic.Int64
}

func newProgress(p *Pipeline, chunks []Chunk) *progress {
	pr := &progress{p: p, left: map[*change.Table]int{}, rows: map[*change.Table]int64{}}
	for _, c := range chunks {
		pr.left[c.Table]++
	}
	return pr
}

func (pr *progress) done(c Chunk, n int64) {
	pr.total.Add(n)
	pr.mu.Lock()
	defer pr.mu.Unlock()
	pr.rows[c.Table] += n
	pr.left[c.Table]--
	if pr.left[c.Table] == 0 {
		pr.p.opts.Log.Info().Stringer("table", c.Table.ID).Int64("rows", pr.rows[c.Table]).Msg("table copied")
	}
}
