package pipeline

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/sluicecdc/sluice/checkpoint"
	"github.com/sluicecdc/sluice/pkg/change"
)

type pos int

func (p pos) String() string { return fmt.Sprint(int(p)) }
func (p pos) Compare(o change.Position) int {
	q := o.(pos)
	switch {
	case p < q:
		return -1
	case p > q:
		return 1
	}
	return 0
}

// events records what happened, in order, across the fakes.
type events struct {
	mu  sync.Mutex
	log []string
}

func (e *events) add(format string, args ...any) {
	e.mu.Lock()
	e.log = append(e.log, fmt.Sprintf(format, args...))
	e.mu.Unlock()
}

func (e *events) String() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return strings.Join(e.log, " ")
}

type fakeSource struct {
	ev    *events
	txns  chan *change.Txn
	start func(from change.Position) error
}

func (s *fakeSource) Start(_ context.Context, from change.Position) error {
	s.ev.add("start(%v)", from)
	if s.start != nil {
		return s.start(from)
	}
	return nil
}
func (s *fakeSource) Next(ctx context.Context) (*change.Txn, error) {
	select {
	case t := <-s.txns:
		return t, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}
func (s *fakeSource) Ack(_ context.Context, p change.Position) error {
	s.ev.add("ack(%v)", p)
	return nil
}
func (s *fakeSource) ParsePosition(v string) (change.Position, error) {
	var p int
	_, err := fmt.Sscan(v, &p)
	return pos(p), err
}
func (s *fakeSource) Close() error { return nil }

// fakeSink records what it is asked to do; like the SQL sinks, it keeps
// the position of the last transaction applied, with the data, at Flush.
type fakeSink struct {
	ev      *events
	applied string
	last    string
	flush   func() error
}

func (s *fakeSink) Apply(_ context.Context, t *change.Txn) error {
	s.ev.add("apply(%v)", t.Position)
	if t.Position != nil {
		s.last = t.Position.String()
	}
	return nil
}
func (s *fakeSink) Flush(context.Context) error {
	if s.flush != nil {
		if err := s.flush(); err != nil {
			s.ev.add("flush-failed")
			return err
		}
	}
	s.ev.add("flush")
	s.applied = s.last
	return nil
}
func (s *fakeSink) Close() error                                    { return nil }
func (s *fakeSink) AppliedPosition(context.Context) (string, error) { return s.applied, nil }

type fakeStore struct {
	ev *events
	cp *checkpoint.Checkpoint
}

func (s *fakeStore) Load(context.Context) (checkpoint.Checkpoint, error) {
	if s.cp == nil {
		return checkpoint.Checkpoint{}, checkpoint.ErrNotFound
	}
	return *s.cp, nil
}
func (s *fakeStore) Save(_ context.Context, cp checkpoint.Checkpoint) error {
	s.ev.add("save(%s,%s)", cp.Phase, cp.Position)
	s.cp = &cp
	return nil
}

func txn(p int) *change.Txn {
	t := change.NewTxn("", 0)
	t.Position = pos(p)
	tbl := &change.Table{ID: change.TableID{Schema: "s", Name: "t"}, Columns: []change.Column{{Name: "id"}}}
	t.Add(change.Change{Op: change.Insert, Table: tbl, After: change.Row{change.Text(fmt.Sprint(p))}})
	return t
}

// setup makes the fakes; a streaming checkpoint's position is in the
// target too, as after a clean stop.
func setup(cp *checkpoint.Checkpoint) (*events, *fakeSource, *fakeSink, *fakeStore) {
	ev := &events{}
	sink := &fakeSink{ev: ev}
	if cp != nil && cp.Phase == checkpoint.PhaseStreaming {
		sink.applied = cp.Position
	}
	return ev, &fakeSource{ev: ev, txns: make(chan *change.Txn, 10)}, sink, &fakeStore{ev: ev, cp: cp}
}

func streaming(p string) *checkpoint.Checkpoint {
	return &checkpoint.Checkpoint{Phase: checkpoint.PhaseStreaming, Position: p, Source: "fake"}
}

// runUntil runs the pipeline until cond holds on the event log, then stops it.
func runUntil(t *testing.T, p *Pipeline, ev *events, cond string) error {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(ev.String(), cond) {
		select {
		case err := <-done:
			cancel()
			return err
		default:
		}
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("timed out waiting for %q; events: %s", cond, ev)
		}
		time.Sleep(time.Millisecond)
	}
	cancel()
	return <-done
}

