package main

import (
	"context"
	"regexp"
	"testing"
	"time"
)

// TestStreamedTransactions forces the server to stream in-progress
// transactions (logical_decoding_work_mem = 64kB): a large committed one
// that spills to disk, one with rolled-back savepoints, an aborted large
// one, and two interleaved ones.
func TestStreamedTransactions(t *testing.T) {
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
	// Two interleaved streamed transactions on separate connections.
	done := make(chan error, 2)
	for i, r := range []string{"600001, 640000", "700001, 740000"} {
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
	// Prove the streamed path and the spill file were used.
	if !regexp.MustCompile(`"changes":300000,"spilled":true,.*"streamed transaction committed"`).MatchString(p.logText()) {
		t.Fatalf("the 300k-row transaction was not streamed and spilled; log:\n%s", p.logText())
	}
	if !regexp.MustCompile(`"changes":40000,.*"streamed transaction committed"`).MatchString(p.logText()) {
		t.Fatalf("the savepoint transaction did not arrive as 40000 changes; log:\n%s", p.logText())
	}
	n, _ := e.dst.QueryValue(context.Background(), "dwh", "SELECT count(*) FROM big WHERE pad LIKE 'rolled back%' OR pad = 'aborted'")
	if n != "0" {
		t.Fatalf("%s rolled-back rows reached the target", n)
	}
	p.stop(t)
}
