package main

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// testVerifyCrossTypes is the cross-engine verify scenario: the
// type-fidelity table of xtypes_test.go (a column of every type the
// mapping covers) replicated across engines verifies equal; then, for each
// compared column, one copy of row 1 gets that column's value changed on
// the target (taken from another row, so it is a valid value of the type),
// and verify names exactly those keys and exits 1.
//
// hashed is where the rows must be hashed ("servers" or "sluice"): through
// the servers, the equal run reads no row into sluice.
func testVerifyCrossTypes(t *testing.T, from, to string, table string, cols []string, setup func(e *verifyEnv), donor func(col, dst string) string, hashed string) {
	e := newVerifyEnv(t, from, to, "")
	setup(e)
	// One copy of row 1 per column: row 1000+i has column i changed below.
	ids := make([]string, len(cols))
	for i := range cols {
		ids[i] = fmt.Sprint(1000 + i)
	}
	p := e.start()
	defer p.stop(t)

	var code int
	var rep verifyReport
	var out string
	deadline := time.Now().Add(2 * time.Minute)
	for {
		code, rep, out = e.runVerify(e.cfg)
		if code == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(2 * time.Second)
	}
	if tb := rep.table(table); code != 0 || tb.Status != "equal" || tb.Rows < int64(len(cols)) {
		t.Fatalf("%s → %s: verify of the replicated types table: exit %d, status %q, %d rows; want exit 0, equal:\n%s\nsluice log tail:\n%s",
			from, to, code, tb.Status, tb.Rows, out, tail(p.logText(), 3000))
	}

	tb := rep.table(table)
	t.Logf("%s → %s: rows hashed in the %s, %d rows read into sluice; note %q", from, to, tb.Hashed, tb.RowsFetched, tb.Note)
	if tb.Hashed != hashed || (hashed == "servers") != (tb.RowsFetched == 0) {
		t.Fatalf("%s → %s: rows hashed in the %q, %d rows read into sluice; want hashed in the %q (and no row read when in the servers):\n%s", from, to, tb.Hashed, tb.RowsFetched, hashed, out)
	}
	checkVerifyMetrics(t, e.addr, table, 1, 0, 0)

	dst := e.targetTable(table)
	for i, c := range cols {
		q := `"` + c + `"`
		if to == "mysql" {
			q = "`" + c + "`"
		}
		e.to.exec(t, fmt.Sprintf("UPDATE %s SET %s = (%s) WHERE id = %s", dst, q, donor(q, dst), ids[i]))
	}
	code, rep, out = e.runVerify(e.cfg)
	tb = rep.table(table)
	var want []string
	for _, id := range ids {
		want = append(want, "changed "+id)
	}
	slices.Sort(want)
	if got := diffKeys(tb); code != 1 || tb.Status != "differ" || !slices.Equal(got, want) || tb.Hashed != hashed {
		t.Fatalf("%s → %s: after changing one value of each type on the target: exit %d, status %q, hashed in the %q,\ngot  %v\nwant %v\n%s",
			from, to, code, tb.Status, tb.Hashed, got, want, out)
	}
	checkVerifyMetrics(t, e.addr, table, 0, 1, len(cols))
}

// checkVerifyMetrics scrapes the running sluice's /metrics and checks the
// last verify run's gauges there: the tables equal and differing, and the
// differing rows (in total and of table).
func checkVerifyMetrics(t *testing.T, addr, table string, equal, differ, rows int) {
	t.Helper()
	mfs := scrape(t, "http://"+addr)
	checks := []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"sluice_verify_tables", map[string]string{"status": "equal"}, float64(equal)},
		{"sluice_verify_tables", map[string]string{"status": "differ"}, float64(differ)},
		{"sluice_verify_tables", map[string]string{"status": "skipped"}, 0},
		{"sluice_verify_differing_rows", nil, float64(rows)},
		{"sluice_verify_table_differing_rows", map[string]string{"table": table}, float64(rows)},
	}
	for _, c := range checks {
		if got, ok := value(mfs, c.name, c.labels); !ok || got != c.want {
			t.Errorf("/metrics after verify: %s%v = %v (present %v), want %v", c.name, c.labels, got, ok, c.want)
		}
	}
	last, ok := value(mfs, "sluice_verify_last_run_timestamp_seconds", nil)
	if age := float64(time.Now().UnixNano())/1e9 - last; !ok || age < 0 || age > 120 {
		t.Errorf("/metrics: sluice_verify_last_run_timestamp_seconds = %v, want within the last two minutes", last)
	}
}

// TestVerifyCrossMariaDBToPostgres: every MariaDB type of the mapping,
// verified in PostgreSQL.
func TestVerifyCrossMariaDBToPostgres(t *testing.T) {
	t.Parallel()
	cols := []string{"ti", "tiu", "si", "mi", "iu", "bu", "bi", "de", "fl", "dbl", "b1", "b64", "bo", "en", "st",
		"vc", "tx", "bn", "vb", "bl", "d", "dt", "ts", "tm", "yr", "js"}
	setup := func(e *verifyEnv) {
		e.from.exec(t, mysqlTypesDDL)
		e.from.exec(t, "SET sql_mode = ''; INSERT INTO app.types VALUES "+strings.Join(mysqlTypeRows, ","))
		e.from.exec(t, "INSERT INTO app.types SELECT seq, "+strings.Join(cols, ", ")+" FROM app.types, app.seq_1000_to_"+
			fmt.Sprint(999+len(cols))+" WHERE id = 1")
	}
	// Row 3 differs from row 1 in every column but d (both zero-ish dates
	// become -infinity): d takes row 4's.
	donor := func(c, dst string) string {
		if c == `"d"` {
			return "SELECT d FROM " + dst + " WHERE id = 4"
		}
		return "SELECT " + c + " FROM " + dst + " WHERE id = 3"
	}
	testVerifyCrossTypes(t, "mysql", "postgres", "app.types", cols, setup, donor, "servers")
}