var quiet = Options{Name: "p", SourceKind: "fake", Log: zerolog.Nop(), BatchWait: 20 * time.Millisecond}

// The durability order is apply → flush → save → ack, always.
func TestFlushThenSaveThenAck(t *testing.T) {
	ev, src, sink, store := setup(streaming("10"))
	src.txns <- txn(11)
	src.txns <- txn(12)
	if err := runUntil(t, New(src, sink, store, quiet), ev, "ack(12)"); err != nil {
		t.Fatal(err)
	}
	if got, want := ev.String(), "start(10) apply(11) apply(12) flush save(streaming,12) ack(12)"; !strings.HasPrefix(got, want) {
		t.Fatalf("events %q, want prefix %q", got, want)
	}
}

// Transactions the target already holds (stored in the target with the data)
// are skipped, not applied twice, should the source send them again; the
// source starts at the target's position, which is ahead of the file.
func TestSkipsWhatTheTargetHolds(t *testing.T) {
	ev, src, sink, store := setup(streaming("10"))
	sink.applied = "12"
	for _, p := range []int{11, 12, 13} {
		src.txns <- txn(p)
	}
	if err := runUntil(t, New(src, sink, store, quiet), ev, "ack(13)"); err != nil {
		t.Fatal(err)
	}
	if got := ev.String(); !strings.HasPrefix(got, "start(12)") || strings.Contains(got, "apply(11)") || strings.Contains(got, "apply(12)") || !strings.Contains(got, "apply(13)") {
		t.Fatalf("events %q: want a start at 12 and only 13 applied", got)
	}
}

// Skipping ends with the first transaction the target lacks: a position
// that later goes backwards (a reset or replaced source log) is applied,
// never skipped silently.
func TestSkippingEndsAfterReplay(t *testing.T) {
	ev, src, sink, store := setup(streaming("10"))
	sink.applied = "12"
	for _, p := range []int{11, 13, 2, 3} {
		src.txns <- txn(p)
	}
	if err := runUntil(t, New(src, sink, store, quiet), ev, "ack(3)"); err != nil {
		t.Fatal(err)
	}
	got := ev.String()
	if strings.Contains(got, "apply(11)") || !strings.Contains(got, "apply(13)") || !strings.Contains(got, "apply(2)") || !strings.Contains(got, "apply(3)") {
		t.Fatalf("events %q: want 11 skipped, 13, 2 and 3 applied", got)
	}
}

// The target's position wins over a checkpoint file ahead of it: the target
// lost commits (restored from a backup), and they must be read again.
func TestTargetBehindTheFile(t *testing.T) {
	ev, src, sink, store := setup(streaming("20"))
	sink.applied = "15"
	src.txns <- txn(16)
	if err := runUntil(t, New(src, sink, store, quiet), ev, "ack(16)"); err != nil {
		t.Fatal(err)
	}
	if got := ev.String(); !strings.HasPrefix(got, "start(15) apply(16)") {
		t.Fatalf("events %q: want a start at the target's position", got)
	}
}

// A target without any position while the file says streaming went on
// lost everything Sluice wrote: stop with the recovery, start nothing.
func TestTargetWithoutPosition(t *testing.T) {
	ev, src, sink, store := setup(streaming("20"))
	sink.applied = ""
	err := New(src, sink, store, quiet).Run(context.Background())
	if !errors.Is(err, ErrTargetBehind) || !strings.Contains(err.Error(), "--resnapshot") {
		t.Fatalf("want ErrTargetBehind naming --resnapshot, got %v", err)
	}
	if strings.Contains(ev.String(), "start") {
		t.Fatalf("events %q: started anyway", ev)
	}
}

