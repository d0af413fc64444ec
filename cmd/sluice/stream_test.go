package main

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestStreamedTransactions forces the server to stream in-progress
// transactions (logical_decoding_work_mem = 64kB): a large committed one
// that spills to disk, one with rolled-back savepoints, an aborted large
// one, and two interleaved ones.
func TestStreamedTransactions(t *testing.T) {
	t.Parallel()
	e := newEnvWith(t, "", map[string]string{"logical_decoding_work_mem": "64kB"})
	e.srcExec(`CREATE TABLE big (id int PRIMARY KEY, grp int, pad text);`)
	p := e.start()
	e.waitEqual(30*time.Second, p, "big")

	// 300k rows: streamed in many chunks, and past the in-memory limit.
	e.srcExec(`INSERT INTO big SELECT g, 1, repeat('p', 60) FROM generate_series(1, 300000) g;`)
	// Savepoints: the rolled-back ones (including a nested one) must vanish.
	e.srcExec(`BEGIN;
		INSERT INTO big SELECT g, 2, 'kept' FROM generate_series(400001, 410000) g;
		SAVEPOINT a; INSERT INTO big SELECT g, 2, 'rolled back a' FROM generate_series(410001, 420000) g;
		SAVEPOINT b; INSERT INTO big SELECT g, 2, 'rolled back b' FROM generate_series(420001, 425000) g;
		ROLLBACK TO a;
		SAVEPOINT c; INSERT INTO big SELECT g, 2, 'kept c' FROM generate_series(430001, 440000) g; RELEASE c;
		UPDATE big SET pad = 'updated in txn' WHERE id BETWEEN 1 AND 20000;
		COMMIT;`)
	// A large aborted transaction: streamed, then thrown away.
	if err := e.src.Exec(context.Background(), "app", `BEGIN; INSERT INTO big SELECT g, 3, 'aborted' FROM generate_series(500001, 540000) g; ROLLBACK;`); err != nil {
		t.Fatal(err)
	}
	// Two interleaved streamed transactions on separate connections: one is
	// applied in parts while it runs, the other is buffered (and spilled).
	done := make(chan error, 2)
	for i, r := range []string{"600001, 850000", "900001, 1150000"} {
		go func() {
			done <- e.src.Exec(context.Background(), "app", `BEGIN;
				INSERT INTO big SELECT g, 4, 'interleaved' FROM generate_series(`+r+`) g;
				SELECT pg_sleep(0.2);
				DELETE FROM big WHERE id % 7 = `+string(rune('0'+i))+` AND grp = 1;
				COMMIT;`)
		}()
	}
	for range 2 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	e.waitEqual(120*time.Second, p, "big")
	// Prove both paths ran: parts applied while the transaction ran, and a
	// concurrent one buffered and spilled to disk.
	log := p.logText()
	if c := strings.Count(log, `"running transaction committed"`); c < 2 {
		t.Fatalf("want the big transactions applied in parts while running, saw %d; log:\n%s", c, log)
	}
	if !regexp.MustCompile(`"spilled":true,.*"streamed transaction committed"`).MatchString(log) {
		t.Fatalf("want one interleaved transaction buffered and spilled; log:\n%s", log)
	}
	n, _ := e.dst.QueryValue(context.Background(), "dwh", "SELECT count(*) FROM big WHERE pad LIKE 'rolled back%' OR pad = 'aborted'")
	if n != "0" {
		t.Fatalf("%s rolled-back rows reached the target", n)
	}
	p.stop(t)
}

// TestInterruptedRunningTransaction interrupts sluice while a large
// transaction is being applied in parts but has not committed at the source:
// by kill -9, by SIGTERM, and by crashing the source server. The target must
// never show the uncommitted rows, and must end equal to the source.
func TestInterruptedRunningTransaction(t *testing.T) {
	t.Parallel()
	e := newEnvWith(t, "", map[string]string{"logical_decoding_work_mem": "64kB"})
	e.srcExec(`CREATE TABLE big (id int PRIMARY KEY, grp int, pad text); CREATE TABLE side (id serial PRIMARY KEY, note text);`)
	p := e.start()
	e.waitEqual(30*time.Second, p, "big", "side")
	for round, how := range []string{"kill -9", "SIGTERM", "source crash"} {
		from := 100000 * (round + 1)
		done := make(chan error, 1)
		go func() { // streams for a while, then waits before committing
			done <- e.src.Exec(context.Background(), "app", fmt.Sprintf(`BEGIN;
				INSERT INTO big SELECT g, %d, repeat('r', 60) FROM generate_series(%d, %d) g;
				SELECT pg_sleep(2);
				COMMIT;`, round, from, from+50000))
		}()
		// Meanwhile small transactions commit (held behind the running one).
		for i := 0; i < 5; i++ {
			e.srcExec(fmt.Sprintf("INSERT INTO side (note) VALUES ('%s %d')", how, i))
			time.Sleep(200 * time.Millisecond)
		}
		n, _ := e.dst.QueryValue(context.Background(), "dwh", fmt.Sprintf("SELECT count(*) FROM big WHERE grp = %d", round))
		if n != "0" {
			t.Fatalf("%s: %s uncommitted rows are visible in the target", how, n)
		}
		switch how {
		case "kill -9":
			p.kill9()
			p = e.start()
		case "SIGTERM":
			p.stop(t)
			p = e.start()
		case "source crash":
			if err := e.src.Kill(); err != nil {
				t.Fatal(err)
			}
			if err := <-done; err == nil {
				t.Fatal("the running transaction survived a server crash?")
			}
			if err := e.src.Start(context.Background()); err != nil {
				t.Fatal(err)
			}
			done <- nil
		}
		if err := <-done; err != nil {
			t.Fatalf("%s: %v", how, err)
		}
		e.waitEqual(60*time.Second, p, "big", "side")
		t.Logf("%s during a running transaction: target equals source", how)
	}
	p.stop(t)
}
