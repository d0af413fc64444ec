package postgres

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/sluicecdc/sluice/internal/pgtest"
	"github.com/sluicecdc/sluice/pkg/change"
)

type lsn int

func (l lsn) String() string { return fmt.Sprint(int(l)) }
func (l lsn) Compare(o change.Position) int {
	return int(l) - int(o.(lsn))
}

var tbl = &change.Table{ID: change.TableID{Schema: "public", Name: "items"},
	Columns: []change.Column{{Name: "id", Type: "integer", NotNull: true}, {Name: "v", Type: "text"}}, Key: []int{0}}

func inserts(from, to int, v string) *change.Txn {
	t := change.NewTxn("", 0)
	for i := from; i <= to; i++ {
		t.Add(change.Change{Op: change.Insert, Table: tbl, After: change.Row{change.Text(fmt.Sprint(i)), change.Text(v)}})
	}
	t.Position = lsn(to)
	return t
}

func newSink(t *testing.T, c *pgtest.Cluster) *Sink {
	t.Helper()
	s, err := New(context.Background(), Options{DSN: c.DSN("postgres"), Pipeline: "t"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func apply(t *testing.T, s *Sink, txns ...*change.Txn) {
	t.Helper()
	for _, txn := range txns {
		if err := s.Apply(context.Background(), txn); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// TestFastInsertFallsBackOnReplay: rows first inserted are copied straight
// into the table; replaying the same changes (as after a crash) hits existing
// keys and must fall back to the upsert path with the same end result, both
// for large sets (COPY) and small ones (one statement).
func TestFastInsertFallsBackOnReplay(t *testing.T) {
	ctx := context.Background()
	c := pgtest.Start(t, pgtest.Options{})
	s := newSink(t, c)
	apply(t, s, inserts(1, 1000, "a"), inserts(1001, 1003, "a"))
	// Replay with new values: an upsert must overwrite, not fail or double.
	apply(t, s, inserts(500, 1500, "b"), inserts(1001, 1003, "b"))
	got, err := c.QueryValue(ctx, "postgres", "SELECT count(*) || ' ' || count(*) FILTER (WHERE v = 'b') FROM items")
	if err != nil {
		t.Fatal(err)
	}
	if got != "1500 1001" {
		t.Fatalf("rows (total, v=b) = %s, want 1500 1001", got)
	}
	pos, err := s.AppliedPosition(ctx)
	if err != nil || pos != "1003" {
		t.Fatalf("applied position %q (%v), want 1003", pos, err)
	}
}

// TestTargetWithoutUniqueKey: a pre-created target table lacking the key's
// unique index is refused with the fix, never silently doubled into.
func TestTargetWithoutUniqueKey(t *testing.T) {
	c := pgtest.Start(t, pgtest.Options{})
	if err := c.Exec(context.Background(), "postgres", "CREATE TABLE items (id int, v text)"); err != nil {
		t.Fatal(err)
	}
	s := newSink(t, c)
	err := s.Apply(context.Background(), inserts(1, 10, "a"))
	if err == nil || !strings.Contains(err.Error(), "ADD PRIMARY KEY") {
		t.Fatalf("want an error naming the fix, got %v", err)
	}
}

// walFlushedPast tells whether the target's WAL is flushed up to lsn.
func walFlushedPast(t *testing.T, c *pgtest.Cluster, lsn string) bool {
	t.Helper()
	v, err := c.QueryValue(context.Background(), "postgres", "SELECT (pg_current_wal_flush_lsn() >= '"+lsn+"'::pg_lsn)::text")
	if err != nil {
		t.Fatal(err)
	}
	return v == "true"
}

// Commits are asynchronous, so the applied position a restart reads (and
// the source will then release its log up to) may not be on the target's
// disk yet: AppliedPosition must make it so. Shutdown's Durable(wait) too.
// The WAL writer is slowed to 10 s so nothing else flushes meanwhile.
func TestPositionsAreMadeDurable(t *testing.T) {
	ctx := context.Background()
	c := pgtest.Start(t, pgtest.Options{Settings: map[string]string{"wal_writer_delay": "10s"}})
	s := newSink(t, c)
	apply(t, s, inserts(1, 10, "a"))
	lsn, err := c.QueryValue(ctx, "postgres", "SELECT pg_current_wal_insert_lsn()")
	if err != nil {
		t.Fatal(err)
	}
	if walFlushedPast(t, c, lsn) {
		t.Fatal("the commit was flushed at once; the test cannot tell anything")
	}
	pos, err := newSink(t, c).AppliedPosition(ctx) // as after a restart
	if err != nil || pos != "10" {
		t.Fatalf("applied position %q (%v), want 10", pos, err)
	}
	if !walFlushedPast(t, c, lsn) {
		t.Fatal("AppliedPosition returned a position whose commit is not on the target's disk")
	}

	apply(t, s, inserts(11, 20, "a"))
	lsn, _ = c.QueryValue(ctx, "postgres", "SELECT pg_current_wal_insert_lsn()")
	d, err := s.Durable(ctx, true)
	if err != nil || d == nil || d.String() != "20" {
		t.Fatalf("Durable(wait) = %v (%v), want 20", d, err)
	}
	if !walFlushedPast(t, c, lsn) {
		t.Fatal("Durable(wait) reported a position whose commit is not on the target's disk")
	}
}

// TestConcurrentNew: sinks of several pipelines opened at the same moment
// on a fresh target, creating the same schemas, all succeed.
func TestConcurrentNew(t *testing.T) {
	c := pgtest.Start(t, pgtest.Options{})
	ctx := context.Background()
	if err := c.CreateDB(ctx, "fresh"); err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 8)
	for i := range 8 {
		go func() {
			s, err := New(ctx, Options{DSN: c.DSN("fresh"), Pipeline: fmt.Sprint("p", i)})
			if err == nil {
				err = s.ensureSchema(ctx, s.conn, "shared")
				s.Close()
			}
			errs <- err
		}()
	}
	for range 8 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}
