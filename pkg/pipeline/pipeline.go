// Package pipeline wires a source to a sink: it copies the initial snapshot,
// streams transactions in batches (applying a large running transaction in
// parts), and after the target commits, checkpoints and acks the source up
// to what the target has durably. Never ack what is not durable.
package pipeline

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/sync/errgroup"

	"github.com/sluicecdc/sluice/checkpoint"
	"github.com/sluicecdc/sluice/pkg/change"
)

// Options tune a Pipeline.
type Options struct {
	Name            string
	SourceKind      string
	Snapshot        bool // copy existing rows first when there is no checkpoint
	Resnapshot      bool // ignore the checkpoint and copy everything again
	SnapshotWorkers int
	BatchRows       int           // flush after this many changes
	BatchBytes      int64         // ... or this many bytes
	BatchWait       time.Duration // ... or when the oldest unflushed change is this old
	Log             zerolog.Logger
	// Observer is told what happens, for metrics and status (nil: nobody).
	Observer Observer
	// ProgressEvery is how often the snapshot logs each unfinished table's
	// progress (default 10s; negative: never, e.g. when a progress bar shows it).
	ProgressEvery time.Duration
}

// Pipeline runs one source into one sink.
type Pipeline struct {
	src   Source
	sink  Sink
	store checkpoint.Store
	opts  Options
	obs   Observer
}

// New makes a pipeline; Run starts it.
func New(src Source, sink Sink, store checkpoint.Store, opts Options) *Pipeline {
	if opts.BatchRows <= 0 {
		opts.BatchRows = 50000
	}
	if opts.BatchBytes <= 0 {
		opts.BatchBytes = 64 << 20
	}
	if opts.BatchWait <= 0 {
		opts.BatchWait = 500 * time.Millisecond
	}
	if opts.SnapshotWorkers <= 0 {
		opts.SnapshotWorkers = 4
	}
	if opts.ProgressEvery == 0 {
		opts.ProgressEvery = 10 * time.Second
	}
	obs := opts.Observer
	if obs == nil {
		obs = nopObserver{}
	}
	return &Pipeline{src: src, sink: sink, store: store, opts: opts, obs: obs}
}

// Run replicates until ctx ends (then it flushes what it has, checkpoints
// and returns nil) or until an error stops it.
func (p *Pipeline) Run(ctx context.Context) error {
	p.obs.State(StateStarting, nil)
	err := p.run(ctx)
	if err != nil {
		p.obs.State(StateFailed, err)
		return err
	}
	p.obs.State(StateStopped, nil)
	return nil
}

// report tells the observer about a failure of the given kind (not about
// the end of ctx at shutdown) and returns err.
func (p *Pipeline) report(ctx context.Context, kind string, err error) error {
	if err != nil && ctx.Err() == nil {
		p.obs.Error(kind, err)
	}
	return err
}

func (p *Pipeline) run(ctx context.Context) error {
	cp, err := p.store.Load(ctx)
	fresh := errors.Is(err, checkpoint.ErrNotFound)
	if err != nil && !fresh {
		return p.report(ctx, "checkpoint", err)
	}
	if !fresh && cp.Source != "" && cp.Source != p.opts.SourceKind {
		return fmt.Errorf("the checkpoint belongs to a %s source, but source.kind is %s; use another checkpoint.path", cp.Source, p.opts.SourceKind)
	}
	var from change.Position
	switch {
	case p.opts.Resnapshot || fresh || cp.Phase == checkpoint.PhaseSnapshot:
		if p.opts.Snapshot || p.opts.Resnapshot {
			if !fresh && cp.Phase == checkpoint.PhaseSnapshot {
				p.opts.Log.Warn().Msg("the previous snapshot did not finish; starting it over")
			}
			p.obs.State(StateSnapshot, nil)
			if from, err = p.snapshot(ctx); err != nil {
				return p.report(ctx, "snapshot", err)
			}
		}
	default:
		if from, err = p.src.ParsePosition(cp.Position); err != nil {
			return p.report(ctx, "checkpoint", fmt.Errorf("checkpoint: %w", err))
		}
	}
	applied, err := p.appliedPosition(ctx)
	if err != nil {
		return p.report(ctx, "apply", err)
	}
	// The target may be ahead of the checkpoint file (it is rewritten at
	// most once a second): then read on from the target's position, so the
	// server skips what the target holds.
	if applied != nil && (from == nil || applied.Compare(from) > 0) {
		from = applied
	}
	if _, ok := p.sink.(PartSink); ok {
		if ps, ok := p.src.(PartSource); ok {
			ps.DeliverParts()
		}
	}
	if err := p.src.Start(ctx, from); err != nil {
		return p.report(ctx, "source", err)
	}
	p.obs.State(StateStreaming, nil)
	return p.stream(ctx, applied)
}

