package jsonl

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/rs/zerolog"

	"github.com/sluicecdc/sluice/pkg/change"
	"github.com/sluicecdc/sluice/pkg/pipeline"
	"github.com/sluicecdc/sluice/sink/sinktest"
)

var tbl = &change.Table{ID: change.TableID{Schema: "conf", Name: "rec"}, Dialect: change.Postgres, Identity: change.IdentityFull,
	Columns: []change.Column{{Name: "a", Type: "integer", TypeOID: 23}, {Name: "b", Type: "text", TypeOID: 25}}}

func openAt(t *testing.T, path string, maxBytes int64) pipeline.Sink {
	t.Helper()
	return openKeep(t, path, maxBytes, 0)
}

func openKeep(t *testing.T, path string, maxBytes int64, keep int) pipeline.Sink {
	t.Helper()
	s, err := Open(Options{Path: path, Pipeline: "rec", MaxBytes: maxBytes, Keep: keep, Encoder: testEncoder(t), Log: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func insertTxn(pos int, vals ...int) *change.Txn {
	txn := change.NewTxn("", 0)
	txn.ID, txn.Position = strconv.Itoa(pos), sinktest.Pos(pos)
	for _, v := range vals {
		txn.Add(change.Change{Op: change.Insert, Table: tbl, After: change.Row{change.Text(strconv.Itoa(v)), change.Text("x")}}) //nolint:errcheck // in memory
	}
	return txn
}

func applied(t *testing.T, s pipeline.Sink) string {
	t.Helper()
	p, err := s.(pipeline.PositionKeeper).AppliedPosition(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func rowsOf(t *testing.T, path string) []string {
	return fold(t, false, path).Rows(tbl.ID)
}

// A crash after a flush leaves unflushed lines, a torn one and a file
// made by a rotation behind: the next start cuts them all off and resumes
// after the last flushed transaction.
func TestRecoverCutsUnflushed(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "out.jsonl")
	s := openAt(t, path, 300)
	for i := 1; i <= 3; i++ {
		must(t, s.Apply(ctx, insertTxn(i, i)))
	}
	must(t, s.Flush(ctx))
	for i := 4; i <= 9; i++ { // several rotations, never flushed
		must(t, s.Apply(ctx, insertTxn(i, i)))
	}
	s.(sinktest.Crasher).Crash()
	names, _ := filepath.Glob(filepath.Join(filepath.Dir(path), "out.*.jsonl"))
	if len(names) < 2 {
		t.Fatalf("no rotation happened: %v", names)
	}
	last := names[len(names)-1]
	f, err := os.OpenFile(last, os.O_WRONLY|os.O_APPEND, 0)
	must(t, err)
	_, err = f.WriteString(`{"topic":"conf.conf.rec","key":null,"val`) // torn
	must(t, err)
	f.Close()

	s = openAt(t, path, 300)
	if got := applied(t, s); got != "3" {
		t.Fatalf("applied position %q after the crash, want 3", got)
	}
	must(t, s.Apply(ctx, insertTxn(4, 4)))
	must(t, s.Flush(ctx))
	must(t, s.Close())
	if got, want := rowsOf(t, path), []string{"1|x", "2|x", "3|x", "4|x"}; !slices.Equal(got, want) {
		t.Fatalf("files hold %q, want %q", got, want)
	}
}

// A snapshot copied again — killed half-way, or after its position was
// recorded but before the pipeline noted it finished — appears once.
func TestSnapshotCopiedAgainAppearsOnce(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "out.jsonl")
	rows := func(yield func(change.Row) error) error {
		for i := range 5 {
			if err := yield(change.Row{change.Text(strconv.Itoa(i)), change.Text("s")}); err != nil {
				return err
			}
		}
		return nil
	}
	s := openAt(t, path, 200)
	must(t, s.Apply(ctx, insertTxn(1, 100))) // streamed before a resnapshot: stays
	must(t, s.Flush(ctx))
	for round := range 3 {
		l := s.(pipeline.Loader)
		must(t, l.PrepareSnapshot(ctx, []*change.Table{tbl}))
		must(t, l.Load(ctx, tbl, rows))
		if round == 1 { // the snapshot's position recorded (pipeline.recordPosition), then killed
			must(t, s.Apply(ctx, &change.Txn{Position: sinktest.Pos(7)}))
			must(t, s.Flush(ctx))
			if got := applied(t, s); got != "7" {
				t.Fatalf("applied %q after the snapshot, want 7", got)
			}
		}
		s.(sinktest.Crasher).Crash()
		s = openAt(t, path, 200)
	}
	l := s.(pipeline.Loader)
	must(t, l.PrepareSnapshot(ctx, []*change.Table{tbl}))
	must(t, l.Load(ctx, tbl, rows))
	must(t, s.Apply(ctx, &change.Txn{Position: sinktest.Pos(7)}))
	must(t, s.Flush(ctx))
	must(t, s.Apply(ctx, insertTxn(8, 8)))
	must(t, s.Flush(ctx))
	must(t, s.Close())
	want := []string{"0|s", "100|x", "1|s", "2|s", "3|s", "4|s", "8|x"} // sorted
	if got := rowsOf(t, path); !slices.Equal(got, want) {
		t.Fatalf("files hold %q, want %q", got, want)
	}
	// A later snapshot (--resnapshot) keeps what is there and adds a copy.
	s = openAt(t, path, 200)
	if got := applied(t, s); got != "8" {
		t.Fatalf("applied %q, want 8", got)
	}
	l = s.(pipeline.Loader)
	must(t, l.PrepareSnapshot(ctx, []*change.Table{tbl}))
	must(t, l.Load(ctx, tbl, rows))
	must(t, s.Close())
	if got := rowsOf(t, path); len(got) != len(want)+5 {
		t.Fatalf("after a resnapshot the files hold %d rows, want %d", len(got), len(want)+5)
	}
}

// A second process on the same files is refused; the state belongs to
// one pipeline.
func TestLockAndOwner(t *testing.T) {
	path := filepath.Join(t.TempDir(), "out.jsonl")
	s := openAt(t, path, 0)
	if _, err := Open(Options{Path: path, Pipeline: "rec", Encoder: testEncoder(t), Log: zerolog.Nop()}); err == nil {
		t.Fatal("a second sink opened the same files")
	}
	must(t, s.Close())
	if _, err := Open(Options{Path: path, Pipeline: "other", Encoder: testEncoder(t), Log: zerolog.Nop()}); err == nil {
		t.Fatal("another pipeline opened the files")
	}
	what, err := Teardown(path, "rec", true)
	if err != nil || len(what) != 1 {
		t.Fatalf("teardown dry run: %q, %v", what, err)
	}
	if _, err := os.Stat(statePath(path)); err != nil {
		t.Fatal("the dry run removed the state")
	}
	if _, err := Teardown(path, "rec", false); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(statePath(path)); !os.IsNotExist(err) {
		t.Fatalf("state still there after teardown: %v", err)
	}
	if p := Check(path, "rec"); len(p) != 0 {
		t.Fatalf("check: %q", p)
	}
}

// keep removes the oldest files, but never those of a snapshot that may
// be copied again.
func TestKeep(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "out.jsonl")
	count := func() int {
		names, _ := filepath.Glob(filepath.Join(filepath.Dir(path), "out.*.jsonl"))
		return len(names)
	}
	s := openKeep(t, path, 100, 2)
	for i := 1; i <= 10; i++ {
		must(t, s.Apply(ctx, insertTxn(i, i)))
		must(t, s.Flush(ctx))
	}
	if n := count(); n != 2 {
		t.Fatalf("%d files with keep 2", n)
	}
	l := s.(pipeline.Loader)
	must(t, l.PrepareSnapshot(ctx, []*change.Table{tbl}))
	for range 5 {
		must(t, l.Load(ctx, tbl, func(yield func(change.Row) error) error {
			return yield(change.Row{change.Text("7"), change.Text("s")})
		}))
	}
	if n := count(); n < 5 {
		t.Fatalf("%d files: the snapshot's first file was removed", n)
	}
	s.(sinktest.Crasher).Crash()
	s = openKeep(t, path, 100, 2)
	must(t, s.(pipeline.Loader).PrepareSnapshot(ctx, []*change.Table{tbl})) // cut back: its file must be there
	must(t, s.Close())
}

// The sink is a prometheus.Collector (cmd/sluice exports it with the
// pipeline's metrics): records, bytes, commits, latency.
func TestMetrics(t *testing.T) {
	ctx := context.Background()
	s := openAt(t, filepath.Join(t.TempDir(), "out.jsonl"), 0)
	defer s.Close()
	must(t, s.Apply(ctx, insertTxn(1, 1, 2, 3)))
	must(t, s.Flush(ctx))
	c, ok := s.(prometheus.Collector)
	if !ok {
		t.Fatal("the sink is not a prometheus.Collector")
	}
	reg := prometheus.NewPedanticRegistry()
	must(t, reg.Register(c))
	for name, want := range map[string]float64{"sluice_sink_records_total": 3, "sluice_sink_commits_total": 1, "sluice_sink_aborts_total": 0} {
		if got := testutil.ToFloat64(metricOf(t, c, name)); got != want {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	if n, err := testutil.GatherAndCount(reg, "sluice_sink_produce_seconds", "sluice_sink_bytes_total"); err != nil || n != 2 {
		t.Errorf("latency and bytes series: %d, %v", n, err)
	}
}

func metricOf(t *testing.T, c prometheus.Collector, name string) prometheus.Collector {
	m := c.(keeper).Metrics
	for _, x := range []struct {
		n string
		c prometheus.Collector
	}{{"sluice_sink_records_total", m.Records}, {"sluice_sink_commits_total", m.Commits}, {"sluice_sink_aborts_total", m.Aborts}} {
		if x.n == name {
			return x.c
		}
	}
	t.Fatalf("no metric %s", name)
	return nil
}
