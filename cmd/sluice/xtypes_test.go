package main

import (
	"context"
	"strings"
	"testing"
	"time"
)

// mysqlTypesDDL has a column of every MySQL type the issue lists.
const mysqlTypesDDL = `CREATE TABLE app.types (
  id int PRIMARY KEY,
  ti tinyint, tiu tinyint unsigned, si smallint unsigned, mi mediumint, iu int unsigned,
  bu bigint unsigned, bi bigint, de decimal(65,30), fl float, dbl double,
  b1 bit(1), b64 bit(64), bo bool, en enum('a','b c'), st set('x','y','z'),
  vc varchar(20), tx text, bn binary(4), vb varbinary(10), bl blob,
  d date, dt datetime(6), ts timestamp(6) NULL DEFAULT NULL, tm time(6), yr year, js json)`

// Rows of edge values, written with sql_mode ” so zero dates are allowed.
// Half of them go in before sluice starts (snapshot), half after (stream).
var mysqlTypeRows = []string{
	`(1, -128, 255, 65535, -8388608, 4294967295, 18446744073709551615, -9223372036854775808,
	  '12345678901234567890123456789012345.123456789012345678901234567890', 0.1, 1234.5678,
	  b'1', b'1000000000000000000000000000000000000000000000000000000000000001', true, 'b c', 'x,z',
	  'héllo 🎉', 'line1\nline2\ttab\\', 'a', 0x00ff, '',
	  '0000-00-00', '2024-02-29 23:59:59.123456', '2038-01-19 03:14:07.999999', '-838:59:59.000000', 2155,
	  '{"a": [1, 2.50]}')`,
	`(2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
	  NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)`,
	`(3, 127, 0, 0, 8388607, 0, 0, 9223372036854775807, '-0.000000000000000000000000000001', -1.25, -0.5,
	  b'0', b'0', false, 'a', '', '', '', 0x00000000, X'', 0x000102,
	  '2024-00-10', '0000-00-00 00:00:00', '1970-01-01 00:00:01', '838:59:59.999999', 1901, '[]')`,
	`(4, 0, 1, 1, 0, 1, 1, 0, '0.5', 3.5, 1e-3,
	  b'1', b'1111111111111111111111111111111111111111111111111111111111111111', true, 'a', 'x,y,z',
	  'NULL', 'null', 'ab', 'x', 'big blob',
	  '9999-12-31', '1000-01-01 00:00:00', '2024-06-01 12:00:00', '00:00:00.000001', 0, '"str"')`,
}

// What the MariaDB rows above read as in PostgreSQL (as text, columns by
// name, bytea as hex), per the documented type mapping.
var mysqlTypesInPostgres = []string{
	// b1|b64|bi|bl|bn|bo|bu|d|dbl|de|dt|en|fl|id|iu|js|mi|si|st|ti|tiu|tm|ts|tx|vb|vc|yr
	strings.Join([]string{"1", "1000000000000000000000000000000000000000000000000000000000000001", "-9223372036854775808", "", "61000000", "1",
		"18446744073709551615", "-infinity", "1234.5678", "12345678901234567890123456789012345.123456789012345678901234567890",
		"2024-02-29 23:59:59.123456", "b c", "0.1", "1", "4294967295", `{"a": [1, 2.50]}`, "-8388608", "65535", "x,z", "-128", "255",
		"-838:59:59", "2038-01-19 03:14:07.999999+00", "line1\nline2\ttab\\", "00ff", "héllo 🎉", "2155"}, "|"),
}

