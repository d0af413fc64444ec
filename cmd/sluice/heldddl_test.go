package main

import (
	"context"
	"fmt"
	"testing"
	"time"
)

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
	t.Parallel()
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
