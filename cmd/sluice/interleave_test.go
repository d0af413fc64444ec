package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sluicecdc/sluice/internal/pgtest"
)

// The tests here interleave a large transaction T, which the source streams
// while it runs (logical_decoding_work_mem = 64kB) and Sluice applies in
// parts, with small transactions H that commit on other connections while T
// runs. The source's commit order is H before T, so the target must end as
// if H had been applied first, whatever T does to H's rows afterwards, and
// whether T, or a subtransaction of T, rolls back.

// newStreamEnv starts a PostgreSQL source that streams large transactions
// and a target of engine dstKind ("postgres" or "mysql").
func newStreamEnv(t *testing.T, dstKind string) *xenv {
	t.Helper()
	x := &xenv{env: &env{t: t, dir: t.TempDir()}}
	c := pgtest.Start(t, pgtest.Options{Settings: map[string]string{"logical_decoding_work_mem": "64kB"}})
	if err := c.CreateDB(context.Background(), "app"); err != nil {
		t.Fatal(err)
	}
	x.from = &pgEnd{c: c, db: "app"}
	x.to = startEndpoint(t, dstKind, "dwh", false)
	x.cfg = filepath.Join(x.dir, "sluice.yaml")
	cfg := fmt.Sprintf(`name: test
source:
  kind: postgres
  dsn: %s
  tables: ["public.*"]
sink:
  kind: %s
  dsn: %s
checkpoint:
  path: %s
log:
  level: debug
`, x.from.dsn(), dstKind, x.to.dsn(), filepath.Join(x.dir, "test.checkpoint"))
	if err := os.WriteFile(x.cfg, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return x
}

// running is a transaction left open on the source, driven step by step.
type running struct {
	t    *testing.T
	conn *pgx.Conn
}

func (x *xenv) begin(t *testing.T) *running {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, x.from.dsn())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	r := &running{t: t, conn: conn}
	r.exec("BEGIN")
	return r
}

func (r *running) exec(sql string) {
	r.t.Helper()
	if _, err := r.conn.Exec(context.Background(), sql); err != nil {
		r.t.Fatalf("running transaction: %v\n%s", err, sql)
	}
}

// bulk makes T large enough to be streamed: n rows of group grp into big.
func (r *running) bulk(grp, n int) {
	r.t.Helper()
	from := grp * 1000000
	r.exec(fmt.Sprintf("INSERT INTO big SELECT g, %d, repeat('t', 60) FROM generate_series(%d, %d) g", grp, from, from+n-1))
}

