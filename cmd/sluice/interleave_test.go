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
	t.Parallel()
	for _, dst := range []string{"postgres", "mysql"} {
		t.Run("to_"+dst, func(t *testing.T) { t.Parallel(); heldBehindStreamed(t, dst) })
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