// A snapshot that did not finish leaves a partial copy: with snapshots off,
// streaming over it would leave the target incomplete for good.
func TestHalfSnapshotWithSnapshotNever(t *testing.T) {
	ev, src, sink, store := setup(&checkpoint.Checkpoint{Phase: checkpoint.PhaseSnapshot, Source: "fake"})
	err := New(src, sink, store, quiet).Run(context.Background())
	if !errors.Is(err, ErrHalfSnapshot) || !strings.Contains(err.Error(), "--resnapshot") || !strings.Contains(err.Error(), "source.snapshot") {
		t.Fatalf("want ErrHalfSnapshot naming the fix, got %v", err)
	}
	if strings.Contains(ev.String(), "start") {
		t.Fatalf("events %q: started anyway", ev)
	}
}

// A failed flush saves nothing and acks nothing.
func TestFailedFlushNeitherSavesNorAcks(t *testing.T) {
	ev, src, sink, store := setup(streaming("10"))
	sink.flush = func() error { return errors.New("target down") }
	src.txns <- txn(11)
	err := runUntil(t, New(src, sink, store, quiet), ev, "never")
	if err == nil || !strings.Contains(err.Error(), "target down") {
		t.Fatalf("want the flush error, got %v", err)
	}
	if got := ev.String(); strings.Contains(got, "save") || strings.Contains(got, "ack") {
		t.Fatalf("events %q: saved or acked after a failed flush", got)
	}
}

// On shutdown what was applied is flushed and checkpointed, and Run returns nil.
func TestShutdownFlushes(t *testing.T) {
	ev, src, sink, store := setup(streaming("10"))
	sink.flush = func() error { // the first flush waits until shutdown has begun
		time.Sleep(50 * time.Millisecond)
		return nil
	}
	src.txns <- txn(11)
	if err := runUntil(t, New(src, sink, store, quiet), ev, "apply(11)"); err != nil {
		t.Fatal(err)
	}
	if got := ev.String(); !strings.HasSuffix(got, "flush save(streaming,11) ack(11)") {
		t.Fatalf("events %q: want a final flush, save and ack", got)
	}
}

// Batch limits bound a target transaction.
func TestBatchRowLimit(t *testing.T) {
	ev, src, sink, store := setup(streaming("10"))
	opts := quiet
	opts.BatchRows, opts.BatchWait = 2, time.Hour
	for _, p := range []int{11, 12, 13, 14} {
		src.txns <- txn(p)
	}
	if err := runUntil(t, New(src, sink, store, opts), ev, "ack(14)"); err != nil {
		t.Fatal(err)
	}
	// No target transaction may hold more than 2 changes.
	n := 0
	for _, e := range strings.Fields(ev.String()) {
		switch {
		case strings.HasPrefix(e, "apply("):
			if n++; n > 2 {
				t.Fatalf("more than 2 changes in one flush: %s", ev)
			}
		case e == "flush":
			n = 0
		}
	}
}

// With nothing else waiting, a transaction is flushed at once, without
// waiting for the batch to fill or age (group commit).
func TestGroupCommitFlushesWhenIdle(t *testing.T) {
	ev, src, sink, store := setup(streaming("10"))
	opts := quiet
	opts.BatchWait = time.Hour
	src.txns <- txn(11)
	start := time.Now()
	if err := runUntil(t, New(src, sink, store, opts), ev, "ack(11)"); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("took %v to flush a lone transaction", d)
	}
}

// A checkpoint of another source kind is refused rather than misread.
func TestCheckpointOfAnotherSource(t *testing.T) {
	_, src, sink, store := setup(&checkpoint.Checkpoint{Phase: checkpoint.PhaseStreaming, Position: "1", Source: "mysql"})
	err := New(src, sink, store, quiet).Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "checkpoint.path") {
		t.Fatalf("want an error naming checkpoint.path, got %v", err)
	}
}

