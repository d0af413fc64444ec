// Package pipeline wires a source to a sink: it copies the initial snapshot,
// streams transactions in batches (applying a large running transaction in
// parts), and after the target commits, checkpoints and acks the source up
// to what the target has durably. Never ack what is not durable.
package pipeline

import (
	"context"
	"errors"
	"fmt"
	"slices"
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
	bf    *backfills
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
	return &Pipeline{src: src, sink: sink, store: store, opts: opts, obs: obs, bf: &backfills{reqs: make(chan backfillRequest)}}
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
	if !fresh && !p.opts.Resnapshot {
		p.bf.tasks = slices.Clone(cp.Backfills)
	}
	var from change.Position
	switch {
	case p.opts.Resnapshot || fresh || cp.Phase == checkpoint.PhaseSnapshot:
		if !fresh && cp.Phase == checkpoint.PhaseSnapshot && !p.opts.Snapshot && !p.opts.Resnapshot {
			return p.report(ctx, "checkpoint", fmt.Errorf("%w: the checkpoint says the initial snapshot did not finish, so the target "+
				"holds part of a copy, but source.snapshot is never; run `sluice run --resnapshot` (or set source.snapshot: initial) "+
				"to copy every table again", ErrHalfSnapshot))
		}
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
	if from, err = p.resumeFrom(from, applied); err != nil {
		return p.report(ctx, "checkpoint", err)
	}
	if _, ok := p.sink.(PartSink); ok {
		if ps, ok := p.src.(PartSource); ok {
			ps.DeliverParts()
		}
	}
	if w, ok := p.src.(TableWatcher); ok {
		w.WatchTables(p.requestSaved)
	}
	if err := p.src.Start(ctx, from); err != nil {
		return p.report(ctx, "source", err)
	}
	if err := p.resumeBackfills(); err != nil {
		return p.report(ctx, "checkpoint", err)
	}
	p.obs.State(StateStreaming, nil)
	base := from
	if applied != nil {
		base = applied
	}
	return p.stream(ctx, applied, base)
}

// readAhead is how many whole transactions the reader may decode ahead of
// the batch loop.
const readAhead = 4096

// ErrHalfSnapshot says the target holds an unfinished initial copy.
var ErrHalfSnapshot = errors.New("unfinished snapshot")

// ErrTargetBehind says the target lost commits that the checkpoint says it
// had: reading on from the checkpoint would skip them.
var ErrTargetBehind = errors.New("target lost commits")

// resumeFrom decides where reading restarts. A sink that keeps its applied
// position in the target, atomically with the data, is the truth: the
// checkpoint file is rewritten at most once a second and may lag behind it,
// and if the file is ahead, the target lost commits (restored from a backup,
// failed over to an asynchronous standby, a MySQL target with
// innodb_flush_log_at_trx_commit=2 after a crash), which must be read again.
// The source then refuses to start if it can no longer deliver them.
func (p *Pipeline) resumeFrom(checkpointed, applied change.Position) (change.Position, error) {
	if _, keeper := p.sink.(PositionKeeper); !keeper {
		return checkpointed, nil
	}
	switch {
	case applied == nil && checkpointed != nil:
		return nil, fmt.Errorf("%w: the target holds no applied position for pipeline %s, but the checkpoint file says "+
			"it applied everything up to %s: the target was replaced, emptied or restored from a backup taken before "+
			"Sluice first wrote to it; run `sluice run --resnapshot` to copy every table again", ErrTargetBehind, p.opts.Name, checkpointed)
	case applied != nil && checkpointed != nil && checkpointed.Compare(applied) > 0:
		p.opts.Log.Warn().Stringer("target", applied).Stringer("checkpoint", checkpointed).
			Msg("the target is behind the checkpoint file: it lost commits (restored from a backup, failed over, or crashed " +
				"without flushing); reading them again from the target's position")
	}
	return applied, nil
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
func (p *Pipeline) stream(ctx context.Context, applied, base change.Position) error {
	rctx, stopReader := context.WithCancel(ctx)
	defer stopReader()
	g, gctx := errgroup.WithContext(rctx)
	// Buffered, so the batch loop can tell when nothing is waiting, and
	// deep, so the reader goes on decoding while a batch is flushed: the
	// next batch then holds everything that arrived meanwhile (group
	// commit), which matters for sinks whose commit costs milliseconds (a
	// Kafka transaction). Memory stays bounded: the sources bound the
	// bytes of the transactions they have handed out and not yet closed.
	txns := make(chan read, readAhead)
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
	b := &batch{p: p, keeper: keeper, applied: applied, base: base}
	if l, ok := p.sink.(Lingerer); ok {
		b.linger = l.Linger()
	}
	defer b.inside.reset()
	p.bf.mu.Lock()
	p.bf.live = true
	p.bf.mu.Unlock()
	defer func() {
		p.bf.mu.Lock()
		p.bf.live = false
		p.bf.mu.Unlock()
	}()
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

// shutdownGrace is how long target work in flight may go on after the
// pipeline is told to stop.
const shutdownGrace = time.Minute

// afterGrace returns a context that ends grace after parent ends (or when
// cancel is called), so work begun under parent can finish.
func afterGrace(parent context.Context, grace time.Duration) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(context.WithoutCancel(parent))
	stop := context.AfterFunc(parent, func() { time.AfterFunc(grace, cancel) })
	return ctx, func() { stop(); cancel() }
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
	applied change.Position // what the target held at start: replays up to it are skipped (nil once past it)
	skipped int             // transactions skipped as replays
	open    string          // the running transaction whose parts are being applied
	inside  inside          // whole transactions applied inside it, kept for a re-apply after a rollback
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
	linger     time.Duration   // the sink's Linger (0: flush as soon as nothing is waiting)
	lingering  bool            // the timer runs for a linger, not for BatchWait or an idle save
	base       change.Position // where this run started reading
	bfDirty    bool            // back-fill progress applied but not yet saved
	signals    []change.Signal // back-fill requests of signal rows applied, not yet taken (see signals.go)
}

// countSeg counts the changes of one subtransaction (sub "" = the top level
// or after its subtransactions ended) of the running transaction.
type countSeg struct {
	sub    string
	counts []Count
}

// loop takes transactions until ctx ends. The target work it starts runs
// under a context that outlives ctx by shutdownGrace: a shutdown lets the
// statement in flight finish rather than cutting the target connection
// under it (a driver that saw its context canceled fails every later
// statement, and the shutdown flush would fail with it).
func (b *batch) loop(ctx context.Context, txns <-chan read) error {
	stop := ctx
	ctx, cancel := afterGrace(stop, shutdownGrace)
	defer cancel()
	opts := b.p.opts
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		select {
		case <-stop.Done():
			return stop.Err()
		case <-timer.C:
			if b.open != "" { // half a transaction must never commit
				timer.Reset(opts.BatchWait)
				continue
			}
			if b.lingering { // the linger is over: flush, then settle and save if nothing else comes
				b.lingering = false
				if err := b.flush(ctx); err != nil {
					return err
				}
				timer.Reset(durablePoll)
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
		case req := <-b.p.bf.reqs:
			if b.open != "" { // half a transaction is applied: record the request after it
				go func() {
					select {
					case b.p.bf.reqs <- req:
					case <-stop.Done():
						if req.done != nil {
							req.done <- stop.Err()
						}
					}
				}()
				continue
			}
			if err := b.flush(ctx); err != nil {
				return err
			}
			if err := b.settle(ctx, true); err != nil {
				return err
			}
			if err := b.takeBackfillRequest(ctx, req); err != nil {
				return err
			}
		case r := <-txns:
			if err := b.take(ctx, r); err != nil {
				return err
			}
			if b.open != "" || b.last == nil {
				continue
			}
			if len(b.signals) > 0 {
				if err := b.takeSignals(ctx); err != nil {
					return err
				}
				timer.Reset(durablePoll)
				continue
			}
			// Group commit: flush when nothing else is waiting (the next
			// batch collects what arrives meanwhile), when a limit is
			// reached, or when the oldest change has waited long enough.
			full := b.rows >= opts.BatchRows || b.bytes >= opts.BatchBytes
			if len(txns) == 0 && !full && b.linger > 0 {
				// A sink whose commit is costly lingers a little for
				// what the reader is still decoding, so a steady flow
				// of small transactions makes a few large commits.
				if !b.lingering {
					b.lingering = true
					timer.Reset(min(b.linger, time.Until(b.first.Add(opts.BatchWait))))
				}
				continue
			}
			if len(txns) == 0 || full {
				b.lingering = false
				if err := b.flush(ctx); err != nil {
					return err
				}
				timer.Reset(durablePoll) // then settle and save if nothing else comes
				continue
			}
			if !b.lingering {
				timer.Reset(time.Until(b.first.Add(opts.BatchWait)))
			}
		}
	}
}

// take applies a whole transaction, or one part of a running one (see
// running.go).
func (b *batch) take(ctx context.Context, r read) error {
	switch {
	case r.txn.Part != change.Whole:
		return b.takePart(ctx, r)
	case b.open != "":
		return b.takeInside(ctx, r)
	}
	defer r.txn.Close()
	return b.applyWhole(ctx, r)
}

// applyWhole applies a committed transaction unless the target has it.
func (b *batch) applyWhole(ctx context.Context, r read) error {
	txn := r.txn
	if txn.Backfill != nil || !b.replayed(txn) {
		if err := b.p.sink.Apply(ctx, txn); err != nil {
			return b.p.report(ctx, "apply", fmt.Errorf("apply transaction %s at %s: %w", txn.ID, txn.Position, err))
		}
		b.rows += txn.Len()
		b.bytes += txn.Size()
		b.counts = addCounts(b.counts, r.counts)
	}
	if txn.Backfill != nil {
		b.noteBackfill(txn.Backfill)
	}
	b.signals = append(b.signals, txn.Signals...) // even when replayed: the checkpoint may not have them (see signals.go)
	b.txns++
	b.last = txn.Position
	if !txn.Commit.IsZero() { // a position-only transaction (an idle source's log end) has none
		b.commit = txn.Commit
	}
	b.touch()
	return nil
}

// replayed tells whether the target holds txn already: a transaction read
// again after a restart. Only those right after the start can be: the log
// is read in order, so once one transaction is new to the target, every
// later one is too, and skipping ends for the rest of the run. A source
// whose positions go backwards later (a reset or replaced log) is thus never
// skipped silently.
func (b *batch) replayed(txn *change.Txn) bool {
	if b.applied == nil {
		return false
	}
	if txn.Position.Compare(b.applied) <= 0 {
		b.skipped++
		return true
	}
	if b.skipped > 0 {
		b.p.opts.Log.Info().Int("transactions", b.skipped).Stringer("applied", b.applied).
			Msg("skipped transactions read again that the target already holds")
	}
	b.applied = nil
	return false
}

func (b *batch) touch() {
	if b.first.IsZero() {
		b.first = time.Now()
	}
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
	if b.bfDirty { // a back-fill's progress is checkpointed once its chunk is durable
		if err := b.settle(ctx, true); err != nil {
			return err
		}
		b.bfDirty = false
		return b.saveBackfills(ctx)
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
	cp := checkpoint.Checkpoint{Pipeline: b.p.opts.Name, Source: b.p.opts.SourceKind, Phase: checkpoint.PhaseStreaming,
		Position: b.unsaved.String(), Backfills: b.p.bf.list()}
	if err := b.p.store.Save(ctx, cp); err != nil {
		return b.p.report(ctx, "checkpoint", fmt.Errorf("save checkpoint: %w", err))
	}
	if b.acked != nil && b.unsaved.Compare(b.acked) <= 0 { // saved later than acked (idle)
		b.p.obs.Acked(b.acked, true)
	}
	b.unsaved, b.saved = nil, time.Now()
	return nil
}
