package mysql

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicecdc/sluice/checkpoint"
	"github.com/sluicecdc/sluice/internal/mytest"
	"github.com/sluicecdc/sluice/pkg/change"
)

func pos(file string, p uint32) Position { return Position{File: file, Pos: p, Server: 1} }

func TestComparePoints(t *testing.T) {
	for _, c := range []struct {
		a, b Position
		want int
		ok   bool
	}{
		{pos("binlog.000001", 100), pos("binlog.000001", 100), 0, true},
		{pos("binlog.000001", 99), pos("binlog.000001", 100), -1, true},
		{pos("binlog.000002", 4), pos("binlog.000001", 9999), 1, true},
		{pos("binlog.000010", 4), pos("binlog.000009", 4), 1, true},
		{Position{File: "binlog.000001", Pos: 1, Server: 2}, pos("binlog.000001", 1), 0, false}, // another server
		{Position{File: "binlog.000001", Pos: 1, Server: 1, Epoch: 1}, pos("binlog.000001", 1), 0, false},
		{pos("other.000001", 1), pos("binlog.000001", 1), 0, false},
		{Position{File: "binlog.000001", Pos: 1}, Position{File: "binlog.000001", Pos: 1}, 0, false}, // server unknown
		{pos("binlog", 1), pos("binlog", 1), 0, false},
	} {
		got, ok := comparePoints(c.a, c.b)
		if got != c.want || ok != c.ok {
			t.Errorf("comparePoints(%s, %s) = %d, %v; want %d, %v", c.a, c.b, got, ok, c.want, c.ok)
		}
	}
}

// TestJudge drives the tracker as the stream and the chunk reader do.
func TestJudge(t *testing.T) {
	tbl := &change.Table{ID: change.TableID{Schema: "d", Name: "t"}, Columns: []change.Column{{Name: "id"}, {Name: "v"}}, Key: []int{0}}
	other := &change.Table{ID: change.TableID{Schema: "d", Name: "o"}, Columns: []change.Column{{Name: "id"}}, Key: []int{0}}
	row := func(id string) change.Row { return change.Row{change.Text(id), change.Text("x")} }
	txn := func(cs ...change.Change) func() txnKeys {
		return func() txnKeys {
			k := txnKeys{}
			for i := range cs {
				k.add(&cs[i])
			}
			return k
		}
	}
	ins := func(tb *change.Table, id string) change.Change {
		return change.Change{Op: change.Insert, Table: tb, After: row(id)[:len(tb.Columns)]}
	}
	ps := pos("binlog.000003", 1000)
	keysOf := func(v verdict) string {
		var ks []string
		for k := range v.keys {
			ks = append(ks, keyFromText(tbl, k)[0].String())
		}
		sort.Strings(ks)
		return strings.Join(ks, ",")
	}

	tr := newTracker()
	tr.delivered(pos("binlog.000003", 500), txn(ins(tbl, "0")), false) // before the window: not recorded
	w := tr.open(tbl.ID)
	tr.delivered(pos("binlog.000003", 900), txn(ins(tbl, "1")), false)  // in the snapshot
	tr.delivered(pos("binlog.000003", 1000), txn(ins(tbl, "2")), false) // the snapshot's last
	tr.delivered(pos("binlog.000003", 1100), txn(ins(other, "3")), false)
	tr.delivered(pos("binlog.000003", 1200), txn(ins(tbl, "4"), change.Change{Op: change.Update, Table: tbl, Before: row("5"), After: row("6")}), false)
	if v := tr.judge(w, ps, pos("binlog.000003", 999)); !v.wait {
		t.Errorf("stream before the snapshot: %+v, want wait", v)
	}
	v := tr.judge(w, ps, pos("binlog.000004", 200))
	if v.wait || v.retry || v.all || keysOf(v) != "4,5,6" {
		t.Errorf("judge = %+v (keys %s), want keys 4,5,6", v, keysOf(v))
	}
	if v := tr.judge(w, ps, Position{File: "binlog.000004", Pos: 200, Server: 7}); !v.retry {
		t.Errorf("stream on another server: %+v, want retry", v)
	}
	tr.delivered(Position{File: "binlog.000001", Pos: 300, Server: 1, Epoch: 1}, txn(), false) // a binlog reset followed
	if v := tr.judge(w, ps, Position{File: "binlog.000001", Pos: 400, Server: 1, Epoch: 1}); !v.retry {
		t.Errorf("after a binlog reset: %+v, want retry", v)
	}
	tr.close(w)

	tr = newTracker()
	w = tr.open(tbl.ID)
	tr.delivered(pos("binlog.000005", 10), func() txnKeys { return txnKeys{tbl.ID: {all: true}} }, false) // a truncate
	if v := tr.judge(w, pos("binlog.000004", 1), pos("binlog.000005", 10)); !v.all || v.retry {
		t.Errorf("truncate after the snapshot: %+v, want all", v)
	}
	if v := tr.judge(w, pos("binlog.000005", 10), pos("binlog.000005", 10)); v.all || v.retry || len(v.keys) > 0 {
		t.Errorf("truncate in the snapshot: %+v, want nothing stale", v)
	}
	tr.close(w)

	// The last transaction delivered before the window ends after the
	// snapshot (read from the binlog before InnoDB committed it).
	tr = newTracker()
	tr.delivered(pos("binlog.000003", 1500), txn(ins(tbl, "9")), false)
	w = tr.open(tbl.ID)
	if v := tr.judge(w, ps, pos("binlog.000003", 1500)); !v.retry {
		t.Errorf("transaction delivered before the window, after the snapshot: %+v, want retry", v)
	}
	tr.close(w)

	// Unsure transactions (parts not collected, rolled back to a
	// savepoint) matter only after the snapshot.
	tr = newTracker()
	w = tr.open(tbl.ID)
	tr.delivered(pos("binlog.000003", 800), nil, true)
	if v := tr.judge(w, ps, pos("binlog.000003", 1000)); v.retry || v.all {
		t.Errorf("unsure transaction in the snapshot: %+v, want nothing", v)
	}
	tr.delivered(pos("binlog.000003", 1800), nil, true)
	if v := tr.judge(w, ps, pos("binlog.000003", 1800)); !v.retry {
		t.Errorf("unsure transaction after the snapshot: %+v, want retry", v)
	}
}