// Without a checkpoint and with snapshots off, streaming starts from the
// source's own position (nil), never from a guessed one.
func TestFreshWithoutSnapshot(t *testing.T) {
	ev, src, sink, store := setup(nil)
	src.txns <- txn(5)
	if err := runUntil(t, New(src, sink, store, quiet), ev, "ack(5)"); err != nil {
		t.Fatal(err)
	}
	if got := ev.String(); !strings.HasPrefix(got, "start(<nil>) apply(5)") {
		t.Fatalf("events %q", got)
	}
}

// A source error stops the pipeline with that error.
func TestSourceErrorStops(t *testing.T) {
	ev, src, sink, store := setup(streaming("10"))
	src.start = func(change.Position) error { return nil }
	boom := errors.New("slot lost")
	p := New(&failingSource{fakeSource: src, err: boom}, sink, store, quiet)
	done := make(chan error, 1)
	go func() { done <- p.Run(context.Background()) }()
	select {
	case err := <-done:
		if !errors.Is(err, boom) {
			t.Fatalf("want the source error, got %v (events %s)", err, ev)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("pipeline did not stop on a source error; events %s", ev)
	}
}

type failingSource struct {
	*fakeSource
	err error
}

func (s *failingSource) Next(context.Context) (*change.Txn, error) { return nil, s.err }

// plainSink hides the fake's AppliedPosition: a sink that does not keep its
// position in the target.
type plainSink struct{ s *fakeSink }

func (p plainSink) Apply(ctx context.Context, t *change.Txn) error { return p.s.Apply(ctx, t) }
func (p plainSink) Flush(ctx context.Context) error                { return p.s.Flush(ctx) }
func (p plainSink) Close() error                                   { return nil }

// Without a position kept in the target, every flush saves the checkpoint
// file before the source is acked.
func TestPlainSinkSavesBeforeEveryAck(t *testing.T) {
	ev, src, sink, store := setup(streaming("10"))
	opts := quiet
	opts.BatchRows = 1
	for _, p := range []int{11, 12, 13} {
		src.txns <- txn(p)
	}
	if err := runUntil(t, New(src, plainSink{sink}, store, opts), ev, "ack(13)"); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"11", "12", "13"} {
		if !strings.Contains(ev.String(), "flush save(streaming,"+p+") ack("+p+")") {
			t.Fatalf("events %q: want flush, save, ack for %s", ev, p)
		}
	}
}

// With the position kept in the target, acks follow each flush, but the
// checkpoint file is rewritten at most once a second, and is brought up to
// date once the source goes quiet.
func TestKeeperThrottlesCheckpointFile(t *testing.T) {
	ev, src, sink, store := setup(streaming("10"))
	opts := quiet
	opts.BatchRows = 1
	for _, p := range []int{11, 12, 13} {
		src.txns <- txn(p)
	}
	if err := runUntil(t, New(src, sink, store, opts), ev, "save(streaming,13)"); err != nil {
		t.Fatal(err)
	}
	got := ev.String()
	if strings.Count(got, "save(") != 2 || !strings.Contains(got, "ack(12)") || strings.Contains(got, "save(streaming,12)") {
		t.Fatalf("events %q: want saves of 11 and 13 only, acks of all", got)
	}
	if strings.Index(got, "save(streaming,13)") < strings.Index(got, "ack(13)") {
		t.Fatalf("events %q: the file caught up before the flush was acked?", got)
	}
}

// lazySink commits without waiting for its disk; durable says how far it is.
type lazySink struct {
	*fakeSink
	mu      sync.Mutex
	durable change.Position
	flushed change.Position
}

func (l *lazySink) Apply(ctx context.Context, t *change.Txn) error {
	l.mu.Lock()
	l.flushed = t.Position
	l.mu.Unlock()
	return l.fakeSink.Apply(ctx, t)
}

func (l *lazySink) Durable(_ context.Context, wait bool) (change.Position, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if wait {
		l.durable = l.flushed
	}
	return l.durable, nil
}

func (l *lazySink) setDurable(p change.Position) {
	l.mu.Lock()
	l.durable = p
	l.mu.Unlock()
}