// TestVerifyCrossPostgresToMariaDB: every PostgreSQL type of the mapping,
// verified in MariaDB. Arrays become JSON by rules no SQL repeats on
// MariaDB, so this table is hashed in sluice, row by row.
func TestVerifyCrossPostgresToMariaDB(t *testing.T) {
	t.Parallel()
	testVerifyCrossPostgresToMariaDB(t, true)
}

// TestVerifyCrossPostgresToMariaDBHashed: the same table without its array
// columns is hashed in the servers.
func TestVerifyCrossPostgresToMariaDBHashed(t *testing.T) {
	t.Parallel()
	testVerifyCrossPostgresToMariaDB(t, false)
}

func testVerifyCrossPostgresToMariaDB(t *testing.T, arrays bool) {
	cols := []string{"b", "i2", "i4", "i8", "r", "d8", "n", "nu", "vc", "ch", "tx", "by", "dt", "ts", "tz", "t", "tt", "iv", "u",
		"j", "jb", "bt", "e", "arr", "tarr", "ip", "nan"}
	hashed := "sluice"
	if !arrays {
		cols = slices.DeleteFunc(cols, func(c string) bool { return c == "arr" || c == "tarr" })
		hashed = "servers"
	}
	setup := func(e *verifyEnv) {
		e.from.exec(t, postgresTypesDDL)
		e.from.exec(t, "INSERT INTO public.types VALUES "+postgresTypeRow1)
		e.from.exec(t, `INSERT INTO public.types (id, b, dt, ts, tz) VALUES (2, false, '-infinity', 'infinity', '2024-01-01 00:00:00.5-08')`)
		e.from.exec(t, `INSERT INTO public.types (id) VALUES (3)`)
		// Row 4: a value of every column other than row 1's.
		e.from.exec(t, `INSERT INTO public.types SELECT 4, NOT b, i2 + 1, i4 - 1, i8 + 1, r * 2, d8 * 2, n + 1, nu + 1, vc || 'x', 'cd', tx || 'x',
			by || '\x01'::bytea, dt + 1, ts + interval '1 second', tz + interval '1 second', '23:00', '11:00+02', iv + interval '1 second',
			'b0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{"a": 2}', '{"b": [3]}', B'010', 'sad', '{4}', '{"z"}', '10.0.0.2/8', 1.5
			FROM public.types WHERE id = 1`)
		if !arrays {
			e.from.exec(t, "ALTER TABLE public.types DROP COLUMN arr, DROP COLUMN tarr")
		}
		e.from.exec(t, "INSERT INTO public.types SELECT g, "+strings.Join(cols, ", ")+" FROM public.types, generate_series(1000, "+
			fmt.Sprint(999+len(cols))+") g WHERE id = 1")
	}
	// MariaDB cannot read the updated table in a subquery; a derived table
	// is materialised first.
	donor := func(c, dst string) string {
		return "SELECT " + c + " FROM (SELECT " + c + " FROM " + dst + " WHERE id = 4) AS d"
	}
	testVerifyCrossTypes(t, "postgres", "mysql", "public.types", cols, setup, donor, hashed)
}

// TestVerifyPostgresHashEqualValuesDiffer: PostgreSQL → PostgreSQL, values
// that compare equal in SQL but print differently (numeric scale, float
// minus zero, an array's element spacing cannot differ, but a json's can)
// are still differences: the row hash keeps them apart.
func TestVerifyPostgresHashEqualValuesDiffer(t *testing.T) {
	t.Parallel()
	e := newVerifyEnv(t, "postgres", "postgres", "")
	e.from.exec(t, `CREATE TABLE eq (id int PRIMARY KEY, n numeric, f float8, j json, s text, c char(4));
		INSERT INTO eq SELECT g, 1.0, 0, '{"a": 1}', 'abc', 'ab' FROM generate_series(1, 6) g`)
	p := e.start()
	defer p.stop(t)
	var code int
	var out string
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(time.Second) {
		if code, _, out = e.runVerify(e.cfg); code == 0 || time.Now().After(deadline) {
			break
		}
	}
	if code != 0 {
		t.Fatalf("verify of the replicated table: exit %d, want 0:\n%s", code, out)
	}
	dst := e.targetTable("public.eq")
	e.to.exec(t, `UPDATE `+dst+` SET n = 1.00 WHERE id = 1;
		UPDATE `+dst+` SET f = '-0' WHERE id = 2;
		UPDATE `+dst+` SET j = '{"a":1}' WHERE id = 3;
		UPDATE `+dst+` SET s = 'ABC' WHERE id = 4;
		UPDATE `+dst+` SET c = 'ab ' WHERE id = 5`)
	code, rep, out := e.runVerify(e.cfg)
	got := diffKeys(rep.table("public.eq"))
	want := []string{"changed 1", "changed 2", "changed 3", "changed 4"} // char(4) 'ab ' is 'ab' padded: no change
	if code != 1 || !slices.Equal(got, want) {
		t.Fatalf("exit %d, differences %v, want exit 1 and %v:\n%s", code, got, want, out)
	}
}