// waitSent waits until the source has sent everything committed so far to
// Sluice, then gives Sluice a moment to take it.
func (x *xenv) waitSent(t *testing.T, p *proc) {
	t.Helper()
	c := x.from.(*pgEnd).c
	ctx := context.Background()
	lsn, err := c.QueryValue(ctx, "app", "SELECT pg_current_wal_flush_lsn()::text")
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		n, err := c.QueryValue(ctx, "app", fmt.Sprintf("SELECT count(*) FROM pg_stat_replication WHERE sent_lsn >= '%s'", lsn))
		if err == nil && n != "0" {
			break
		}
		if time.Now().After(deadline) {
			t.Logf("the source did not report sending %s within 60s; going on", lsn)
			break
		}
		select {
		case err := <-p.done:
			t.Fatalf("sluice exited (%v); log:\n%s", err, tail(p.logText(), 8000))
		default:
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(500 * time.Millisecond)
}

// count runs a query returning one text value on the target (both engines
// take concat(count(*)) as text).
func (x *xenv) count(t *testing.T, q string) string {
	t.Helper()
	out, err := queryText(context.Background(), x.to, q)
	if err != nil || len(out) != 1 {
		t.Fatalf("target: %v %v\n%s", out, err, q)
	}
	return out[0]
}

// invisible fails when any row of T's group grp is visible in the target.
func (x *xenv) invisible(t *testing.T, grp int, when string) {
	t.Helper()
	if n := x.count(t, fmt.Sprintf("SELECT concat(count(*)) FROM public.big WHERE grp = %d", grp)); n != "0" {
		t.Fatalf("%s: %s rows of the uncommitted running transaction are visible in the target", when, n)
	}
}

// startFor starts sluice from a subtest: the process belongs to the parent
// test, so it outlives the subtest.
func (x *xenv) startFor(parent *testing.T) *proc {
	sub := x.t
	x.t = parent
	defer func() { x.t = sub }()
	return x.start()
}

// alive returns p, or a new sluice process if p has exited (after a failed
// subtest), so that the next subtest starts from a running pipeline.
func (x *xenv) alive(parent *testing.T, p *proc) *proc {
	select {
	case <-p.done:
		return x.startFor(parent)
	case <-time.After(100 * time.Millisecond):
	}
	if p.cmd.Process.Signal(syscall.Signal(0)) != nil { // exited, and p.done was read
		return x.startFor(parent)
	}
	return p
}

var flushedRE = regexp.MustCompile(`"txns":(\d+),"changes":(\d+),.*"message":"batch flushed"`)

// appliedTogether tells whether log shows a running transaction applied in
// parts, committed in one target transaction with at least txns whole
// transactions and changes changes: those that committed while it ran.
func appliedTogether(log string, txns, changes int) bool {
	if !strings.Contains(log, `"running transaction committed"`) {
		return false
	}
	for _, m := range flushedRE.FindAllStringSubmatch(log, -1) {
		n, _ := strconv.Atoi(m[1])
		c, _ := strconv.Atoi(m[2])
		if n >= txns && c >= changes {
			return true
		}
	}
	return false
}

// heldCase is one interleaving: T bulk-inserts into big (so it is streamed),
// runs first, the held transactions commit one by one on other connections,
// then T runs rest and ends with end.
type heldCase struct {
	name   string
	tables []string // checked row for row, with big
	first  string
	held   []string
	rest   string
	end    string // COMMIT or ROLLBACK
	kill   bool   // kill -9 Sluice after the held transactions commit and restart it before T ends
}

var heldCases = []heldCase{{
	// The scenario: H's update is overwritten by T's later one.
	name:   "update",
	tables: []string{"u_acct"},
	held:   []string{"UPDATE u_acct SET bal = 100 WHERE id = 1", "UPDATE u_acct SET bal = bal + 1 WHERE id = 2", "INSERT INTO u_acct VALUES (4, 4)"},
	rest:   "UPDATE u_acct SET bal = 200 WHERE id = 1; UPDATE u_acct SET bal = bal * 10 WHERE id = 2; UPDATE u_acct SET bal = bal + 40 WHERE id = 4",
	end:    "COMMIT",
}, {
	// H inserts rows T deletes or updates, deletes rows T inserts again.
	name:   "reinsert",
	tables: []string{"r_items", "r_log"},
	held: []string{"INSERT INTO r_items VALUES (100, 'held'), (101, 'held'); INSERT INTO r_log VALUES (1, 'held'), (1, 'held')",
		"DELETE FROM r_items WHERE id IN (1, 2)", "UPDATE r_items SET v = 'held' WHERE id = 3"},
	rest: `DELETE FROM r_items WHERE id = 100; INSERT INTO r_items VALUES (1, 'running'); UPDATE r_items SET v = 'running' WHERE id = 101;
		DELETE FROM r_items WHERE id = 3; INSERT INTO r_items VALUES (3, 'again');
		DELETE FROM r_log WHERE n = 1 AND v = 'held'; INSERT INTO r_log VALUES (1, 'running')`,
	end: "COMMIT",
}, {
	// H empties a table that T fills afterwards.
	name:   "truncate",
	tables: []string{"tr_tt"},
	held:   []string{"TRUNCATE tr_tt", "INSERT INTO tr_tt VALUES (1, 'held')"},
	rest:   "INSERT INTO tr_tt SELECT g, 'running' FROM generate_series(3, 8) g; UPDATE tr_tt SET v = 'running' WHERE id = 1",
	end:    "COMMIT",
}, {
	// Sluice dies between H's commit and T's.
	name:   "kill9",
	tables: []string{"k_acct"},
	held:   []string{"UPDATE k_acct SET bal = 100 WHERE id = 1", "DELETE FROM k_acct WHERE id = 2", "INSERT INTO k_acct VALUES (4, 4)"},
	rest:   "UPDATE k_acct SET bal = 200 WHERE id = 1; INSERT INTO k_acct VALUES (2, 22); DELETE FROM k_acct WHERE id = 4",
	end:    "COMMIT",
	kill:   true,
}, {
	// T changes H's rows, then rolls back: H must stay.
	name:   "rollback",
	tables: []string{"rb_acct"},
	held:   []string{"UPDATE rb_acct SET bal = 100 WHERE id = 1", "INSERT INTO rb_acct VALUES (3, 3)", "DELETE FROM rb_acct WHERE id = 2"},
	rest:   "UPDATE rb_acct SET bal = 200 WHERE id = 1; DELETE FROM rb_acct WHERE id = 3; INSERT INTO rb_acct VALUES (2, 22)",
	end:    "ROLLBACK",
}, {
	// H commits while T is inside a subtransaction that changes H's rows and
	// rolls back; T then changes them again at the top level and commits.
	name:   "subrollback",
	tables: []string{"sr_acct"},
	first:  "SAVEPOINT s; INSERT INTO big SELECT {grp} * 1000000 + 500000 + g, {grp}, 'sub' FROM generate_series(1, 3000) g",
	held:   []string{"UPDATE sr_acct SET bal = 100 WHERE id = 1", "DELETE FROM sr_acct WHERE id = 2", "INSERT INTO sr_acct VALUES (3, 3)"},
	rest: `UPDATE sr_acct SET bal = 200 WHERE id = 1; DELETE FROM sr_acct WHERE id = 3; ROLLBACK TO s;
		UPDATE sr_acct SET bal = bal + 5 WHERE id = 1; INSERT INTO sr_acct VALUES (2, 22); UPDATE sr_acct SET bal = 33 WHERE id = 3`,
	end: "COMMIT",
}}

// TestHeldBehindStreamed: transactions that commit while a large one is
// applied in parts (issue item 1) land in the target in source commit order:
// T's later update, delete and insert of H's rows win over H, a held
// TRUNCATE does not erase T's later inserts, a kill -9 between H's commit
// and T's loses and repeats nothing, and a rollback of T or of one of its
// subtransactions keeps H. T's rows are never visible before T commits.
func TestHeldBehindStreamed(t *testing.T) {
	for _, dst := range []string{"postgres", "mysql"} {
		t.Run("to_"+dst, func(t *testing.T) { heldBehindStreamed(t, dst) })
	}
}

func heldBehindStreamed(t *testing.T, dst string) {
	x := newStreamEnv(t, dst)
	x.from.exec(t, `CREATE TABLE big (id int PRIMARY KEY, grp int, pad text);
		CREATE TABLE u_acct (id int PRIMARY KEY, bal int); INSERT INTO u_acct VALUES (1, 0), (2, 0), (3, 0);
		CREATE TABLE r_items (id int PRIMARY KEY, v text); INSERT INTO r_items SELECT g, 'orig' FROM generate_series(1, 10) g;
		CREATE TABLE r_log (n int, v text); ALTER TABLE r_log REPLICA IDENTITY FULL; INSERT INTO r_log VALUES (0, 'orig');
		CREATE TABLE tr_tt (id int PRIMARY KEY, v text); INSERT INTO tr_tt SELECT g, 'orig' FROM generate_series(1, 5) g;
		CREATE TABLE k_acct (id int PRIMARY KEY, bal int); INSERT INTO k_acct VALUES (1, 0), (2, 0), (3, 0);
		CREATE TABLE rb_acct (id int PRIMARY KEY, bal int); INSERT INTO rb_acct VALUES (1, 0), (2, 0);
		CREATE TABLE sr_acct (id int PRIMARY KEY, bal int); INSERT INTO sr_acct VALUES (1, 0), (2, 0);`)
	p := x.start()
	all := []string{"public.big"}
	for _, c := range heldCases {
		for _, tbl := range c.tables {
			all = append(all, "public."+tbl)
		}
	}
	x.waitSame(90*time.Second, p, all...)
	parent := t
	for i, c := range heldCases {
		grp := i + 1
		t.Run(c.name, func(t *testing.T) {
			x.t = t
			p = x.alive(parent, p)
			mark := len(p.logText())
			T := x.begin(t)
			T.bulk(grp, 40000)
			if c.first != "" {
				T.exec(strings.ReplaceAll(c.first, "{grp}", strconv.Itoa(grp)))
			}
			for _, h := range c.held {
				x.from.exec(t, h)
			}
			x.waitSent(t, p)
			x.invisible(t, grp, "after the held transactions")
			if c.kill {
				p.kill9()
				p, mark = x.startFor(parent), 0
				x.waitSent(t, p)
				x.invisible(t, grp, "after the restart")
			}
			T.exec(c.rest)
			x.invisible(t, grp, "before T ends")
			T.exec(c.end)
			tables := []string{"public.big"}
			for _, tbl := range c.tables {
				tables = append(tables, "public."+tbl)
			}
			x.waitSame(90*time.Second, p, tables...)
			// T and every H committed in one target transaction: the H
			// were applied while T's parts were open.
			if log := p.logText()[mark:]; c.end == "COMMIT" && !appliedTogether(log, len(c.held)+1, 40000) {
				t.Fatalf("T was not applied in parts with the held transactions inside; log:\n%s", tail(log, 8000))
			}
		})
	}
	x.t = t
	p = x.alive(t, p)
	p.stop(t)
}

// smallLoad commits one small insert into side after another on its own
// connection until the returned stop is called, which reports its error.
func (x *xenv) smallLoad(t *testing.T, note string) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	conn, err := pgx.Connect(ctx, x.from.dsn())
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		defer conn.Close(context.Background())
		for ctx.Err() == nil {
			if _, err := conn.Exec(ctx, "INSERT INTO side (note) VALUES ($1)", note); err != nil && ctx.Err() == nil {
				done <- err
				return
			}
			time.Sleep(time.Millisecond)
		}
		done <- nil
	}()
	return func() {
		t.Helper()
		cancel()
		if err := <-done; err != nil {
			t.Fatalf("small transactions: %v", err)
		}
	}
}