// Only what the target has on disk is acked and checkpointed; an idle
// pipeline keeps asking until its last commit is durable.
func TestAcksWaitForTargetDisk(t *testing.T) {
	ev, src, sink, store := setup(streaming("10"))
	lazy := &lazySink{fakeSink: sink, durable: pos(10)}
	src.txns <- txn(11)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- New(src, lazy, store, quiet).Run(ctx) }()
	time.Sleep(300 * time.Millisecond)
	if got := ev.String(); !strings.Contains(got, "flush") || strings.Contains(got, "ack(11)") || strings.Contains(got, "save(streaming,11)") {
		t.Fatalf("events %q: acked or saved before the target's disk had it", got)
	}
	lazy.setDurable(pos(11))
	deadline := time.Now().Add(3 * time.Second)
	for !strings.Contains(ev.String(), "ack(11)") {
		if time.Now().After(deadline) {
			t.Fatalf("events %q: never acked after the target's disk caught up", ev)
		}
		time.Sleep(10 * time.Millisecond)
	}
	src.txns <- txn(12)
	time.Sleep(100 * time.Millisecond)
	cancel() // shutdown waits for the disk
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := ev.String(); !strings.HasSuffix(got, "ack(12)") && !strings.Contains(got, "save(streaming,12) ack(12)") {
		t.Fatalf("events %q: shutdown did not wait for the last commit to be durable", got)
	}
}

// slowSink takes a while to apply and fails, as a driver does, if its
// context ends meanwhile.
type slowSink struct{ *fakeSink }

func (s slowSink) Apply(ctx context.Context, t *change.Txn) error {
	s.ev.add("applying(%v)", t.Position)
	time.Sleep(200 * time.Millisecond)
	if ctx.Err() != nil {
		return fmt.Errorf("apply: %w", ctx.Err())
	}
	return s.fakeSink.Apply(ctx, t)
}

// A shutdown lets the apply in flight finish, then flushes it: it does not
// cut the target's statement (and connection) under it.
func TestShutdownLetsApplyFinish(t *testing.T) {
	ev, src, sink, store := setup(streaming("10"))
	src.txns <- txn(11)
	err := runUntil(t, New(src, slowSink{sink}, store, quiet), ev, "applying(11)")
	if err != nil {
		t.Fatalf("shutdown during an apply: %v (events %s)", err, ev)
	}
	if got := ev.String(); !strings.HasSuffix(got, "apply(11) flush save(streaming,11) ack(11)") {
		t.Fatalf("events %q: want the apply finished, flushed, saved and acked", got)
	}
}

// lingerSink is a fakeSink whose commit is costly: it asks the pipeline to
// linger before flushing.
type lingerSink struct {
	*fakeSink
	d time.Duration
}

func (s lingerSink) Linger() time.Duration { return s.d }

// A sink that lingers gets a trickle of transactions (one every
// millisecond, so the reader never has two waiting) in few flushes, each
// within the linger of its first transaction, and everything arrives and
// is acknowledged; a sink that does not linger flushes far more often.
func TestLingerGroupsATrickle(t *testing.T) {
	flushes := func(linger time.Duration) int {
		ev, src, sink, store := setup(streaming("10"))
		var s Sink = sink
		if linger > 0 {
			s = lingerSink{sink, linger}
		}
		opts := quiet
		opts.BatchWait = time.Hour
		go func() {
			for p := 11; p <= 60; p++ {
				src.txns <- txn(p)
				time.Sleep(time.Millisecond)
			}
		}()
		start := time.Now()
		if err := runUntil(t, New(src, s, store, opts), ev, "ack(60)"); err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); d > 3*time.Second {
			t.Fatalf("linger %v: took %v", linger, d)
		}
		return strings.Count(ev.String(), "flush")
	}
	lingered, eager := flushes(40*time.Millisecond), flushes(0)
	if lingered > 10 || lingered >= eager {
		t.Fatalf("flushes with a 40ms linger: %d, without: %d; want a few with it and more without", lingered, eager)
	}
	t.Logf("50 transactions 1ms apart: %d flushes lingering 40ms, %d without", lingered, eager)
}