// appliedPosition asks a sink that keeps its position which transactions
// the target already holds, so replays skip them.
func (p *Pipeline) appliedPosition(ctx context.Context) (change.Position, error) {
	pk, ok := p.sink.(PositionKeeper)
	if !ok {
		return nil, nil
	}
	s, err := pk.AppliedPosition(ctx)
	if err != nil || s == "" {
		return nil, err
	}
	pos, err := p.src.ParsePosition(s)
	if err != nil {
		return nil, fmt.Errorf("applied position stored in the target: %w", err)
	}
	return pos, nil
}

// stream applies transactions in batches until ctx ends or an error occurs.
func (p *Pipeline) stream(ctx context.Context, applied change.Position) error {
	rctx, stopReader := context.WithCancel(ctx)
	defer stopReader()
	g, gctx := errgroup.WithContext(rctx)
	// Buffered, so the batch loop can tell when nothing is waiting.
	txns := make(chan read, 64)
	_, observed := p.obs.(nopObserver)
	observed = !observed
	g.Go(func() error {
		for {
			txn, err := p.src.Next(gctx)
			if err != nil {
				return p.report(gctx, "source", err)
			}
			r := read{txn: txn}
			if observed { // counted here, beside the batch loop rather than in it
				if r.counts, err = countChanges(txn); err != nil {
					txn.Close()
					return p.report(gctx, "source", fmt.Errorf("count changes: %w", err))
				}
				info := ReadInfo{Counts: r.counts}
				if txn.Part == change.Whole || txn.Part == change.Done {
					info.Position, info.Commit = txn.Position, txn.Commit
				}
				p.obs.Read(info)
			}
			select {
			case txns <- r:
			case <-gctx.Done():
				txn.Close()
				return gctx.Err()
			}
		}
	})
	_, keeper := p.sink.(PositionKeeper)
	b := &batch{p: p, keeper: keeper, applied: applied}
	err := b.loop(gctx, txns)
	stopReader()
	if ctx.Err() != nil { // shutdown: make what was applied durable
		p.obs.State(StateStopping, nil)
		fctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if ferr := b.abandonOpen(fctx); ferr != nil {
			return fmt.Errorf("flush at shutdown: %w", ferr)
		}
		if ferr := b.flush(fctx); ferr != nil {
			return fmt.Errorf("flush at shutdown: %w", ferr)
		}
		if ferr := b.settle(fctx, true); ferr != nil {
			return fmt.Errorf("flush at shutdown: %w", ferr)
		}
		if ferr := b.save(fctx); ferr != nil {
			return fmt.Errorf("flush at shutdown: %w", ferr)
		}
		p.opts.Log.Info().Msg("stopped; everything applied is checkpointed")
		_ = g.Wait()
		return nil
	}
	gerr := g.Wait()
	if errors.Is(err, context.Canceled) && gerr != nil && !errors.Is(gerr, context.Canceled) {
		return gerr // the source failed: that is the cause
	}
	return err
}

// checkpointEvery is how often the checkpoint file is rewritten when the
// sink keeps the applied position in the target itself.
const checkpointEvery = time.Second

// durablePoll is how often an idle pipeline asks whether the target's disk
// caught up with its commits.
const durablePoll = 100 * time.Millisecond

// read is a transaction from the source with its changes counted (when
// someone observes the pipeline).
type read struct {
	txn    *change.Txn
	counts []Count
}

// batch groups transactions into one target transaction.
type batch struct {
	p       *Pipeline
	applied change.Position // what the target held at start: replays up to it are skipped
	open    string          // the running transaction whose parts are being applied
	held    []read          // whole transactions waiting for it to end
	// The running transaction's changes by subtransaction, so that a
	// rolled-back one is not counted as applied: a Savepoint part starts
	// a new segment, RollbackSub cuts from its segment on.
	openCounts []countSeg
	keeper     bool            // the sink stores the applied position with the data
	acked      change.Position // last position acked to the source
	saved      time.Time
	unsaved    change.Position // flushed but not yet in the checkpoint file
	rows       int
	bytes      int64
	txns       int
	first      time.Time
	last       change.Position // last position applied (or skipped), not yet flushed
	commit     time.Time       // source commit time of last
	counts     []Count         // changes applied in the batch
	flushed    change.Position // last position committed in the target
}