// TestTypesMySQLToMySQL replicates every listed type MariaDB → MariaDB and
// compares each value exactly, through snapshot and stream.
func TestTypesMySQLToMySQL(t *testing.T) {
	t.Parallel()
	x := newXEnv(t, "mysql", "mysql", "")
	x.from.exec(t, mysqlTypesDDL)
	x.from.exec(t, "SET sql_mode = ''; INSERT INTO app.types VALUES "+strings.Join(mysqlTypeRows[:2], ","))
	p := x.start()
	x.waitSame(60*time.Second, p, "app.types")
	x.from.exec(t, "SET sql_mode = ''; INSERT INTO app.types VALUES "+strings.Join(mysqlTypeRows[2:], ","))
	x.from.exec(t, "SET sql_mode = ''; UPDATE app.types SET id = id + 10, tx = CONCAT(tx, '+') WHERE id IN (1, 3)")
	x.waitSame(60*time.Second, p, "app.types")
	// A sanity check of the comparison itself: the unsigned maximum is there.
	got, err := x.to.rows(context.Background(), "app.types")
	if err != nil || !strings.Contains(strings.Join(got, "\n"), "18446744073709551615") {
		t.Fatalf("target rows %q, %v: want the bigint unsigned maximum", got, err)
	}
	p.stop(t)
}

// TestTypesMySQLToPostgres replicates every listed type MariaDB →
// PostgreSQL and checks each value against the documented mapping.
func TestTypesMySQLToPostgres(t *testing.T) {
	t.Parallel()
	x := newXEnv(t, "mysql", "postgres", "")
	x.from.exec(t, mysqlTypesDDL)
	x.from.exec(t, "SET sql_mode = ''; INSERT INTO app.types VALUES "+strings.Join(mysqlTypeRows[:2], ","))
	p := x.start()
	x.from.exec(t, "SET sql_mode = ''; INSERT INTO app.types VALUES "+strings.Join(mysqlTypeRows[2:], ","))
	want := map[string]string{
		"1": mysqlTypesInPostgres[0],
		"2": "∅|∅|∅|∅|∅|∅|∅|∅|∅|∅|∅|∅|∅|2|∅|∅|∅|∅|∅|∅|∅|∅|∅|∅|∅|∅|∅",
		"3": strings.Join([]string{"0", "0000000000000000000000000000000000000000000000000000000000000000", "9223372036854775807", "000102", "00000000", "0",
			"0", "-infinity", "-0.5", "-0.000000000000000000000000000001", "-infinity", "a", "-1.25", "3", "0", "[]", "8388607", "0", "", "127", "0",
			"838:59:59.999999", "1970-01-01 00:00:01+00", "", "", "", "1901"}, "|"),
		"4": strings.Join([]string{"1", "1111111111111111111111111111111111111111111111111111111111111111", "0", "62696720626c6f62", "61620000", "1",
			"1", "9999-12-31", "0.001", "0.500000000000000000000000000000", "1000-01-01 00:00:00", "a", "3.5", "4", "1", `"str"`, "0", "1", "x,y,z", "0", "1",
			"00:00:00.000001", "2024-06-01 12:00:00+00", "null", "78", "NULL", "0"}, "|"),
	}
	waitRows(t, p, x.to, "app.types", want, "id")
	p.stop(t)
}

// postgresTypesDDL has PostgreSQL columns of many types, including ones
// MySQL has no equivalent for (arrays, interval, timetz, inet, NaN).
const postgresTypesDDL = `CREATE TYPE mood AS ENUM ('happy', 'sad');
CREATE TABLE public.types (
  id int PRIMARY KEY, b boolean, i2 smallint, i4 int, i8 bigint, r real, d8 double precision,
  n numeric(12,3), nu numeric, vc varchar(10), ch char(5), tx text, by bytea,
  dt date, ts timestamp(3), tz timestamptz, t time, tt timetz, iv interval, u uuid,
  j json, jb jsonb, bt bit(3), e mood, arr int[], tarr text[], ip inet, nan double precision)`

