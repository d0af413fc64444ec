package mysql

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/sluicecdc/sluice/pkg/change"
)

// typeCols covers every MySQL type of the change.MySQL contract.
var typeCols = []string{
	"id", "int!",
	"ti", "tinyint", "tiu", "tinyint unsigned", "si", "smallint", "siu", "smallint unsigned",
	"mi", "mediumint", "miu", "mediumint unsigned", "i", "int", "iu", "int unsigned",
	"bi", "bigint", "biu", "bigint unsigned",
	"dec", "decimal(65,30)", "dec2", "decimal(10,2) unsigned",
	"f", "float", "d", "double",
	"b1", "bit(1)", "b64", "bit(64)",
	"e", "enum('a','b','c d','A')", "st", "set('x','y','z')",
	"vc", "varchar(50)", "tx", "text",
	"bn", "binary(4)", "vb", "varbinary(300)", "bl", "blob",
	"dt", "date", "dtm", "datetime(6)", "ts", "timestamp(6)", "tm", "time(6)", "tm0", "time", "yr", "year",
	"j", "json",
}

func allBytes() string {
	var b []byte
	for i := range 300 {
		b = append(b, byte(i*7))
	}
	return string(b)
}

// typeRows are MySQL-dialect texts exactly as a MySQL source writes them.
var typeRows = [][]string{
	{"1", "127", "255", "32767", "65535", "8388607", "16777215", "2147483647", "4294967295",
		"9223372036854775807", "18446744073709551615",
		"99999999999999999999999999999999999.999999999999999999999999999999", "99999999.99",
		"3.4028235e+38", "1.7976931348623157e+308", "1", strings.Repeat("1", 64),
		"c d", "x,z", "I ❤ 🐬 ünïcode 'quoted' \\ back", strings.Repeat("long text ", 6000),
		"\x00a\x00\x00", allBytes(), strings.Repeat(allBytes(), 200),
		"9999-12-31", "9999-12-31 23:59:59.999999", "2038-01-19 03:14:07.999999", "838:59:59.000000", "-838:59:59", "2155",
		`{"a": [1, 2.5, "x\"y"], "b": null, "c": "🐬"}`},
	{"2", "-128", "0", "-32768", "0", "-8388608", "0", "-2147483648", "0",
		"-9223372036854775808", "0",
		"-99999999999999999999999999999999999.999999999999999999999999999999", "0.00",
		"-1e-45", "5e-324", "0", strings.Repeat("0", 64),
		"A", "", "", "",
		"\x00\x00\x00\x00", "", "",
		"0000-00-00", "0000-00-00 00:00:00.000000", "0000-00-00 00:00:00.000000", "-838:59:59.000000", "00:00:00", "0000",
		"[]"},
	{"3", "0", "1", "-1", "1", "-1", "1", "-1", "1",
		"-1", "9223372036854775808",
		"0.000000000000000000000000000001", "12.50",
		"0.1", "0.1", "1", "0" + strings.Repeat("1", 63),
		"a", "x,y,z", "a ", "trailing space ",
		"a\x00\x00 ", "'\\\"\x00\r\n\x1a", "\x00",
		"2024-02-29", "2024-01-31 13:45:00.000001", "1970-01-01 00:00:01.000000", "123:45:06.500000", "-00:00:01", "1901",
		`"just a string"`},
	{"4", null, null, null, null, null, null, null, null, null, null, null, null, null, null, null, null,
		null, null, null, null, null, null, null, null, null, null, null, null, null, null},
}

// readTypes reads the table back with the sink's session settings, in the
// contract's texts: floats as Go's shortest text, bits as 0/1 digits.
func readTypes(t *testing.T, db *sql.DB, tbl *change.Table, ident string) [][]string {
	t.Helper()
	var sel []string
	for _, c := range tbl.Columns {
		switch kindOf(c) {
		case kindFloat, kindDouble:
			sel = append(sel, "CAST(`"+c.Name+"` AS DOUBLE)")
		case kindBit:
			sel = append(sel, "BIN(`"+c.Name+"`)")
		default:
			sel = append(sel, "`"+c.Name+"`")
		}
	}
	got := rows(t, db, "SELECT "+strings.Join(sel, ", ")+" FROM "+ident+" ORDER BY 1")
	for _, r := range got {
		for i, c := range tbl.Columns {
			if r[i] == "NULL" {
				continue
			}
			if c.Type == "year" { // the server sends YEAR 0 as "0" and leaves the ZEROFILL padding to clients
				r[i] = fmt.Sprintf("%04s", r[i])
			}
			switch kindOf(c) {
			case kindFloat:
				f, _ := strconv.ParseFloat(r[i], 64)
				r[i] = strconv.FormatFloat(float64(float32(f)), 'g', -1, 32)
			case kindDouble:
				f, _ := strconv.ParseFloat(r[i], 64)
				r[i] = strconv.FormatFloat(f, 'g', -1, 64)
			case kindBit:
				n, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(c.Type, "bit("), ")"))
				r[i] = strings.Repeat("0", n-len(r[i])) + r[i]
			}
		}
	}
	return got
}

func compareRows(t *testing.T, tbl *change.Table, got [][]string, want [][]string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d rows, want %d", len(got), len(want))
	}
	for r := range want {
		for i, c := range tbl.Columns {
			w := want[r][i]
			if w == null {
				w = "NULL"
			}
			if got[r][i] != w {
				g, ws := got[r][i], w
				if len(g) > 80 || len(ws) > 80 {
					g, ws = fmt.Sprintf("%d bytes %.40q...", len(g), g), fmt.Sprintf("%d bytes %.40q...", len(ws), ws)
				}
				t.Errorf("row %d column %s %s: got %q, want %q", r+1, c.Name, c.Type, g, ws)
			}
		}
	}
}