// countSeg counts the changes of one subtransaction (sub "" = the top level
// or after its subtransactions ended) of the running transaction.
type countSeg struct {
	sub    string
	counts []Count
}

func (b *batch) loop(ctx context.Context, txns <-chan read) error {
	opts := b.p.opts
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-timer.C:
			if b.open != "" { // half a transaction must never commit
				timer.Reset(opts.BatchWait)
				continue
			}
			if err := b.flush(ctx); err != nil {
				return err
			}
			if b.behind() { // the target's disk has not caught up yet
				timer.Reset(durablePoll)
				continue
			}
			if err := b.save(ctx); err != nil { // idle: bring the file up to date
				return err
			}
			timer.Reset(time.Hour)
		case r := <-txns:
			if err := b.take(ctx, r); err != nil {
				return err
			}
			if b.open != "" || b.last == nil {
				continue
			}
			// Group commit: flush when nothing else is waiting (the next
			// batch collects what arrives meanwhile), when a limit is
			// reached, or when the oldest change has waited long enough.
			if len(txns) == 0 || b.rows >= opts.BatchRows || b.bytes >= opts.BatchBytes {
				if err := b.flush(ctx); err != nil {
					return err
				}
				timer.Reset(durablePoll) // then settle and save if nothing else comes
				continue
			}
			timer.Reset(time.Until(b.first.Add(opts.BatchWait)))
		}
	}
}

// partMark names the savepoint before a running transaction's changes.
const partMark = "sluice_part"

// take applies a whole transaction, or one part of a running one. While a
// running transaction is applied, whole ones that commit meanwhile are held
// and applied after it ends: the source's row locks guarantee they touch
// other rows, so the order between them does not change the result.
func (b *batch) take(ctx context.Context, r read) error {
	txn := r.txn
	if txn.Part == change.Whole {
		if b.open != "" {
			txn.Hold() // the source must go on to deliver the running one
			b.held = append(b.held, r)
			return nil
		}
		return b.applyWhole(ctx, r)
	}
	defer txn.Close()
	ps, ok := b.p.sink.(PartSink)
	if !ok {
		return b.p.report(ctx, "apply", fmt.Errorf("the source sent part of a running transaction, but the sink cannot apply parts"))
	}
	var err error
	switch txn.Part {
	case change.Open:
		if b.open == "" {
			if err := ps.Savepoint(ctx, partMark); err != nil {
				return err
			}
			b.open = txn.ID
			b.openCounts = []countSeg{{}}
		}
		if err = b.p.sink.Apply(ctx, txn); err == nil {
			b.rows += txn.Len()
			b.bytes += txn.Size()
			b.touch()
			seg := &b.openCounts[len(b.openCounts)-1]
			seg.counts = addCounts(seg.counts, r.counts)
		}
	case change.Savepoint:
		if err = ps.Savepoint(ctx, "sluice_sub_"+txn.Sub); err == nil {
			b.openCounts = append(b.openCounts, countSeg{sub: txn.Sub})
		}
	case change.RollbackSub:
		if err = ps.RollbackTo(ctx, "sluice_sub_"+txn.Sub); err == nil {
			for i, seg := range b.openCounts {
				if i > 0 && seg.sub == txn.Sub {
					b.openCounts = b.openCounts[:i]
					b.openCounts = append(b.openCounts, countSeg{}) // back in its parent
					break
				}
			}
		}
	case change.Abort:
		if b.open != "" {
			err = ps.RollbackTo(ctx, partMark)
		}
		b.open, b.openCounts = "", nil
		if err == nil {
			err = b.applyHeld(ctx)
		}
	case change.Done:
		for _, seg := range b.openCounts {
			b.counts = addCounts(b.counts, seg.counts)
		}
		b.open, b.openCounts = "", nil
		if err = b.applyHeld(ctx); err == nil {
			err = b.applyWhole(ctx, r) // no changes: records the commit position
		}
	}
	if err != nil {
		return b.p.report(ctx, "apply", fmt.Errorf("apply running transaction %s: %w", txn.ID, err))
	}
	return nil
}

func (b *batch) applyHeld(ctx context.Context) error {
	held := b.held
	b.held = nil
	for i, r := range held {
		if err := b.applyWhole(ctx, r); err != nil {
			for _, rest := range held[i+1:] {
				rest.txn.Close()
			}
			return err
		}
	}
	return nil
}

