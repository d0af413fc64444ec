package main

import (
	"fmt"
	"slices"
	"testing"
	"time"
)

// TestVerifyRepairHistory: MariaDB → PostgreSQL into a history target,
// with changes flowing. Current versions made wrong by hand (a value
// changed, a current version closed, one moved to a key the source lacks)
// are found, --repair fixes them while the changes flow (a new current
// version copied from the source; the stray one closed, its history kept),
// and verify exits 0 again.
func TestVerifyRepairHistory(t *testing.T) {
	t.Parallel()
	e := newVerifyEnv(t, "mysql", "postgres", "mode: history\n")
	e.from.exec(t, `CREATE TABLE app.items (id int PRIMARY KEY, v varchar(40), n int);
		INSERT INTO app.items SELECT seq, CONCAT('v', seq), seq FROM app.seq_1_to_300;`)
	p := e.start()
	defer p.stop(t)
	waitVerified(t, e, e.cfg, 2*time.Minute)

	stop := make(chan struct{})
	done := make(chan error, 1)
	go func() { // changes to rows 100..300 while verify and repair run
		run, closeFn, err := e.txRunner(t.Context())
		if err != nil {
			done <- err
			return
		}
		defer closeFn()
		for i := 0; ; i++ {
			select {
			case <-stop:
				done <- nil
				return
			case <-time.After(5 * time.Millisecond):
			}
			if err := run(t.Context(), []string{fmt.Sprintf("UPDATE app.items SET n = n + 1 WHERE id = %d", 100+i%200)}); err != nil {
				done <- err
				return
			}
		}
	}()
	defer func() {
		if stop != nil {
			close(stop)
			<-done
		}
	}()

	e.to.exec(t, `UPDATE app.items SET v = 'wrong' WHERE id = 5 AND _current;
		UPDATE app.items SET _current = false WHERE id = 6 AND _current;
		UPDATE app.items SET id = 1000 WHERE id = 7 AND _current`)
	code, rep, out := e.runVerify(e.cfg)
	want := []string{"changed 5", "extra 1000", "missing 6", "missing 7"}
	if got := diffKeys(rep.table("app.items")); code != 1 || !slices.Equal(got, want) {
		t.Fatalf("history target with wrong current versions: exit %d, differences %q, want 1 and %q\n%s", code, got, want, out)
	}
	code, rep, out = e.runVerify(e.cfg, "--repair")
	if tb := rep.table("app.items"); code != 0 || tb.Repaired == nil || *tb.Repaired != len(want) {
		t.Fatalf("verify --repair of the history target: exit %d, repaired %v, want 0 and %d repaired\n%s\nsluice log tail:\n%s", code, tb.Repaired, len(want), out, tail(p.logText(), 3000))
	}
	if code, _, out = e.runVerify(e.cfg); code != 0 {
		t.Fatalf("verify after --repair: exit %d, want 0\n%s", code, out)
	}
	// The wrong version is kept as history, closed; key 1000 has no current version.
	dst := e.to.(*pgEnd)
	n, err := dst.c.QueryValue(t.Context(), dst.db, `SELECT count(*) FILTER (WHERE v = 'wrong' AND NOT _current)::text || '/' ||
		count(*) FILTER (WHERE id = 1000 AND _current)::text FROM app.items`)
	if err != nil {
		t.Fatal(err)
	}
	if n != "1/0" {
		t.Errorf("history after --repair: closed wrong versions / current versions of 1000 = %s, want 1/0", n)
	}
	close(stop)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	stop = nil
}
