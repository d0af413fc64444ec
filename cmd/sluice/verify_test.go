package main

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// verifyRuns is how many times the load tests run verify while the load
// runs and sluice streams; every run must find the tables equal.
const verifyRuns = 20

// testVerifyUnderLoad is the scenario of the verify tests, for one source
// and one target engine: a pgbench-like load runs throughout; verify runs
// repeatedly and finds everything equal; then rows of the target are
// deleted, added, changed (one column type per key) and a keyless row is
// doubled, and verify names exactly those and exits 1; --repair fixes them
// while the load runs, and verify exits 0 again.
func testVerifyUnderLoad(t *testing.T, kind string) {
	e := newVerifyEnv(t, kind, kind, "batch:\n  rows: 2000\n")
	e.pgbench()
	ns := e.ns
	if kind == "postgres" {
		e.from.exec(t, `CREATE TABLE typed (id int PRIMARY KEY, n numeric(12,2), s text, ts timestamptz, j jsonb, b bytea, f float8, d date, u uuid, ok bool);
			INSERT INTO typed SELECT g, g * 1.25, 'text ' || g, '2024-01-01 12:00:00+00'::timestamptz + g * interval '1 hour',
				jsonb_build_object('k', g), decode(lpad(to_hex(g), 4, '0'), 'hex'), g / 3.0, date '2024-01-01' + g,
				md5(g::text)::uuid, g % 2 = 0 FROM generate_series(1, 10) g;
			CREATE TABLE notes (v text, n int);
			ALTER TABLE notes REPLICA IDENTITY FULL;
			INSERT INTO notes SELECT 'note ' || (g % 5), g % 5 FROM generate_series(1, 20) g;`)
	} else {
		e.from.exec(t, `CREATE TABLE app.typed (id int PRIMARY KEY, n decimal(12,2), s varchar(100), ts datetime(6), j json, b varbinary(20), f double, d date, ok tinyint(1));
			INSERT INTO app.typed SELECT seq, seq * 1.25, CONCAT('text ', seq), '2024-01-01 12:00:00' + INTERVAL seq HOUR,
				JSON_OBJECT('k', seq), UNHEX(LPAD(HEX(seq), 4, '0')), seq / 3.0, '2024-01-01' + INTERVAL seq DAY, seq % 2 = 0 FROM app.seq_1_to_10;
			CREATE TABLE app.notes (v text, n int);
			INSERT INTO app.notes SELECT CONCAT('note ', seq % 5), seq % 5 FROM app.seq_1_to_20;`)
	}
	tables := []string{ns + ".accounts", ns + ".branches", ns + ".tellers", ns + ".history", ns + ".typed", ns + ".notes"}
	p := e.start()
	e.waitSame(3*time.Minute, p, tables...)
	l := e.startLoad(2)
	defer func() {
		if l != nil {
			l.end(t)
		}
	}()
	time.Sleep(time.Second)

	var took []time.Duration
	for i := range verifyRuns {
		start := time.Now()
		code, rep, out := e.runVerify(e.cfg)
		took = append(took, time.Since(start))
		if code != 0 || rep.Equal != len(tables) {
			t.Fatalf("run %d under load: exit %d, want 0 with %d tables equal:\n%s\nsluice log tail:\n%s", i+1, code, len(tables), out, tail(p.logText(), 3000))
		}
		if i == 0 || i == verifyRuns-1 {
			for _, tb := range rep.Tables {
				t.Logf("%s: %d rows, %d chunks, %d chunks equal only after the target caught up, %.2fs", tb.Table, tb.Rows, tb.Chunks, tb.Rechecked, tb.Seconds)
			}
		}
	}
	t.Logf("%d verify runs under load, all equal; durations %v", verifyRuns, took)

	// Hand-made differences on the target, on rows the load does not touch.
	to := ns // the target keeps the source schema
	e.to.exec(t, fmt.Sprintf("DELETE FROM %s.accounts WHERE aid = 15000", to))
	e.to.exec(t, fmt.Sprintf("INSERT INTO %s.accounts VALUES (99999999, 1, 0, 'stray')", to))
	e.to.exec(t, fmt.Sprintf("UPDATE %s.accounts SET abalance = 42 WHERE aid = 15001", to))
	changes := []string{"n = 9.99", "s = 'tExt 2'", "ts = ts + INTERVAL '1' SECOND", "j = " + jsonLit(kind), "b = " + bytesLit(kind), "f = f + 0.000001", "d = d + INTERVAL '1' DAY", "ok = NOT ok"}
	for i, c := range changes {
		e.to.exec(t, fmt.Sprintf("UPDATE %s.typed SET %s WHERE id = %d", to, c, i+1))
	}
	e.to.exec(t, fmt.Sprintf("INSERT INTO %s.notes SELECT * FROM %s.notes WHERE v = 'note 3' LIMIT 1", to, to))

	wantTyped := []string{}
	for i := range changes {
		wantTyped = append(wantTyped, fmt.Sprintf("changed %d", i+1))
	}
	slices.Sort(wantTyped)
	check := func(rep verifyReport, out string) {
		t.Helper()
		if got, want := diffKeys(rep.table(ns+".accounts")), []string{"changed 15001", "extra 99999999", "missing 15000"}; !slices.Equal(got, want) {
			t.Errorf("accounts: differences %q, want %q\n%s", got, want, out)
		}
		if got := diffKeys(rep.table(ns + ".typed")); !slices.Equal(got, wantTyped) {
			t.Errorf("typed: differences %q, want %q\n%s", got, wantTyped, out)
		}
		notes := rep.table(ns + ".notes")
		if len(notes.Diffs) != 1 || notes.Diffs[0].Kind != "extra" || notes.Diffs[0].Source != 4 || notes.Diffs[0].Target != 5 || !strings.Contains(notes.Diffs[0].Row, "note 3") {
			t.Errorf("notes: differences %+v, want the row 'note 3', 3 held 4 times on the source and 5 on the target\n%s", notes.Diffs, out)
		}
		for _, tb := range []string{"branches", "tellers", "history"} {
			if st := rep.table(ns + "." + tb).Status; st != "equal" {
				t.Errorf("%s: %s, want equal\n%s", tb, st, out)
			}
		}
	}
	code, rep, out := e.runVerify(e.cfg)
	if code != 1 {
		t.Fatalf("verify after hand-made differences: exit %d, want 1\n%s", code, out)
	}
	check(rep, out)
	if t.Failed() {
		t.FailNow()
	}

	// --repair, while the load runs.
	code, rep, out = e.runVerify(e.cfg, "--repair")
	if code != 0 {
		t.Fatalf("verify --repair: exit %d, want 0\n%s\nsluice log tail:\n%s", code, out, tail(p.logText(), 3000))
	}
	for _, name := range []string{"accounts", "typed", "notes"} {
		tb := rep.table(ns + "." + name)
		if tb.Repaired == nil || tb.Status != "equal" {
			t.Errorf("%s after --repair: %s, repaired %v; want equal, repaired\n%s", name, tb.Status, tb.Repaired, out)
		}
	}
	code, _, out = e.runVerify(e.cfg)
	if code != 0 {
		t.Fatalf("verify after --repair: exit %d, want 0\n%s", code, out)
	}
	l.end(t)
	l = nil
	e.waitSame(time.Minute, p, tables...)
	p.stop(t)
}

func jsonLit(kind string) string {
	if kind == "postgres" {
		return `'{"k": "changed"}'::jsonb`
	}
	return `JSON_OBJECT('k', 'changed')`
}

func bytesLit(kind string) string {
	if kind == "postgres" {
		return `'\xbeef'::bytea`
	}
	return `X'BEEF'`
}

// TestVerifyPostgresUnderLoad: PostgreSQL → PostgreSQL, see testVerifyUnderLoad.
func TestVerifyPostgresUnderLoad(t *testing.T) { testVerifyUnderLoad(t, "postgres") }

// TestVerifyMariaDBUnderLoad: MariaDB → MariaDB, see testVerifyUnderLoad.
func TestVerifyMariaDBUnderLoad(t *testing.T) { testVerifyUnderLoad(t, "mysql") }