// applyWhole applies a committed transaction unless the target has it.
func (b *batch) applyWhole(ctx context.Context, r read) error {
	txn := r.txn
	defer txn.Close()
	if b.applied != nil && txn.Position.Compare(b.applied) <= 0 {
		// The target holds it already (replay after a crash).
		b.p.opts.Log.Debug().Stringer("position", txn.Position).Msg("skipping transaction the target already holds")
	} else {
		if err := b.p.sink.Apply(ctx, txn); err != nil {
			return b.p.report(ctx, "apply", fmt.Errorf("apply transaction %s at %s: %w", txn.ID, txn.Position, err))
		}
		b.rows += txn.Len()
		b.bytes += txn.Size()
		b.counts = addCounts(b.counts, r.counts)
	}
	b.txns++
	b.last, b.commit = txn.Position, txn.Commit
	b.touch()
	return nil
}

func (b *batch) touch() {
	if b.first.IsZero() {
		b.first = time.Now()
	}
}

// abandonOpen drops the parts of a running transaction and the transactions
// held behind it (at shutdown): they are read again after the restart.
func (b *batch) abandonOpen(ctx context.Context) error {
	for _, r := range b.held {
		r.txn.Close()
	}
	b.held = nil
	if b.open == "" {
		return nil
	}
	b.open, b.openCounts = "", nil
	return b.p.sink.(PartSink).RollbackTo(ctx, partMark)
}

// flush commits the batch in the target, then checkpoints and acks what is
// durable there — in that order, always.
func (b *batch) flush(ctx context.Context) error {
	if b.last != nil {
		start := time.Now()
		if err := b.p.sink.Flush(ctx); err != nil {
			return b.p.report(ctx, "flush", fmt.Errorf("flush to target: %w", err))
		}
		took := time.Since(start)
		b.p.opts.Log.Debug().Int("txns", b.txns).Int("changes", b.rows).Int64("bytes", b.bytes).Stringer("position", b.last).
			Dur("flush", took).Msg("batch flushed")
		b.p.obs.Flushed(FlushInfo{Txns: b.txns, Changes: b.rows, Bytes: b.bytes, Took: took,
			Counts: b.counts, Position: b.last, Commit: b.commit})
		b.flushed, b.last = b.last, nil
		b.rows, b.bytes, b.txns, b.first, b.counts = 0, 0, 0, time.Time{}, nil
	}
	return b.settle(ctx, false)
}

// settle checkpoints and acks the newest position durable in the target.
// When the sink keeps the applied position in the target, in the same
// transaction as the data, the target is itself a durable checkpoint: the
// source may be acked at once, and the file (which only says where reading
// restarts; replays up to the target's position are skipped) is rewritten
// at most once a second. With wait, it waits for the target's disk.
func (b *batch) settle(ctx context.Context, wait bool) error {
	pos := b.flushed
	if d, ok := b.p.sink.(Durability); ok {
		var err error
		if pos, err = d.Durable(ctx, wait); err != nil {
			return b.p.report(ctx, "flush", fmt.Errorf("flush to target: %w", err))
		}
	}
	if pos == nil || (b.acked != nil && pos.Compare(b.acked) <= 0) {
		return nil
	}
	b.unsaved = pos
	if !b.keeper || wait || time.Since(b.saved) >= checkpointEvery {
		if err := b.save(ctx); err != nil {
			return err
		}
	}
	if err := b.p.src.Ack(ctx, pos); err != nil {
		return b.p.report(ctx, "ack", fmt.Errorf("ack source: %w", err))
	}
	b.acked = pos
	b.p.obs.Acked(pos, b.unsaved == nil)
	return nil
}

// behind tells whether flushed changes still wait to become durable.
func (b *batch) behind() bool {
	return b.flushed != nil && (b.acked == nil || b.flushed.Compare(b.acked) > 0)
}

// save writes the last flushed position to the checkpoint file.
func (b *batch) save(ctx context.Context) error {
	if b.unsaved == nil {
		return nil
	}
	cp := checkpoint.Checkpoint{Pipeline: b.p.opts.Name, Source: b.p.opts.SourceKind, Phase: checkpoint.PhaseStreaming, Position: b.unsaved.String()}
	if err := b.p.store.Save(ctx, cp); err != nil {
		return b.p.report(ctx, "checkpoint", fmt.Errorf("save checkpoint: %w", err))
	}
	if b.acked != nil && b.unsaved.Compare(b.acked) <= 0 { // saved later than acked (idle)
		b.p.obs.Acked(b.acked, true)
	}
	b.unsaved, b.saved = nil, time.Now()
	return nil
}
