package main

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

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
	t.Parallel()
	for _, dst := range []string{"postgres", "mysql"} {
		t.Run("to_"+dst, func(t *testing.T) { t.Parallel(); startsInSubtransaction(t, dst) })
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
