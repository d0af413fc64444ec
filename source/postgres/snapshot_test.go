package postgres

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/sync/errgroup"

	"github.com/sluicecdc/sluice/internal/pgtest"
	"github.com/sluicecdc/sluice/pkg/change"
)

// TestSnapshotChunksAreConsistent copies a keyless table in many small ctid
// chunks, in parallel, while writers change it, and checks the copy equals
// the table as of the snapshot; then streaming from the snapshot position
// yields exactly the later changes.
func TestSnapshotChunksAreConsistent(t *testing.T) {
	ctx := context.Background()
	c := pgtest.Start(t, pgtest.Options{})
	must := func(sql string) {
		t.Helper()
		if err := c.Exec(ctx, "postgres", sql); err != nil {
			t.Fatal(err)
		}
	}
	must(`CREATE TABLE h (v int, pad text); ALTER TABLE h REPLICA IDENTITY FULL; INSERT INTO h SELECT g, repeat('x', 200) FROM generate_series(1, 20000) g;`)
	src, err := New(ctx, Options{DSN: c.DSN("postgres"), Tables: []string{"public.*"}, Slot: "snap_test", Publication: "snap_test",
		SnapshotWorkers: 4, ChunkPages: 16, Log: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	snap, err := src.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// Changes after the snapshot point: invisible to the copy, streamed later.
	must(`INSERT INTO h VALUES (-1, 'after'); DELETE FROM h WHERE v <= 100;`)
	chunks, err := snap.Chunks(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(chunks) < 10 {
		t.Fatalf("want many chunks, got %d", len(chunks))
	}
	var mu sync.Mutex
	var got []int
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(4)
	for _, ch := range chunks {
		g.Go(func() error {
			return snap.Read(gctx, ch, func(r change.Row) error {
				var v int
				fmt.Sscan(string(r[0].Data), &v)
				mu.Lock()
				got = append(got, v)
				mu.Unlock()
				return nil
			})
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
	sort.Ints(got)
	if len(got) != 20000 || got[0] != 1 || got[19999] != 20000 {
		t.Fatalf("snapshot copy has %d rows (first %d): want exactly 1..20000", len(got), got[0])
	}
	for i := range got {
		if got[i] != i+1 {
			t.Fatalf("row %d missing or doubled", i+1)
		}
	}
	pos := snap.Position()
	snap.Close()
	if err := src.Start(ctx, pos); err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var ops []string
	for len(ops) < 101 {
		txn, err := src.Next(rctx)
		if err != nil {
			t.Fatalf("after %d changes: %v", len(ops), err)
		}
		txn.Each(func(c *change.Change) error {
			ops = append(ops, c.Op.String())
			return nil
		})
		if txn.Position.Compare(pos) <= 0 {
			t.Fatalf("streamed a transaction at %s, not after the snapshot's %s", txn.Position, pos)
		}
		txn.Close()
	}
	if ops[0] != "insert" || ops[1] != "delete" || ops[100] != "delete" {
		t.Fatalf("streamed %v..., want the insert then 100 deletes", ops[:3])
	}
}
