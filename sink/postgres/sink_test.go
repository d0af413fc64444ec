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
