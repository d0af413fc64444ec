package mysql

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/sluicecdc/sluice/pkg/change"
	"github.com/sluicecdc/sluice/sink/schemachange"
)

// bulkTypeRows are the contract types' rows plus small fillers (copies of
// the last two with fresh ids), enough for an insert action to go in with
// LOAD DATA.
func bulkTypeRows(n int) [][]string {
	out := append([][]string{}, typeRows...)
	for id := len(typeRows) + 1; len(out) < n; id++ {
		r := append([]string{}, typeRows[2+id%2]...)
		r[0] = fmt.Sprint(id)
		out = append(out, r)
	}
	return out
}

// TestBulkInsertTypes: a large insert action goes in with LOAD DATA inside
// the apply transaction and stores every type's extremes exactly; replaying
// the batch over the rows it wrote (REPLACE) leaves the table the same.
func TestBulkInsertTypes(t *testing.T) {
	tbl := table("bulk_types", "all_types", []int{0}, typeCols...)
	want := bulkTypeRows(infileMinRows + 500)
	txn := func(p int) *change.Txn {
		txn := change.NewTxn("", 0)
		for _, r := range want {
			txn.Add(ins(tbl, r...))
		}
		txn.Position = pos(p)
		return txn
	}
	s := newSink(t, shared, Options{})
	read := reader(t, shared)
	apply(t, s, txn(1))
	if s.infileLoads != 1 {
		t.Fatalf("%d LOAD DATA statements, want 1", s.infileLoads)
	}
	compareRows(t, tbl, readTypes(t, read, tbl, "bulk_types.all_types"), want)
	// A replay after a crash: every row is present already.
	apply(t, s, txnOf(0), txn(1))
	if s.infileLoads != 2 {
		t.Fatalf("%d LOAD DATA statements, want 2", s.infileLoads)
	}
	compareRows(t, tbl, readTypes(t, read, tbl, "bulk_types.all_types"), want)
	// A sink that starts afresh (new connection, new probe) replays too.
	s2 := newSink(t, shared, Options{})
	apply(t, s2, txn(1))
	if s2.infileLoads != 1 {
		t.Fatalf("%d LOAD DATA statements, want 1", s2.infileLoads)
	}
	compareRows(t, tbl, readTypes(t, read, tbl, "bulk_types.all_types"), want)
	compareRows(t, tbl, readTypes(t, read, tbl, "bulk_types.all_types"), want)
}

func bulkInserts(tbl *change.Table, n int, val func(i int) []string) *change.Txn {
	txn := change.NewTxn("", 0)
	for i := range n {
		txn.Add(ins(tbl, val(i)...))
	}
	txn.Position = pos(1)
	return txn
}

// TestBulkInsertRollback: LOAD DATA does not commit the open target
// transaction; rolling it back leaves none of the rows.
func TestBulkInsertRollback(t *testing.T) {
	ctx := context.Background()
	const n = infileMinRows + 500
	for _, keyed := range []bool{true, false} {
		name := fmt.Sprint("keyed_", keyed)
		var key []int
		if keyed {
			key = []int{0}
		}
		tbl := table("bulk_rollback", name, key, "id", "int!", "v", "varchar(20)")
		// The chunk fills with the last change: Apply executes it.
		s := newSink(t, shared, Options{ChunkRows: n})
		must(t, s.Apply(ctx, bulkInserts(tbl, n, func(i int) []string { return []string{fmt.Sprint(i), "v"} })))
		if s.infileLoads != 1 {
			t.Fatalf("%s: %d LOAD DATA statements, want 1", name, s.infileLoads)
		}
		var inTx int
		must(t, s.conn.QueryRowContext(ctx, "SELECT COUNT(*) FROM bulk_rollback."+name).Scan(&inTx))
		want(t, inTx, fmt.Sprint(n))
		read := reader(t, shared)
		want(t, rows(t, read, "SELECT COUNT(*) FROM bulk_rollback."+name), "[[0]]")
		_, err := s.conn.ExecContext(ctx, "ROLLBACK")
		must(t, err)
		want(t, rows(t, read, "SELECT COUNT(*) FROM bulk_rollback."+name), "[[0]]")
		must(t, s.conn.QueryRowContext(ctx, "SELECT COUNT(*) FROM bulk_rollback."+name).Scan(&inTx))
		want(t, inTx, "0")
	}
}

