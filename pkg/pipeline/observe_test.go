package pipeline

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/sluicecdc/sluice/pkg/change"
)

// recorder is an Observer that keeps what it was told.
type recorder struct {
	mu      sync.Mutex
	states  []State
	read    map[string]int // "table op" → n
	applied map[string]int
	acked   []string
	started []SnapshotTable
	rows    map[string]int64
	done    map[string]bool
	errors  []string
}

func newRecorder() *recorder {
	return &recorder{read: map[string]int{}, applied: map[string]int{}, rows: map[string]int64{}, done: map[string]bool{}}
}

func (r *recorder) State(s State, _ error) {
	r.mu.Lock()
	r.states = append(r.states, s)
	r.mu.Unlock()
}
func (r *recorder) Read(i ReadInfo) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, c := range i.Counts {
		r.read[fmt.Sprintf("%s %s", c.Table, c.Op)] += c.N
	}
}
func (r *recorder) Flushed(f FlushInfo) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, c := range f.Counts {
		r.applied[fmt.Sprintf("%s %s", c.Table, c.Op)] += c.N
	}
}
func (r *recorder) Acked(p change.Position, saved bool) {
	r.mu.Lock()
	r.acked = append(r.acked, fmt.Sprintf("%v/%v", p, saved))
	r.mu.Unlock()
}
func (r *recorder) SnapshotStarted(t []SnapshotTable) { r.mu.Lock(); r.started = t; r.mu.Unlock() }
func (r *recorder) SnapshotRows(t change.TableID, n int64, done bool) {
	r.mu.Lock()
	r.rows[t.String()] += n
	r.done[t.String()] = r.done[t.String()] || done
	r.mu.Unlock()
}
func (r *recorder) Error(kind string, err error) {
	r.mu.Lock()
	r.errors = append(r.errors, kind+": "+err.Error())
	r.mu.Unlock()
}

var (
	tblA = &change.Table{ID: change.TableID{Schema: "s", Name: "a"}, Columns: []change.Column{{Name: "id"}}}
	tblB = &change.Table{ID: change.TableID{Schema: "s", Name: "b"}, Columns: []change.Column{{Name: "id"}}}
)

// mixed makes a transaction of inserts into a, updates of a and deletes
// from b.
func mixed(p int, part change.Part) *change.Txn {
	t := change.NewTxn("", 0)
	t.Position, t.Part, t.ID, t.Commit = pos(p), part, "x", time.Now()
	row := change.Row{change.Text("1")}
	t.Add(change.Change{Op: change.Insert, Table: tblA, After: row})
	t.Add(change.Change{Op: change.Insert, Table: tblA, After: row})
	t.Add(change.Change{Op: change.Update, Table: tblA, Before: row, After: row})
	t.Add(change.Change{Op: change.Delete, Table: tblB, Before: row})
	t.Add(change.Change{Op: change.Insert, Table: tblA, After: row})
	return t
}