func TestAppearingTables(t *testing.T) {
	for _, c := range []struct{ q, want string }{
		{"CREATE TABLE t (id int PRIMARY KEY)", "d.t"},
		{"create table if not exists `x`.`my t` (id int)", "x.my t"},
		{"CREATE OR REPLACE TABLE d2.n SELECT * FROM d.t", "d2.n"},
		{"CREATE TEMPORARY TABLE tmp (id int)", ""},
		{"CREATE TABLE n LIKE t", "d.n"},
		{"RENAME TABLE a TO b, other.c TO d.e", "d.b,d.e"},
		{"RENAME TABLE a WAIT 5 TO b", "d.b"},
		{"ALTER TABLE a RENAME TO b", "d.b"},
		{"ALTER TABLE a ADD COLUMN x int, RENAME AS x.b", "x.b"},
		{"ALTER TABLE a RENAME COLUMN x TO y", ""},
		{"ALTER TABLE a RENAME INDEX i TO j", ""},
		{"CREATE INDEX i ON t (a)", ""},
		{"DROP TABLE t", ""},
	} {
		var got []string
		for _, id := range appearingTables(c.q, "d") {
			got = append(got, id.String())
		}
		if g := strings.Join(got, ","); g != c.want {
			t.Errorf("appearingTables(%q) = %q, want %q", c.q, g, c.want)
		}
	}
}

// model is a merge target in memory: rows by key text.
type model map[string]string

func rowText(r change.Row) string {
	var vs []string
	for _, v := range r {
		vs = append(vs, v.String())
	}
	return strings.Join(vs, "|")
}

