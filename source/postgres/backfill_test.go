package postgres

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/sluicecdc/sluice/checkpoint"
	"github.com/sluicecdc/sluice/internal/pgtest"
	"github.com/sluicecdc/sluice/pkg/change"
)

// TestBackfillDropsStaleRows reads a chunk, then commits a transaction
// the chunk's snapshot does not see and lets the stream deliver it before
// the chunk: the chunk's rows of the keys it changed are stale and must not
// be emitted (the target has newer ones), and the keys are kept out of the
// range the sink prunes. Without the filter the stale rows go out: the
// check that makes the end-to-end test fail when the filter is off.
func TestBackfillDropsStaleRows(t *testing.T) {
	ctx := context.Background()
	c := pgtest.Start(t, pgtest.Options{})
	must := func(sql string) {
		t.Helper()
		if err := c.Exec(ctx, "postgres", sql); err != nil {
			t.Fatal(err)
		}
	}
	must(`CREATE TABLE t (id int PRIMARY KEY, v text); CREATE TABLE nokey (v int)`)
	for i, filter := range []bool{true, false} {
		must(`DELETE FROM t; INSERT INTO t SELECT g, 'old' FROM generate_series(1, 10) g`)
		skipStaleFilter.Store(!filter)
		src, err := New(ctx, Options{DSN: c.DSN("postgres"), Tables: []string{"public.*"}, Slot: "bf_test" + string(rune('a'+i)),
			Publication: "bf_test" + string(rune('a'+i)), Log: zerolog.Nop()})
		if err != nil {
			t.Fatal(err)
		}
		if err := src.Start(ctx, nil); err != nil {
			t.Fatal(err)
		}
		if err := src.CheckBackfill(ctx, checkpoint.Backfill{Table: "public.nokey"}); err == nil {
			t.Error("CheckBackfill accepts a table without a primary key")
		}
		if err := src.CheckBackfill(ctx, checkpoint.Backfill{Table: "public.t", Where: "nosuchcolumn > 1"}); err == nil {
			t.Error("CheckBackfill accepts a --where naming a missing column")
		}
		if err := src.CheckBackfill(ctx, checkpoint.Backfill{Table: "public.t", Where: "id > 1"}); err != nil {
			t.Errorf("CheckBackfill: %v", err)
		}
		hooked := false
		testHookChunkRead = func() {
			if hooked {
				return
			}
			hooked = true
			seq := func() uint64 {
				src.tr.mu.Lock()
				defer src.tr.mu.Unlock()
				return src.tr.seq
			}
			before := seq()
			err := c.Exec(ctx, "postgres", `BEGIN; UPDATE t SET v = 'new' WHERE id = 5; DELETE FROM t WHERE id = 7; INSERT INTO t VALUES (11, 'new'); COMMIT`)
			if err != nil {
				t.Error(err)
				return
			}
			deadline := time.Now().Add(30 * time.Second)
			for seq() == before { // the stream delivers it before the chunk
				if time.Now().After(deadline) {
					t.Error("the stream did not deliver the transaction")
					return
				}
				time.Sleep(10 * time.Millisecond)
			}
		}
		src.Backfill([]checkpoint.Backfill{{Table: "public.t"}})
		bf, rows := nextChunk(t, src)
		testHookChunkRead = nil
		src.Close()
		got := map[string]string{}
		for _, r := range rows {
			got[string(r[0].Data)] = string(r[1].Data)
		}
		if !bf.Done || !bf.Prune || bf.Lo != nil || bf.Hi != nil || bf.Rows != int64(len(rows)) {
			t.Errorf("filter %v: chunk %+v, want the whole table, done, pruned", filter, bf)
		}
		if filter {
			if _, ok := got["5"]; ok {
				t.Error("the stale row of key 5 (updated after the chunk's snapshot) was emitted")
			}
			if _, ok := got["7"]; ok {
				t.Error("the stale row of key 7 (deleted after the chunk's snapshot) was emitted")
			}
			if len(got) != 8 {
				t.Errorf("emitted %d rows, want 8 (10 minus the stale 5 and 7)", len(got))
			}
			var keep []string
			for _, k := range bf.Keep {
				keep = append(keep, string(k[0].Data))
			}
			slices.Sort(keep)
			if !slices.Equal(keep, []string{"11", "5", "7"}) {
				t.Errorf("keep = %v, want the keys the stream changed: 11 5 7", keep)
			}
		} else {
			if got["5"] != "old" || got["7"] != "old" {
				t.Errorf("without the filter: rows %v, want the stale rows of 5 and 7 emitted", got)
			}
			t.Logf("without the filter the chunk re-sends key 5 as %q and resurrects deleted key 7: the target would go wrong", got["5"])
		}
	}
	skipStaleFilter.Store(false)
}