// TestStreamedStartsInSubtransaction (issue item 7): a large transaction
// whose first change lies in a subtransaction (an ORM's nested transaction,
// a PL/pgSQL EXCEPTION block) is delivered with a Savepoint part before any
// other. Small transactions commit all the while on another connection, so
// that one is often applied right before it. SAVEPOINT a, writes, ROLLBACK
// TO a, more writes, then COMMIT or ROLLBACK (once with a SIGTERM of Sluice
// before the COMMIT, which must drop T's parts cleanly); and SAVEPOINT a,
// writes, RELEASE a, COMMIT. Sluice must not stop, no rolled-back row may reach the
// target, no row of T may be visible before it commits, and the target
// equals the source.
func TestStreamedStartsInSubtransaction(t *testing.T) {
	for _, dst := range []string{"postgres", "mysql"} {
		t.Run("to_"+dst, func(t *testing.T) { startsInSubtransaction(t, dst) })
	}
}

func startsInSubtransaction(t *testing.T, dst string) {
	x := newStreamEnv(t, dst)
	x.from.exec(t, `CREATE TABLE big (id int PRIMARY KEY, grp int, pad text); CREATE TABLE side (id serial PRIMARY KEY, note text);`)
	p := x.start()
	x.waitSame(60*time.Second, p, "public.big", "public.side")
	rollbackTo := []string{"SAVEPOINT a", "INSERT INTO big SELECT {grp} * 1000000 + g, {grp}, 'rolled back' FROM generate_series(1, 20000) g",
		"ROLLBACK TO a", "INSERT INTO big SELECT {grp} * 1000000 + 500000 + g, {grp}, 'kept' FROM generate_series(1, 20000) g"}
	release := []string{"SAVEPOINT a", "INSERT INTO big SELECT {grp} * 1000000 + g, {grp}, 'kept in a' FROM generate_series(1, 20000) g",
		"RELEASE a", "INSERT INTO big SELECT {grp} * 1000000 + 500000 + g, {grp}, 'kept' FROM generate_series(1, 20000) g"}
	rounds := []struct {
		name    string
		stmts   []string
		end     string
		sigterm bool // stop Sluice with SIGTERM before T ends (it must exit cleanly) and start it again
	}{
		{"rollback_to_commit_1", rollbackTo, "COMMIT", false},
		{"rollback_to_commit_2", rollbackTo, "COMMIT", false},
		{"release_commit", release, "COMMIT", false},
		{"rollback_to_sigterm_commit", rollbackTo, "COMMIT", true},
		{"rollback_to_abort_1", rollbackTo, "ROLLBACK", false},
		{"rollback_to_abort_2", rollbackTo, "ROLLBACK", false},
	}
	parent := t
	for i, r := range rounds {
		grp := i + 1
		t.Run(r.name, func(t *testing.T) {
			x.t = t
			p = x.alive(parent, p)
			mark := len(p.logText())
			stop := x.smallLoad(t, r.name)
			T := x.begin(t)
			for _, s := range r.stmts {
				T.exec(strings.ReplaceAll(s, "{grp}", strconv.Itoa(grp)))
			}
			x.waitSent(t, p)
			x.invisible(t, grp, "before T ends")
			if r.sigterm {
				p.stop(t)
				p, mark = x.startFor(parent), 0
				x.waitSent(t, p)
				x.invisible(t, grp, "after the restart")
			}
			T.exec(r.end)
			stop()
			x.waitSame(90*time.Second, p, "public.big", "public.side")
			log := p.logText()[mark:]
			// After the SIGTERM the source had been acked past T's start (the
			// transactions applied inside T were flushed on the way out), so
			// PostgreSQL sends T whole at its commit instead of streaming it.
			if r.end == "COMMIT" && !r.sigterm && !strings.Contains(log, `"running transaction committed"`) {
				t.Fatalf("T was not applied in parts while it ran; log:\n%s", tail(log, 8000))
			}
			if strings.Contains(log, `"level":"error"`) || strings.Contains(log, "transient failure") {
				t.Fatalf("sluice failed on the way; log:\n%s", tail(log, 8000))
			}
		})
	}
	x.t = t
	p = x.alive(t, p)
	p.stop(t)
}