func TestObserverCountsPerTableAndOp(t *testing.T) {
	ev, src, sink, store := setup(streaming("10"))
	sink.applied = "11" // 11 is a replay the target holds: read, not applied
	rec := newRecorder()
	opts := quiet
	opts.Observer = rec
	src.txns <- mixed(11, change.Whole)
	src.txns <- mixed(12, change.Whole)
	src.txns <- mixed(13, change.Whole)
	if err := runUntil(t, New(src, sink, store, opts), ev, "ack(13)"); err != nil {
		t.Fatal(err)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	wantRead := map[string]int{"s.a insert": 9, "s.a update": 3, "s.b delete": 3}
	wantApplied := map[string]int{"s.a insert": 6, "s.a update": 2, "s.b delete": 2}
	if fmt.Sprint(rec.read) != fmt.Sprint(wantRead) || fmt.Sprint(rec.applied) != fmt.Sprint(wantApplied) {
		t.Fatalf("read %v applied %v; want %v and %v", rec.read, rec.applied, wantRead, wantApplied)
	}
	states := fmt.Sprint(rec.states)
	if states != "[starting streaming stopping stopped]" {
		t.Fatalf("states %s", states)
	}
	if len(rec.acked) == 0 || !strings.HasPrefix(rec.acked[len(rec.acked)-1], "13/") {
		t.Fatalf("acked %v", rec.acked)
	}
}

// partSink applies running transactions' parts.
type partSink struct{ *fakeSink }

func (p partSink) Savepoint(_ context.Context, name string) error {
	p.ev.add("savepoint(%s)", name)
	return nil
}
func (p partSink) RollbackTo(_ context.Context, name string) error {
	p.ev.add("rollback(%s)", name)
	return nil
}

// A rolled-back subtransaction's changes are read but never applied.
func TestObserverPartsRollback(t *testing.T) {
	ev, src, sink, store := setup(streaming("10"))
	rec := newRecorder()
	opts := quiet
	opts.Observer = rec
	src.txns <- mixed(0, change.Open)                                                          // 4 on a, 1 on b
	src.txns <- &change.Txn{ID: "x", Part: change.Savepoint, Sub: "7"}                         //
	src.txns <- mixed(0, change.Open)                                                          // void
	src.txns <- &change.Txn{ID: "x", Part: change.Savepoint, Sub: "8"}                         // inside 7: void too
	src.txns <- mixed(0, change.Open)                                                          // void
	src.txns <- &change.Txn{ID: "x", Part: change.RollbackSub, Sub: "7"}                       //
	src.txns <- mixed(0, change.Open)                                                          // counts
	src.txns <- &change.Txn{ID: "x", Part: change.Done, Position: pos(20), Commit: time.Now()} //
	if err := runUntil(t, New(src, partSink{sink}, store, opts), ev, "ack(20)"); err != nil {
		t.Fatal(err)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	want := map[string]int{"s.a insert": 6, "s.a update": 2, "s.b delete": 2}
	if fmt.Sprint(rec.applied) != fmt.Sprint(want) || rec.read["s.a insert"] != 12 {
		t.Fatalf("applied %v (want %v), read %v", rec.applied, want, rec.read)
	}
}

func TestObserverErrorKind(t *testing.T) {
	ev, src, sink, store := setup(streaming("10"))
	sink.flush = func() error { return fmt.Errorf("disk full") }
	rec := newRecorder()
	opts := quiet
	opts.Observer = rec
	src.txns <- txn(11)
	if err := runUntil(t, New(src, sink, store, opts), ev, "never"); err == nil {
		t.Fatal("want the flush error")
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.errors) != 1 || !strings.HasPrefix(rec.errors[0], "flush: flush to target: disk full") || rec.states[len(rec.states)-1] != StateFailed {
		t.Fatalf("errors %v states %v", rec.errors, rec.states)
	}
}

// snapSource is a source with a snapshot of one table in chunks that are
// read slowly.
type snapSource struct {
	*fakeSource
	rows   int // per chunk
	chunks int
	delay  time.Duration // per 1000 rows
}

func (s *snapSource) Snapshot(context.Context) (Snapshot, error) { return &fakeSnap{s}, nil }

type fakeSnap struct{ s *snapSource }

func (f *fakeSnap) Tables() []*change.Table { return []*change.Table{tblA} }
func (f *fakeSnap) Chunks(context.Context) ([]Chunk, error) {
	var out []Chunk
	for i := range f.s.chunks {
		out = append(out, Chunk{Table: tblA, Index: i, Of: f.s.chunks})
	}
	return out, nil
}
func (f *fakeSnap) Read(ctx context.Context, _ Chunk, fn func(change.Row) error) error {
	row := change.Row{change.Text("1")}
	for i := range f.s.rows {
		if i%1000 == 0 {
			time.Sleep(f.s.delay)
		}
		if err := fn(row); err != nil {
			return err
		}
	}
	return ctx.Err()
}
func (f *fakeSnap) Position() change.Position { return pos(5) }
func (f *fakeSnap) Close() error              { return nil }
func (f *fakeSnap) Estimate(context.Context, *change.Table) (int64, error) {
	return int64(f.s.rows * f.s.chunks), nil
}

type loadSink struct{ *fakeSink }

func (l loadSink) PrepareSnapshot(context.Context, []*change.Table) error { return nil }
func (l loadSink) Load(_ context.Context, _ *change.Table, rows func(yield func(change.Row) error) error) error {
	return rows(func(change.Row) error { return nil })
}

// syncBuffer is a log sink safe for the progress goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// While a table is copied, a progress line says rows, estimate, rate and
// time left, every ProgressEvery; the observer sees every row.
func TestSnapshotProgress(t *testing.T) {
	ev, src, sink, store := setup(nil)
	ss := &snapSource{fakeSource: src, rows: 20000, chunks: 3, delay: 5 * time.Millisecond}
	rec := newRecorder()
	var logs syncBuffer
	opts := quiet
	opts.Snapshot, opts.SnapshotWorkers, opts.Observer, opts.ProgressEvery = true, 2, rec, 20*time.Millisecond
	opts.Log = zerolog.New(&logs)
	if err := runUntil(t, New(ss, loadSink{sink}, store, opts), ev, "start(5)"); err != nil {
		t.Fatal(err)
	}
	var copying, copied int
	for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("%v: %s", err, line)
		}
		switch m["message"] {
		case "copying table":
			copying++
			if m["table"] != "s.a" || m["estimate"] != float64(60000) || m["rows_per_s"] == nil || m["rows"] == nil {
				t.Fatalf("progress line lacks table, rows, estimate or rate: %s", line)
			}
			if r, _ := m["rows"].(float64); r > 0 && r < 60000 && m["eta"] == nil {
				t.Fatalf("progress line lacks the time left: %s", line)
			}
		case "table copied":
			copied++
			if m["rows"] != float64(60000) || m["rows_per_s"] == nil {
				t.Fatalf("%s", line)
			}
		}
	}
	if copying == 0 || copied != 1 {
		t.Fatalf("%d progress lines, %d copied lines:\n%s", copying, copied, logs.String())
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.started) != 1 || rec.started[0].Estimate != 60000 || rec.rows["s.a"] != 60000 || !rec.done["s.a"] {
		t.Fatalf("observer: started %v rows %v done %v", rec.started, rec.rows, rec.done)
	}
	if fmt.Sprint(rec.states[:3]) != "[starting snapshot streaming]" {
		t.Fatalf("states %v", rec.states)
	}
}

// BenchmarkCountChanges is the per-change cost of counting by table and
// operation (paid in the reader goroutine, only when observed).
func BenchmarkCountChanges(b *testing.B) {
	t := change.NewTxn("", 0)
	row := change.Row{change.Text("1")}
	for i := range 1000 {
		tbl := tblA
		if i%10 == 0 {
			tbl = tblB
		}
		t.Add(change.Change{Op: change.Insert, Table: tbl, After: row})
	}
	b.ResetTimer()
	for b.Loop() {
		if _, err := countChanges(t); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*1000), "ns/change")
}
