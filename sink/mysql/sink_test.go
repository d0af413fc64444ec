package mysql

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sluicecdc/sluice/internal/mytest"
	"github.com/sluicecdc/sluice/pkg/change"
)

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func want(t *testing.T, got any, want string) {
	t.Helper()
	if s := fmt.Sprint(got); s != want {
		t.Fatalf("got %s, want %s", s, want)
	}
}

// TestReplayMoveUpdate: a key change whose row keeps an unsent column runs
// as UPDATE ... SET key; replayed over the newer state it must not collide
// with the row it produced the first time.
func TestReplayMoveUpdate(t *testing.T) {
	tbl := table("replay", "t", []int{0}, "id", "int!", "a", "text", "b", "text")
	s := newSink(t, shared, Options{})
	history := func() {
		apply(t, s, txnOf(1, ins(tbl, "1", "a", "b")))
		apply(t, s, txnOf(2, upd(tbl, row("1", missing, missing), row("2", "a2", unchanged))))
	}
	history()
	history()
	want(t, rows(t, reader(t, shared), "SELECT * FROM replay.t"), "[[2 a2 b]]")
}

// TestTargetTables: missing columns are added to an existing table, a table
// without the source's key is refused with the fix, a unique index on the
// key is enough, and created tables use a binary NO PAD collation.
func TestTargetTables(t *testing.T) {
	ctx := context.Background()
	must(t, shared.Exec(ctx, `CREATE DATABASE targets;
		CREATE TABLE targets.items (id int PRIMARY KEY, v text); INSERT INTO targets.items VALUES (1, 'old');
		CREATE TABLE targets.nokey (id int, v text);
		CREATE TABLE targets.prefix (id varchar(20) NOT NULL, UNIQUE KEY (id(5)));
		CREATE TABLE targets.uniq (id int NOT NULL, v text, UNIQUE KEY (id))`))
	read := reader(t, shared)
	items := table("targets", "items", []int{0}, "id", "int!", "v", "text", "Extra", "varchar(10)", "ts", "timestamp(6)!")
	s := newSink(t, shared, Options{})
	apply(t, s, txnOf(1, ins(items, "2", "new", "x", "2024-01-01 00:00:00.000000")))
	want(t, rows(t, read, "SELECT * FROM targets.items ORDER BY id"), "[[1 old NULL NULL] [2 new x 2024-01-01 00:00:00.000000]]")

	for _, name := range []string{"nokey", "prefix"} {
		s := newSink(t, shared, Options{})
		tbl := table("targets", name, []int{0}, "id", "int!")
		err := s.Apply(ctx, txnOf(2, ins(tbl, "1")))
		if err == nil || !strings.Contains(err.Error(), "targets."+name+" has no primary key") ||
			!strings.Contains(err.Error(), "ADD PRIMARY KEY (`id`)") {
			t.Fatalf("want an error naming the table and the fix, got %v", err)
		}
		if err2 := s.Flush(ctx); err2 == nil {
			t.Fatal("a failed sink flushed")
		}
	}

	uniq := table("targets", "uniq", []int{0}, "id", "int!", "v", "text")
	s = newSink(t, shared, Options{})
	apply(t, s, txnOf(3, ins(uniq, "1", "a")), txnOf(4, ins(uniq, "1", "b")))
	want(t, rows(t, read, "SELECT * FROM targets.uniq"), "[[1 b]]")

	created := table("targets", "fresh", []int{1, 0}, "a", "varchar(10)!", "b", "int!")
	apply(t, s, txnOf(5, ins(created, "a", "1"), ins(created, "A", "1"), ins(created, "a ", "1")))
	want(t, rows(t, read, "SELECT COUNT(*) FROM targets.fresh"), "[[3]]")
	ddl := value(t, read, "SELECT CONCAT(TABLE_COLLATION, ' ', ENGINE) FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'targets' AND TABLE_NAME = 'fresh'")
	want(t, ddl, "utf8mb4_nopad_bin InnoDB")
	want(t, rows(t, read, "SELECT COLUMN_NAME FROM information_schema.KEY_COLUMN_USAGE WHERE TABLE_SCHEMA = 'targets' AND TABLE_NAME = 'fresh' AND CONSTRAINT_NAME = 'PRIMARY' ORDER BY ORDINAL_POSITION"),
		"[[b] [a]]")
}