const postgresTypeRow1 = `(1, true, -32768, 2147483647, -9223372036854775808, 0.1, 1234.5678,
  123456789.123, 3.14159265358979323846264338327950288, 'héllo🎉', 'ab', E'a\tb\\c', '\x00ff',
  '2024-02-29', '2024-01-01 10:00:00.123', '2024-06-01 12:00:00+05:30', '24:00:00', '10:00:00+02', '1 day 02:00:00',
  'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{"a": 1}', '{"b": [1, 2]}', B'101', 'happy',
  '{1,NULL,3}', '{"a b","c\"d"}', '10.0.0.1/8', 'NaN')`

// TestTypesPostgresToMySQL replicates PostgreSQL types into MariaDB and
// checks each value against the documented mapping.
func TestTypesPostgresToMySQL(t *testing.T) {
	t.Parallel()
	x := newXEnv(t, "postgres", "mysql", "")
	x.from.exec(t, postgresTypesDDL)
	x.from.exec(t, "INSERT INTO public.types VALUES "+postgresTypeRow1)
	p := x.start()
	x.from.exec(t, `INSERT INTO public.types (id, b, dt, ts, tz) VALUES (2, false, '-infinity', 'infinity', '2024-01-01 00:00:00.5-08')`)
	x.from.exec(t, `INSERT INTO public.types (id) VALUES (3)`)
	// columns by name: arr|b|bt|by|ch|d8|dt|e|i2|i4|i8|id|ip|iv|j|jb|n|nan|nu|r|t|tarr|ts|tt|tx|tz|u|vc
	want := map[string]string{
		"1": strings.Join([]string{"[1,null,3]", "1", "101", "00ff", "ab   ", "1234.5678", "2024-02-29", "happy", "-32768", "2147483647",
			"-9223372036854775808", "1", "10.0.0.1/8", "1 day 02:00:00", `{"a": 1}`, `{"b": [1, 2]}`, "123456789.123", "∅",
			"3.14159265358979323846264338327950288", "0.1", "24:00:00.000000", `["a b","c\"d"]`, "2024-01-01 10:00:00.123", "10:00:00+02",
			"a\tb\\c", "2024-06-01 06:30:00.000000", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "héllo🎉"}, "|"),
		"2": "∅|0|∅|∅|∅|∅|0000-00-00|∅|∅|∅|∅|2|∅|∅|∅|∅|∅|∅|∅|∅|∅|∅|9999-12-31 23:59:59.999|∅|∅|2024-01-01 08:00:00.500000|∅|∅",
		"3": "∅|∅|∅|∅|∅|∅|∅|∅|∅|∅|∅|3|∅|∅|∅|∅|∅|∅|∅|∅|∅|∅|∅|∅|∅|∅|∅|∅",
	}
	waitRows(t, p, x.to, "public.types", want, "id")
	p.stop(t)
}

// waitRows waits until table on e holds exactly the wanted rows (keyed by
// the value of column key, whose position in the sorted column list it
// finds), then reports every differing row.
func waitRows(t *testing.T, p *proc, e endpoint, table string, want map[string]string, key string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		got, err := e.rows(context.Background(), table)
		if err == nil && len(got) == len(want) {
			var bad []string
			for _, r := range got {
				found := false
				for _, w := range want {
					if r == w {
						found = true
						break
					}
				}
				if !found {
					bad = append(bad, r)
				}
			}
			if len(bad) == 0 {
				return
			}
			if time.Now().After(deadline) {
				var b strings.Builder
				for _, r := range bad {
					b.WriteString("\n  got  " + r)
				}
				for k, w := range want {
					b.WriteString("\n  want " + k + ": " + w)
				}
				t.Fatalf("%s differs from the documented mapping:%s", table, b.String())
			}
		} else if time.Now().After(deadline) {
			t.Fatalf("%s: %d rows (%v), want %d; log:\n%s", table, len(got), err, len(want), tail(p.logText(), 6000))
		}
		select {
		case err := <-p.done:
			t.Fatalf("sluice exited (%v); log:\n%s", err, tail(p.logText(), 6000))
		case <-time.After(300 * time.Millisecond):
		}
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}
