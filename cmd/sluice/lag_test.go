package main

import (
	"context"
	"testing"
	"time"
)

// TestLaggingShapeChanges: while sluice is stopped, one table's primary key
// changes to other columns, another table gets rows and is then dropped, and
// more is written. Old changes must be applied with the shape they were
// written with (the key from the log, not today's catalog): the surviving
// tables end equal, and the dropped table's last rows reach the target,
// which keeps the table.
func TestLaggingShapeChanges(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "")
	e.srcExec(`CREATE TABLE acct (id int, code text NOT NULL, n int, CONSTRAINT acct_pk PRIMARY KEY (id));
		CREATE TABLE gone (id int PRIMARY KEY, v text);
		CREATE TABLE fullk (id int PRIMARY KEY, v text); ALTER TABLE fullk REPLICA IDENTITY FULL;
		CREATE TABLE gonefull (id int PRIMARY KEY, v text); ALTER TABLE gonefull REPLICA IDENTITY FULL;
		INSERT INTO acct SELECT g, 'c' || g, g FROM generate_series(1, 50) g;
		INSERT INTO gone SELECT g, 'v' || g FROM generate_series(1, 20) g;
		INSERT INTO fullk SELECT g, 'v' || g FROM generate_series(1, 20) g;
		INSERT INTO gonefull SELECT g, 'v' || g FROM generate_series(1, 20) g;`)
	p := e.start()
	e.waitEqual(60*time.Second, p, "acct", "gone", "fullk", "gonefull")
	p.stop(t)

	// Old shape: changes keyed by id.
	e.srcExec(`UPDATE acct SET n = n + 100 WHERE id <= 10; DELETE FROM acct WHERE id BETWEEN 11 AND 15;
		INSERT INTO acct VALUES (51, 'c51', 51);
		UPDATE gone SET v = 'late' WHERE id <= 5; DELETE FROM gone WHERE id > 18; INSERT INTO gone VALUES (21, 'new');
		UPDATE gonefull SET v = 'late' WHERE id <= 5; DELETE FROM gonefull WHERE id > 18; INSERT INTO gonefull VALUES (21, 'new');
		UPDATE fullk SET v = 'before' WHERE id <= 3;`)
	want := map[string][]string{}
	for _, tbl := range []string{"gone", "gonefull"} {
		r, err := rows(t, e.src.DSN("app"), tbl)
		if err != nil {
			t.Fatal(err)
		}
		want[tbl] = r
	}
	e.srcExec(`ALTER TABLE acct DROP CONSTRAINT acct_pk, ADD PRIMARY KEY (code);
		ALTER TABLE fullk DROP CONSTRAINT fullk_pkey, ADD PRIMARY KEY (v, id);
		DROP TABLE gone; DROP TABLE gonefull;`)
	// New shape: keyed by code; ids may now repeat and change.
	e.srcExec(`UPDATE acct SET id = id + 1000 WHERE id BETWEEN 20 AND 25;
		INSERT INTO acct VALUES (1, 'dup-of-1', 7);
		UPDATE acct SET code = 'moved' WHERE code = 'c30'; DELETE FROM acct WHERE code = 'c31';
		UPDATE fullk SET v = 'after' WHERE id BETWEEN 4 AND 6; DELETE FROM fullk WHERE id = 7;`)

	p = e.start()
	e.waitEqual(60*time.Second, p, "acct", "fullk")
	for tbl, w := range want {
		got, err := rows(t, e.dst.DSN("dwh"), tbl)
		if err != nil {
			t.Fatalf("target %s: %v", tbl, err)
		}
		if d := diffRows(w, got); d != "" {
			t.Errorf("target %s does not hold the dropped table's last rows: %s\nlog:\n%s", tbl, d, tail(p.logText(), 4000))
		}
	}
	// Later changes still flow.
	e.srcExec(`INSERT INTO acct VALUES (2, 'after-restart', 1)`)
	e.waitEqual(30*time.Second, p, "acct")
	if key, _ := e.dst.QueryValue(context.Background(), "dwh", `SELECT string_agg(a.attname, ',' ORDER BY a.attname) FROM pg_index i
		JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey) WHERE i.indrelid = 'public.acct'::regclass AND i.indisprimary`); key != "code" {
		t.Errorf("target acct's primary key is on %q, want code", key)
	}
	p.stop(t)
}