// TestShapeChangeMidBatch: a new column needs ALTER TABLE, which commits
// implicitly; what was applied before it is committed first, with its own
// position, never half a transaction.
func TestShapeChangeMidBatch(t *testing.T) {
	ctx := context.Background()
	v1 := table("shapes", "t", []int{0}, "id", "int!", "a", "text")
	v2 := table("shapes", "t", []int{0}, "id", "int!", "a", "text", "b", "int")
	s := newSink(t, shared, Options{})
	read := reader(t, shared)
	apply(t, s, txnOf(1, ins(v1, "1", "x")))
	must(t, s.Apply(ctx, txnOf(2, ins(v1, "2", "y"))))
	must(t, s.Apply(ctx, txnOf(3, ins(v1, "3", "z"), upd(v2, nil, row("1", "x2", "7")))))
	want(t, value(t, read, "SELECT position FROM sluice.positions WHERE pipeline = ?", s.opts.Pipeline), "2")
	want(t, rows(t, read, "SELECT * FROM shapes.t ORDER BY id"), "[[1 x NULL] [2 y NULL]]")
	must(t, s.Flush(ctx))
	want(t, value(t, read, "SELECT position FROM sluice.positions WHERE pipeline = ?", s.opts.Pipeline), "3")
	want(t, rows(t, read, "SELECT * FROM shapes.t ORDER BY id"), "[[1 x2 7] [2 y NULL] [3 z NULL]]")
}

func part(cs ...change.Change) *change.Txn {
	x := txnOf(0, cs...)
	x.Part = change.Open
	return x
}

// TestSavepoints: a running transaction applied in parts; RollbackTo undoes
// exactly the changes after its mark, executed or still pending.
func TestSavepoints(t *testing.T) {
	ctx := context.Background()
	tbl := table("parts", "t", []int{0}, "id", "int!")
	other := table("parts", "other", []int{0}, "id", "int!")
	s := newSink(t, shared, Options{ChunkRows: 2})
	read := reader(t, shared)
	ids := func() string { return fmt.Sprint(rows(t, read, "SELECT id FROM parts.t ORDER BY id")) }
	apply(t, s, txnOf(1, ins(tbl, "1")))

	must(t, s.Savepoint(ctx, "sluice_part"))
	must(t, s.Apply(ctx, part(ins(tbl, "2"), ins(tbl, "3"), ins(tbl, "4"))))
	must(t, s.Savepoint(ctx, "sluice_sub_a"))
	// A new table is created on the side: nothing may commit meanwhile.
	must(t, s.Apply(ctx, part(ins(tbl, "5"), del(tbl, "2"), ins(other, "1"), del(tbl, "3"), ins(tbl, "6"))))
	must(t, s.RollbackTo(ctx, "sluice_sub_a"))
	must(t, s.Apply(ctx, part(del(tbl, "4"), ins(tbl, "7"))))
	want(t, ids(), "[[1]]") // nothing committed yet
	done := txnOf(2)
	done.Part = change.Done
	must(t, s.Apply(ctx, done))
	must(t, s.Flush(ctx))
	want(t, ids(), "[[1] [2] [3] [7]]")
	want(t, rows(t, read, "SELECT COUNT(*) FROM parts.other"), "[[0]]")
	p, err := s.AppliedPosition(ctx)
	must(t, err)
	want(t, p, "2")

	// An aborted running transaction leaves nothing behind.
	must(t, s.Savepoint(ctx, "sluice_part"))
	must(t, s.Apply(ctx, part(ins(tbl, "8"), del(tbl, "1"), ins(tbl, "9"))))
	must(t, s.RollbackTo(ctx, "sluice_part"))
	apply(t, s, txnOf(3, ins(tbl, "10")))
	want(t, ids(), "[[1] [2] [3] [7] [10]]")
}

// TestPositionsSurviveKill: the position commits with the data. A server
// killed in the middle of a batch leaves neither its data nor its position;
// a flushed batch survives a kill right after Flush returns.
func TestPositionsSurviveKill(t *testing.T) {
	ctx := context.Background()
	srv := mytest.Start(t, mytest.Options{Durable: true, NoBinlog: true, Args: []string{privateTmp(t)}})
	if problems := Check(ctx, srv.DSN("")); len(problems) != 0 {
		t.Fatalf("a durable server with root: %q", problems)
	}
	tbl := table("pos", "t", []int{0}, "id", "int!", "v", "text")
	inserts := func(p, from, to int, v string) *change.Txn {
		txn := txnOf(p)
		for i := from; i <= to; i++ {
			txn.Add(ins(tbl, fmt.Sprint(i), v))
		}
		return txn
	}
	opts := Options{ChunkRows: 100, Pipeline: "kill"}
	s := newSink(t, srv, opts)
	apply(t, s, inserts(1, 1, 10, "a"))
	p, err := s.AppliedPosition(ctx)
	must(t, err)
	want(t, p, "1")

	must(t, s.Apply(ctx, inserts(2, 5, 2000, "b"))) // executed in chunks inside the open transaction
	must(t, srv.Kill())
	if err := s.Flush(ctx); err == nil {
		t.Fatal("Flush succeeded on a killed server")
	}
	if err := s.Apply(ctx, inserts(3, 1, 1, "c")); err == nil {
		t.Fatal("a broken sink accepted more changes")
	}
	must(t, srv.Start(ctx))
	s = newSink(t, srv, opts)
	p, err = s.AppliedPosition(ctx)
	must(t, err)
	want(t, p, "1")
	read := reader(t, srv)
	want(t, rows(t, read, "SELECT COUNT(*), MIN(v), MAX(v) FROM pos.t"), "[[10 a a]]")

	apply(t, s, inserts(2, 5, 2000, "b"))
	must(t, srv.Kill())
	must(t, srv.Start(ctx))
	s = newSink(t, srv, opts)
	p, err = s.AppliedPosition(ctx)
	must(t, err)
	want(t, p, "2")
	want(t, rows(t, reader(t, srv), "SELECT COUNT(*), MIN(v), MAX(v) FROM pos.t"), "[[2000 a b]]")
}