// TestHeldDDLKeylessToMySQL (issue item 6): PostgreSQL → MariaDB, a large
// transaction T fills a table without a key (where a replayed insert shows
// up as a doubled row) while transactions H that need DDL on the target (a
// column added at the source, a table's first change) commit. MySQL DDL
// commits implicitly, so while T's parts are open it must run aside:
// committing T's parts with the position of an earlier transaction would
// make a crash replay T. Sluice is killed with kill -9 before T's commit,
// while H's DDL waits for a lock on the target, right after T's commit, and
// a later H fails on the target once. Every table must end equal to the
// source, the keyless ones without a doubled row.
func TestHeldDDLKeylessToMySQL(t *testing.T) {
	x := newStreamEnv(t, "mysql")
	my := x.to.(*myEnd)
	ctx := context.Background()
	heaps := []string{"heap_before", "heap_ddl", "heap_after", "heap_failed"}
	ddl := `CREATE TABLE big (id int PRIMARY KEY, grp int, pad text);
		CREATE TABLE side (id int PRIMARY KEY, note text); INSERT INTO side VALUES (0, 'seed');
		CREATE TABLE guard (id int PRIMARY KEY, v text); INSERT INTO guard VALUES (0, 'seed');`
	for _, h := range heaps {
		ddl += fmt.Sprintf("CREATE TABLE %[1]s (n int, v text); ALTER TABLE %[1]s REPLICA IDENTITY FULL; INSERT INTO %[1]s VALUES (1, 'seed'), (1, 'seed');", h)
	}
	x.from.exec(t, ddl)
	p := x.start()
	all := []string{"public.big", "public.side", "public.guard"}
	for _, h := range heaps {
		all = append(all, "public."+h)
	}
	x.waitSame(90*time.Second, p, all...)

	parent := t
	// round runs T on heap with the held transactions held, then T's end;
	// between, at and after run at those points.
	round := func(t *testing.T, grp int, heap string, held []string, between, after func()) {
		T := x.begin(t)
		T.exec(fmt.Sprintf("INSERT INTO %s SELECT g %% 100, 'running' FROM generate_series(1, 2000) g", heap))
		T.bulk(grp, 30000)
		for _, h := range held {
			x.from.exec(t, h)
		}
		if between != nil {
			between()
		}
		T.exec(fmt.Sprintf(`INSERT INTO %[1]s SELECT g %% 100, 'later' FROM generate_series(1, 500) g;
			UPDATE %[1]s SET v = 'updated' WHERE n = 7 AND v = 'running'; DELETE FROM %[1]s WHERE n = 8`, heap))
		T.exec("COMMIT")
		if after != nil {
			after()
		}
	}

	t.Run("kill_before_commit", func(t *testing.T) {
		x.t = t
		p = x.alive(parent, p)
		round(t, 1, "heap_before", []string{"ALTER TABLE side ADD COLUMN b1 text; INSERT INTO side VALUES (1, 'before', 'b')"}, func() {
			x.waitSent(t, p)
			x.invisible(t, 1, "after H")
			p.kill9()
			p = x.startFor(parent)
			x.waitSent(t, p)
			x.invisible(t, 1, "after the restart")
		}, nil)
		x.waitSame(90*time.Second, p, "public.big", "public.side", "public.heap_before")
	})

	t.Run("kill_during_ddl", func(t *testing.T) {
		x.t = t
		p = x.alive(parent, p)
		// A reader on the target holds side's metadata lock: the ALTER
		// that H needs waits, and Sluice is killed while it does.
		lock, err := my.s.DB().Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer lock.Close()
		var n int
		if _, err := lock.ExecContext(ctx, "START TRANSACTION"); err != nil {
			t.Fatal(err)
		}
		if err := lock.QueryRowContext(ctx, "SELECT count(*) FROM public.side").Scan(&n); err != nil {
			t.Fatal(err)
		}
		round(t, 2, "heap_ddl", []string{"ALTER TABLE side ADD COLUMN a1 text; INSERT INTO side VALUES (2, 'ddl', 'a')"}, nil, func() {
			waitCheck(t, 60*time.Second, p, func() (string, error) {
				n := x.count(t, `SELECT concat(count(*)) FROM information_schema.processlist WHERE info LIKE 'ALTER TABLE%' AND state LIKE '%metadata lock%'`)
				if n == "0" {
					return "no ALTER TABLE waits for side's metadata lock", nil
				}
				return "", nil
			})
			p.kill9()
			if _, err := lock.ExecContext(ctx, "ROLLBACK"); err != nil {
				t.Fatal(err)
			}
			p = x.startFor(parent)
		})
		x.waitSame(90*time.Second, p, "public.big", "public.side", "public.heap_ddl")
	})

	t.Run("kill_after_commit", func(t *testing.T) {
		x.t = t
		p = x.alive(parent, p)
		round(t, 3, "heap_after", []string{"ALTER TABLE side ADD COLUMN c1 text; INSERT INTO side VALUES (3, 'after', 'c')"}, nil, func() {
			p.kill9()
			p = x.startFor(parent)
		})
		x.waitSame(90*time.Second, p, "public.big", "public.side", "public.heap_after")
	})

	t.Run("held_fails_once", func(t *testing.T) {
		x.t = t
		p = x.alive(parent, p)
		// A table Sluice has not created in the target yet: H's first
		// change to it needs CREATE TABLE there.
		p.stop(t)
		x.from.exec(t, "CREATE TABLE fresh (id int PRIMARY KEY, v text)")
		p = x.startFor(parent)
		waitLog(t, p, `"streaming started"`, 60*time.Second)
		my.exec(t, `CREATE TRIGGER public.guard_once BEFORE INSERT ON public.guard FOR EACH ROW
			BEGIN IF NEW.v = 'boom' THEN SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'refused once by the test'; END IF; END`)
		round(t, 4, "heap_failed", []string{
			"INSERT INTO fresh VALUES (1, 'new'); ALTER TABLE side ADD COLUMN d1 text; INSERT INTO side VALUES (4, 'failed', 'd')",
			"INSERT INTO guard VALUES (4, 'boom')",
		}, nil, nil)
		waitExit(t, p, 90*time.Second, "refused once by the test")
		// The failure came before T's commit: none of T may be committed
		// in the target, whose recorded position is before T.
		if n := x.count(t, "SELECT concat(count(*)) FROM public.heap_failed WHERE v <> 'seed'"); n != "0" {
			t.Errorf("after the failure, %s rows of T are committed in the target", n)
		}
		my.exec(t, "DROP TRIGGER public.guard_once")
		p = x.startFor(parent)
		x.waitSame(90*time.Second, p, "public.big", "public.side", "public.guard", "public.fresh", "public.heap_failed")
	})

	x.t = t
	p = x.alive(t, p)
	x.waitSame(90*time.Second, p, append(all, "public.fresh")...)
	p.stop(t)
}