// nextChunk reads the stream until a back-fill chunk arrives.
func nextChunk(t *testing.T, src *Source) (*change.Backfill, []change.Row) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for {
		txn, err := src.Next(ctx)
		if err != nil {
			t.Fatalf("next: %v", err)
		}
		if txn.Backfill == nil {
			txn.Close()
			continue
		}
		var rows []change.Row
		txn.Each(func(c *change.Change) error {
			if c.Op != change.Read {
				t.Errorf("a back-fill chunk carries a %s", c.Op)
			}
			rows = append(rows, c.After)
			return nil
		})
		txn.Close()
		return txn.Backfill, rows
	}
}

// TestBackfillCompositeTextKey copies a table keyed by (int, text), with
// key texts that need quoting, in many chunks: every row arrives exactly
// once, the chunks' ranges follow each other, and a collatable key is not
// pruned (the target might order it differently).
func TestBackfillCompositeTextKey(t *testing.T) {
	ctx := context.Background()
	c := pgtest.Start(t, pgtest.Options{})
	if err := c.Exec(ctx, "postgres", `CREATE TABLE ck (a int, b text, v int, PRIMARY KEY (a, b));
		INSERT INTO ck SELECT g % 7, 'it''s \ "' || g || E'\u00e9', g FROM generate_series(1, 1500) g`); err != nil {
		t.Fatal(err)
	}
	old := firstChunkRows
	firstChunkRows = 7
	defer func() { firstChunkRows = old }()
	src, err := New(ctx, Options{DSN: c.DSN("postgres"), Tables: []string{"public.*"}, Slot: "ck", Publication: "ck", Log: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	if err := src.Start(ctx, nil); err != nil {
		t.Fatal(err)
	}
	src.Backfill([]checkpoint.Backfill{{Table: "public.ck", ID: "t"}})
	seen := map[string]int{}
	var prevHi change.Row
	chunks := 0
	for {
		bf, rows := nextChunk(t, src)
		chunks++
		if bf.Prune {
			t.Error("a text key range is pruned")
		}
		if chunks > 1 && (bf.Lo == nil || change.KeyText(bf.Table, bf.Lo) != change.KeyText(bf.Table, prevHi)) {
			t.Fatalf("chunk %d starts after %v, want after the previous chunk's end %v", chunks, bf.Lo, prevHi)
		}
		prevHi = bf.Hi
		for _, r := range rows {
			seen[string(r[2].Data)]++
		}
		if bf.Done {
			if bf.Rows != 1500 {
				t.Errorf("rows %d, want 1500", bf.Rows)
			}
			break
		}
	}
	if len(seen) != 1500 {
		t.Fatalf("%d distinct rows, want 1500", len(seen))
	}
	for v, n := range seen {
		if n != 1 {
			t.Fatalf("row %s arrived %d times", v, n)
		}
	}
	if chunks < 5 {
		t.Errorf("%d chunks, want several", chunks)
	}
	t.Logf("1500 rows in %d chunks", chunks)
}

// TestBackfillColumnDropped drops a column while a table is back-filled:
// the next chunk reads the table's new shape and the copy goes on, every
// row once.
func TestBackfillColumnDropped(t *testing.T) {
	ctx := context.Background()
	c := pgtest.Start(t, pgtest.Options{})
	if err := c.Exec(ctx, "postgres", `CREATE TABLE dc (id int PRIMARY KEY, v text, w text); INSERT INTO dc SELECT g, 'v', 'w' FROM generate_series(1, 500) g`); err != nil {
		t.Fatal(err)
	}
	old := firstChunkRows
	firstChunkRows = 7
	defer func() { firstChunkRows = old; testHookChunkRead = nil }()
	src, err := New(ctx, Options{DSN: c.DSN("postgres"), Tables: []string{"public.*"}, Slot: "dc", Publication: "dc", Log: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	if err := src.Start(ctx, nil); err != nil {
		t.Fatal(err)
	}
	dropped := false
	testHookChunkRead = func() {
		if !dropped {
			dropped = true
			if err := c.Exec(ctx, "postgres", `ALTER TABLE dc DROP COLUMN w`); err != nil {
				t.Error(err)
			}
		}
	}
	src.Backfill([]checkpoint.Backfill{{Table: "public.dc", ID: "t"}})
	seen := map[string]int{}
	for {
		bf, rows := nextChunk(t, src)
		if bf.Err != "" {
			t.Fatalf("back-fill given up: %s", bf.Err)
		}
		for _, r := range rows {
			seen[string(r[0].Data)]++
		}
		if bf.Done {
			if n := len(bf.Table.Columns); n != 2 {
				t.Errorf("last chunk has %d columns, want 2 (w dropped)", n)
			}
			break
		}
	}
	if len(seen) != 500 {
		t.Fatalf("%d distinct rows, want 500", len(seen))
	}
	for id, n := range seen {
		if n != 1 {
			t.Fatalf("row %s arrived %d times", id, n)
		}
	}
}