// TestCheck: problems come with their fixes and never quote the password.
func TestCheck(t *testing.T) {
	ctx := context.Background()
	problems := Check(ctx, shared.DSN(""))
	if len(problems) != 1 || !strings.Contains(problems[0], "innodb_flush_log_at_trx_commit is 2") ||
		!strings.Contains(problems[0], "SET GLOBAL innodb_flush_log_at_trx_commit=1") {
		t.Fatalf("non-durable target: %q", problems)
	}

	must(t, shared.Exec(ctx, "CREATE USER 'weak'@'%' IDENTIFIED BY 's3cret-pw'; GRANT SELECT, INSERT, UPDATE, DELETE ON *.* TO 'weak'@'%'"))
	problems = Check(ctx, fmt.Sprintf("mysql://weak:s3cret-pw@127.0.0.1:%d/", shared.Port))
	if len(problems) != 2 || !strings.Contains(problems[0], "cannot create") ||
		!strings.Contains(problems[0], "GRANT SELECT, INSERT, UPDATE, DELETE, CREATE, ALTER, DROP ON *.* TO 'weak'@'%'") {
		t.Fatalf("user without CREATE: %q", problems)
	}
	for _, dsn := range []string{
		fmt.Sprintf("mysql://weak:s3cret-pw@127.0.0.1:%d/", shared.Port),
		fmt.Sprintf("mysql://weak:wrong-s3cret-pw@127.0.0.1:%d/", shared.Port),
		"mysql://weak:s3cret-pw@127.0.0.1:1/",
		"mysql://weak:s3cret-pw@127.0.0.1:port/",
	} {
		problems := Check(ctx, dsn)
		if len(problems) == 0 || strings.Contains(strings.Join(problems, " "), "s3cret") {
			t.Fatalf("%s: %q", dsn, problems)
		}
	}
	_, err := New(ctx, Options{DSN: "mysql://weak:s3cret-pw@127.0.0.1:1/"})
	if err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Fatalf("New on an unreachable target: %v", err)
	}
}

// TestAwkwardStatements: a column name with "?" keeps the driver from
// interpolating, so statements go to the server as prepared statements
// (at most 65,535 parameters each); a value larger than a statement may be
// goes alone.
func TestAwkwardStatements(t *testing.T) {
	tbl := table("awkward", "t", []int{0}, "id", "int!", "what?", "varchar(10)", "big", "longblob")
	big := strings.Repeat("\x00'\\x", 3<<20) // 12 MiB, more with escapes
	s := newSink(t, shared, Options{ChunkRows: 100000})
	txn := txnOf(1, ins(tbl, "0", "zero", big))
	for i := 1; i <= 40000; i++ {
		txn.Add(ins(tbl, fmt.Sprint(i), "v", null))
	}
	apply(t, s, txn)
	apply(t, s, txnOf(2, upd(tbl, nil, row("0", "zero?", big+"x")), del(tbl, "7", missing, missing)))
	read := reader(t, shared)
	want(t, rows(t, read, "SELECT COUNT(*), SUM(LENGTH(big)) FROM awkward.t"), fmt.Sprintf("[[40000 %d]]", len(big)+1))
	want(t, rows(t, read, "SELECT `what?`, MD5(big) = MD5(?) FROM awkward.t WHERE id = 0", big+"x"), "[[zero? 1]]")
}

// TestIdleConnectionClosed: a server closes connections idle for longer
// than wait_timeout; between batches the sink reconnects instead of failing.
func TestIdleConnectionClosed(t *testing.T) {
	ctx := context.Background()
	tbl := table("idle", "t", []int{0}, "id", "int!")
	s := newSink(t, shared, Options{})
	apply(t, s, txnOf(1, ins(tbl, "1")))
	var id int64
	must(t, s.conn.QueryRowContext(ctx, "SELECT CONNECTION_ID()").Scan(&id))
	must(t, shared.Exec(ctx, fmt.Sprintf("KILL CONNECTION %d", id)))
	s.used = time.Time{} // idle for long
	apply(t, s, txnOf(2, ins(tbl, "2")))
	want(t, rows(t, reader(t, shared), "SELECT id FROM idle.t ORDER BY id"), "[[1] [2]]")
}