// TestBulkAppend: a large append to a keyless table (plain LOAD DATA, no
// REPLACE) keeps every duplicate and NULL.
func TestBulkAppend(t *testing.T) {
	const n = infileMinRows + 1000
	tbl := table("bulk_append", "log", nil, "v", "int", "s", "varchar(20)", "b", "bit(8)", "j", "json")
	s := newSink(t, shared, Options{})
	apply(t, s, bulkInserts(tbl, n, func(i int) []string {
		r := []string{fmt.Sprint(i % 10), "s\t\\\n" + fmt.Sprint(i%3), "00000101", `{"a": 1}`}
		if i%5 == 0 {
			r[1], r[2], r[3] = null, null, null
		}
		return r
	}))
	if s.infileLoads != 1 {
		t.Fatalf("%d LOAD DATA statements, want 1", s.infileLoads)
	}
	want(t, rows(t, reader(t, shared), "SELECT COUNT(*), COUNT(s), SUM(b), SUM(JSON_VALUE(j, '$.a')) FROM bulk_append.log"),
		fmt.Sprintf("[[%d %d %d %d]]", n, n-n/5, 5*(n-n/5), n-n/5))
	want(t, rows(t, reader(t, shared), "SELECT v, COUNT(*) FROM bulk_append.log GROUP BY v ORDER BY v LIMIT 2"),
		fmt.Sprintf("[[0 %d] [1 %d]]", n/10, n/10))
	want(t, rows(t, reader(t, shared), "SELECT s, COUNT(*) FROM bulk_append.log WHERE s IS NOT NULL GROUP BY s ORDER BY s"),
		fmt.Sprintf("[[s\t\\\n0 %d] [s\t\\\n1 %d] [s\t\\\n2 %d]]", count(n, 0), count(n, 1), count(n, 2)))
}

// count is how many i < n with i%5 != 0 have i%3 == m.
func count(n, m int) int {
	c := 0
	for i := range n {
		if i%5 != 0 && i%3 == m {
			c++
		}
	}
	return c
}

// TestBulkInsertRefusesTruncation: a value the target column cannot hold
// (an existing, narrower column) fails the sink naming the table and leaves
// nothing behind, though LOAD DATA LOCAL only warns about it.
func TestBulkInsertRefusesTruncation(t *testing.T) {
	ctx := context.Background()
	const n = infileMinRows + 10
	read := reader(t, shared)
	_, err := read.Exec("CREATE DATABASE IF NOT EXISTS bulk_bad")
	must(t, err)
	for _, keyed := range []bool{true, false} {
		name := fmt.Sprint("keyed_", keyed)
		var key []int
		ddl := "CREATE TABLE bulk_bad." + name + " (id int NOT NULL, s varchar(5))"
		if keyed {
			key = []int{0}
			ddl = "CREATE TABLE bulk_bad." + name + " (id int NOT NULL PRIMARY KEY, s varchar(5))"
		}
		_, err := read.Exec(ddl)
		must(t, err)
		tbl := table("bulk_bad", name, key, "id", "int!", "s", "varchar(50)")
		// ignore: under follow the sink would widen the column first.
		s := newSink(t, shared, Options{SchemaChanges: schemachange.Ignore})
		err = s.Apply(ctx, bulkInserts(tbl, n, func(i int) []string {
			if i == n/2 {
				return []string{fmt.Sprint(i), "too long"}
			}
			return []string{fmt.Sprint(i), "ok"}
		}))
		if err == nil {
			err = s.Flush(ctx)
		}
		if err == nil || !strings.Contains(err.Error(), "bulk_bad."+name) || !strings.Contains(err.Error(), "LOAD DATA") {
			t.Fatalf("%s: want an error naming the table, got %v", name, err)
		}
		t.Logf("%s: %v", name, err)
		if s.Flush(ctx) == nil {
			t.Fatalf("%s: the sink works on after the failure", name)
		}
		want(t, rows(t, read, "SELECT COUNT(*) FROM bulk_bad."+name), "[[0]]")
	}
}

// TestBulkInsertWithoutLocalInfile: a server that refuses LOAD DATA LOCAL
// gets INSERTs for large actions too.
func TestBulkInsertWithoutLocalInfile(t *testing.T) {
	ctx := context.Background()
	must(t, shared.Exec(ctx, "SET GLOBAL local_infile = 0"))
	defer shared.Exec(ctx, "SET GLOBAL local_infile = 1")
	const n = infileMinRows + 10
	tbl := table("bulk_noinfile", "t", []int{0}, "id", "int!", "v", "varchar(20)")
	s := newSink(t, shared, Options{})
	apply(t, s, bulkInserts(tbl, n, func(i int) []string { return []string{fmt.Sprint(i), "v" + fmt.Sprint(i)} }))
	if s.infileLoads != 0 {
		t.Fatalf("%d LOAD DATA statements, want 0", s.infileLoads)
	}
	want(t, rows(t, reader(t, shared), "SELECT COUNT(*), SUM(id), SUM(v = CONCAT('v', id)) FROM bulk_noinfile.t"),
		fmt.Sprintf("[[%d %d %d]]", n, n*(n-1)/2, n))
}