// TestTypesRoundTrip writes every contract type's extremes through Apply and
// through Load (LOAD DATA and INSERT), and reads back the very same texts and
// bytes.
func TestTypesRoundTrip(t *testing.T) {
	ctx := context.Background()
	read := reader(t, shared)
	for _, how := range []string{"apply", "load", "load_insert"} {
		t.Run(how, func(t *testing.T) {
			tbl := table("types_"+how, "all_types", []int{0}, typeCols...)
			s := newSink(t, shared, Options{})
			if how == "load_insert" {
				s.infileOnce.Do(func() {}) // no LOAD DATA
			}
			if how == "apply" {
				txn := change.NewTxn("", 0)
				for _, r := range typeRows {
					txn.Add(ins(tbl, r...))
				}
				txn.Position = pos(1)
				apply(t, s, txn)
			} else {
				if err := s.PrepareSnapshot(ctx, []*change.Table{tbl}); err != nil {
					t.Fatal(err)
				}
				err := s.Load(ctx, tbl, func(yield func(change.Row) error) error {
					for _, r := range typeRows {
						if err := yield(row(r...)); err != nil {
							return err
						}
					}
					return nil
				})
				if err != nil {
					t.Fatal(err)
				}
			}
			compareRows(t, tbl, readTypes(t, read, tbl, "types_"+how+".all_types"), typeRows)
		})
	}
}

// TestExoticKeys uses the inexact-looking types as a composite key: deletes
// (row constructors) and key moves must find exactly their rows.
func TestExoticKeys(t *testing.T) {
	tbl := table("keys", "k", []int{0, 1, 2, 3, 4, 5, 6, 7},
		"dec", "decimal(65,30)!", "u", "bigint unsigned!", "f", "float!", "d", "double!",
		"vb", "varbinary(8)!", "dt", "datetime(6)!", "bt", "bit(64)!", "e", "enum('a','A')!", "v", "text")
	a := []string{"12345678901234567890123456789012345.123456789012345678901234567891", "18446744073709551615", "0.1", "0.1",
		"\x00'\\", "2024-01-31 13:45:00.000001", strings.Repeat("1", 64), "a", "va"}
	b := []string{"12345678901234567890123456789012345.123456789012345678901234567890", "18446744073709551614", "0.2", "0.30000000000000004",
		"\x00'", "2024-01-31 13:45:00.000000", strings.Repeat("1", 63) + "0", "A", "vb"}
	moved := append([]string{}, b[:8]...)
	moved[2] = "3.4028235e+38"
	s := newSink(t, shared, Options{})
	apply(t, s, txnOf(1, ins(tbl, a...), ins(tbl, b...)))
	// Move b to a new key without sending v (a MoveUpdate), then delete a.
	apply(t, s, txnOf(2, upd(tbl, row(b...), row(append(moved, unchanged)...))))
	apply(t, s, txnOf(3, del(tbl, a...)))
	got := readTypes(t, reader(t, shared), tbl, "`keys`.k")
	compareRows(t, tbl, got, [][]string{append(moved, "vb")})
	// Rows that differ only in the last digit of a decimal, a float or a
	// bit must not be taken for each other: delete b's old key (gone) only.
	apply(t, s, txnOf(4, del(tbl, b...)))
	compareRows(t, tbl, readTypes(t, reader(t, shared), tbl, "`keys`.k"), [][]string{append(moved, "vb")})
}

// TestKeylessDuplicates: a table without key may hold equal rows; an update
// or delete touches exactly one of them, matched exactly even through
// float, double, bit, json, binary and NULL columns.
func TestKeylessDuplicates(t *testing.T) {
	tbl := table("keyless", "log", nil, "v", "int", "f", "float", "d", "double", "b", "bit(8)", "j", "json",
		"bin", "varbinary(8)", "n", "varchar(5)")
	r1 := []string{"1", "0.1", "0.1", "00000101", `{"a": [1, 2]}`, "\x00\x01'\\", null}
	r2 := []string{"1", "0.2", "0.1", "00000101", `{"a": [1, 2]}`, "\x00\x01'\\", null}
	r1b := append([]string{"2"}, r1[1:]...)
	s := newSink(t, shared, Options{})
	apply(t, s, txnOf(1, ins(tbl, r1...), ins(tbl, r1...), ins(tbl, r1...), ins(tbl, r2...), ins(tbl, r2...)))
	apply(t, s, txnOf(2,
		upd(tbl, row(r1...), row(r1b...)),
		del(tbl, r2...),
		ins(tbl, r2...),
		upd(tbl, row(r1...), row(r1b...)),
		del(tbl, r1b...),
	))
	db := reader(t, shared)
	got := rows(t, db, "SELECT v, CAST(f AS DOUBLE), COUNT(*) FROM keyless.log GROUP BY v, f ORDER BY v, f")
	want := "[[1 0.10000000149011612 1] [1 0.20000000298023224 2] [2 0.10000000149011612 1]]"
	if fmt.Sprint(got) != want {
		t.Fatalf("rows %v, want %s", got, want)
	}
	// A row the target does not hold is drift: a clear error, not a no-op.
	err := s.Apply(context.Background(), txnOf(3, del(tbl, "9", "0.1", "0.1", "00000101", "[]", "", null)))
	if err == nil {
		err = s.Flush(context.Background())
	}
	if err == nil || !strings.Contains(err.Error(), "drifted") {
		t.Fatalf("want a drift error, got %v", err)
	}
	if !bytes.Contains([]byte(err.Error()), []byte("keyless.log")) {
		t.Fatalf("the error does not name the table: %v", err)
	}
}