// apply applies one transaction as a merge sink does, back-fill chunks
// included (upsert the rows, prune the range but for Keep).
func (m model) apply(t *testing.T, txn *change.Txn, key func(change.Row) string) {
	t.Helper()
	seen := map[string]bool{}
	err := txn.Each(func(c *change.Change) error {
		switch c.Op {
		case change.Insert, change.Update, change.Read:
			if c.Op == change.Update {
				delete(m, key(c.KeyRow()))
			}
			m[key(c.After)] = rowText(c.After)
			seen[key(c.After)] = true
		case change.Delete:
			delete(m, key(c.KeyRow()))
		case change.Truncate:
			clear(m)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	bf := txn.Backfill
	if bf == nil || !bf.Prune {
		return
	}
	for _, k := range bf.Keep {
		seen[key(k)] = true
	}
	num := func(s string) int64 { var n int64; fmt.Sscan(s, &n); return n }
	for k := range m {
		n := num(k)
		if bf.Lo != nil && n <= num(key(bf.Lo)) || bf.Hi != nil && n > num(key(bf.Hi)) || seen[k] {
			continue
		}
		delete(m, k)
	}
}

// TestBackfillUnderWrites back-fills a table while writers change it,
// applying everything the source delivers to an in-memory merge target:
// the target ends equal to the source. With locked, it takes the Oracle
// MySQL way (a table lock while each chunk's snapshot opens) on MariaDB.
func TestBackfillUnderWrites(t *testing.T) {
	for _, locked := range []bool{false, true} {
		t.Run(fmt.Sprintf("locked=%v", locked), func(t *testing.T) { backfillUnderWrites(t, locked) })
	}
}

func backfillUnderWrites(t *testing.T, locked bool) {
	srv := startServer(t, mytest.Options{})
	const n = 20000
	exec(t, srv, "CREATE DATABASE d; CREATE TABLE d.t (id bigint PRIMARY KEY, a int NOT NULL, b varchar(40)); CREATE TABLE d.marker (id int PRIMARY KEY)")
	exec(t, srv, fmt.Sprintf("INSERT INTO d.t SELECT seq, seq %% 100, md5(seq) FROM d.seq_1_to_%d", n))
	forceLockedSnapshot, testChunkDelay, firstChunkRows = locked, 30*time.Millisecond, 500
	defer func() { forceLockedSnapshot, testChunkDelay, firstChunkRows = false, 0, 2000 }()
	src := newSource(t, srv, Options{Tables: []string{"d.*"}})
	ctx := context.Background()
	if err := src.Start(ctx, current(t, src)); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("mysql", srv.DriverDSN("d"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var stop atomic.Bool
	var wg sync.WaitGroup
	var ops atomic.Int64
	for i := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rnd := rand.New(rand.NewPCG(uint64(i), 7))
			for !stop.Load() {
				id := 1 + rnd.IntN(n+n/10)
				var q string
				switch r := rnd.IntN(10); {
				case r < 5:
					q = fmt.Sprintf("UPDATE t SET a = a + 1, b = md5(rand()) WHERE id = %d", id)
				case r < 7:
					q = fmt.Sprintf("DELETE FROM t WHERE id = %d", id)
				default:
					q = fmt.Sprintf("INSERT INTO t VALUES (%d, 0, 'new') ON DUPLICATE KEY UPDATE a = a + 1000, b = 'reinserted'", id)
				}
				if _, err := db.Exec(q); err != nil {
					t.Error(err)
					return
				}
				ops.Add(1)
				// A pace the stream keeps up with: a stream far behind emits
				// each chunk as soon as it reaches the chunk's snapshot, with
				// nothing between to race (right, but it proves little).
				time.Sleep(time.Millisecond)
			}
		}()
	}
	time.Sleep(200 * time.Millisecond)
	src.Backfill([]checkpoint.Backfill{{Table: "d.t", ID: "test"}})
	target := model{}
	key := func(r change.Row) string { return r[0].String() }
	chunks, stale := 0, 0
	deadline := time.Now().Add(90 * time.Second)
	for done := false; !done; {
		if time.Now().After(deadline) {
			t.Fatalf("back-fill not done after %d chunks", chunks)
		}
		nctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		txn, err := src.Next(nctx)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		if txn.Backfill != nil {
			chunks++
			stale += len(txn.Backfill.Keep)
			if txn.Backfill.Err != "" {
				t.Fatalf("back-fill gave up: %s", txn.Backfill.Err)
			}
			done = txn.Backfill.Done
		}
		if txn.Position == nil {
			t.Fatalf("transaction %s without a position", txn.ID)
		}
		target.apply(t, txn, key)
		txn.Close()
	}
	stop.Store(true)
	wg.Wait()
	exec(t, srv, "INSERT INTO d.marker VALUES (1)")
	for {
		_, cs := nextTxnApply(t, src, target, key)
		if len(cs) == 1 && cs[0].Table.ID.Name == "marker" {
			break
		}
	}
	want := model{}
	rows, err := db.Query("SELECT id, a, b FROM t")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id, a int64
		var b string
		if err := rows.Scan(&id, &a, &b); err != nil {
			t.Fatal(err)
		}
		want[fmt.Sprint(id)] = fmt.Sprintf("%d|%d|%s", id, a, b)
	}
	rows.Close()
	var diffs []string
	for k, v := range want {
		if target[k] != v {
			diffs = append(diffs, fmt.Sprintf("%s: source %q target %q", k, v, target[k]))
		}
	}
	for k, v := range target {
		if _, ok := want[k]; !ok {
			diffs = append(diffs, fmt.Sprintf("%s: only in the target %q", k, v))
		}
	}
	if len(diffs) > 0 {
		sort.Strings(diffs)
		t.Fatalf("%d rows differ, e.g. %s", len(diffs), strings.Join(diffs[:min(len(diffs), 10)], "; "))
	}
	t.Logf("%d rows equal after %d chunks (%d stale keys kept) with %d writes meanwhile", len(want), chunks, stale, ops.Load())
	if stale == 0 {
		t.Errorf("no chunk had a stale key: the writes never raced a chunk")
	}
}

// nextTxnApply reads the next transaction into target and returns its changes.
func nextTxnApply(t *testing.T, src *Source, target model, key func(change.Row) string) (*change.Txn, []*change.Change) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	txn, err := src.Next(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer txn.Close()
	var cs []*change.Change
	txn.Each(func(c *change.Change) error { cc := *c; cs = append(cs, &cc); return nil }) //nolint:errcheck
	if txn.Backfill == nil && (len(cs) == 0 || cs[0].Table.ID.Name == "t") {
		target.apply(t, txn, key)
	}
	return txn, cs
}

// TestCheckBackfill: what a back-fill request is refused for, with the fix.
func TestCheckBackfill(t *testing.T) {
	srv := startServer(t, mytest.Options{})
	exec(t, srv, `CREATE DATABASE d; CREATE DATABASE other;
		CREATE TABLE d.pk (id int PRIMARY KEY); CREATE TABLE d.uniq (code varchar(10) NOT NULL, v int, UNIQUE KEY (code));
		CREATE TABLE d.nullable (code varchar(10), UNIQUE KEY (code)); CREATE TABLE d.nokey (v int); CREATE TABLE other.x (id int PRIMARY KEY)`)
	src := newSource(t, srv, Options{Tables: []string{"d.*"}})
	for _, c := range []struct{ table, where, err string }{
		{"d.pk", "", ""},
		{"d.pk", "id > 10", ""},
		{"d.uniq", "", ""},
		{"d.pk", "nosuch > 1", "nosuch"},
		{"d.nokey", "", "d.nokey has no primary key"},
		{"d.nullable", "", "ADD PRIMARY KEY"},
		{"other.x", "", "add it to source.tables"},
		{"d.missing", "", "does not exist"},
	} {
		err := src.CheckBackfill(context.Background(), checkpoint.Backfill{Table: c.table, Where: c.where})
		switch {
		case c.err == "" && err != nil:
			t.Errorf("%s where %q: %v", c.table, c.where, err)
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
			t.Errorf("%s where %q: error %v, want one saying %q", c.table, c.where, err, c.err)
		}
	}
}
