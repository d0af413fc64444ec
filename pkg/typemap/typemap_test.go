package typemap

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/sluicecdc/sluice/pkg/change"
)

func table(d change.Dialect, cols ...change.Column) *change.Table {
	return &change.Table{ID: change.TableID{Schema: "s", Name: "t"}, Columns: cols, Dialect: d}
}

// one converts a single value of a one-column table.
func one(t *testing.T, from change.Dialect, col change.Column, v change.Value) (change.Column, change.Value, error) {
	t.Helper()
	to := change.MySQL
	if from == change.MySQL {
		to = change.Postgres
	}
	c := New(to)
	src := table(from, col)
	out, err := c.Table(src)
	if err != nil {
		t.Fatalf("Table(%s): %v", col.Type, err)
	}
	r, err := c.Row(src, change.Row{v})
	if err != nil {
		return out.Columns[0], change.Value{}, err
	}
	return out.Columns[0], r[0], nil
}

func TestMySQLToPostgresTypes(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"tinyint", "smallint"},
		{"tinyint unsigned", "smallint"},
		{"tinyint(1)", "smallint"},
		{"smallint", "smallint"},
		{"smallint unsigned", "integer"},
		{"mediumint", "integer"},
		{"mediumint unsigned", "integer"},
		{"int", "integer"},
		{"int(11)", "integer"},
		{"int unsigned", "bigint"},
		{"int(10) unsigned zerofill", "bigint"},
		{"bigint", "bigint"},
		{"bigint unsigned", "numeric(20,0)"},
		{"decimal(12,2)", "numeric(12,2)"},
		{"decimal(65,30)", "numeric(65,30)"},
		{"decimal(10,0) unsigned", "numeric(10,0)"},
		{"float", "real"},
		{"float(7,3)", "real"},
		{"double", "double precision"},
		{"bit(1)", "bit(1)"},
		{"bit(64)", "bit(64)"},
		{"enum('a','b')", "text"},
		{"set('x','y')", "text"},
		{"char(10)", "character varying(10)"},
		{"char(0)", "text"},
		{"varchar(255)", "character varying(255)"},
		{"tinytext", "text"},
		{"text", "text"},
		{"mediumtext", "text"},
		{"longtext", "text"},
		{"binary(16)", "bytea"},
		{"varbinary(255)", "bytea"},
		{"tinyblob", "bytea"},
		{"blob", "bytea"},
		{"mediumblob", "bytea"},
		{"longblob", "bytea"},
		{"date", "date"},
		{"datetime", "timestamp(0) without time zone"},
		{"datetime(6)", "timestamp(6) without time zone"},
		{"timestamp", "timestamp(0) with time zone"},
		{"timestamp(3)", "timestamp(3) with time zone"},
		{"time", "interval"},
		{"time(6)", "interval"},
		{"year", "smallint"},
		{"year(4)", "smallint"},
		{"json", "json"},
		{"geometry", "bytea"},
		{"point", "bytea"},
		{"polygon", "bytea"},
		{"geomcollection", "bytea"},
		{"uuid", "uuid"},
		{"inet6", "text"},
	} {
		out, err := New(change.Postgres).Table(table(change.MySQL, change.Column{Name: "c", Type: tc.in, Enum: []string{"a"}, Charset: "utf8mb4", NotNull: true}))
		if err != nil {
			t.Errorf("%s: %v", tc.in, err)
			continue
		}
		c := out.Columns[0]
		if c.Type != tc.want || c.Enum != nil || c.Charset != "" || c.TypeOID != 0 || !c.NotNull || c.Name != "c" || out.Dialect != change.Postgres {
			t.Errorf("%s → %+v, want type %s, no enum/charset, NOT NULL kept", tc.in, c, tc.want)
		}
	}
	for _, bad := range []string{"vector(3)", "int frob", "decimal(x,2)", ""} {
		_, err := New(change.Postgres).Table(table(change.MySQL, change.Column{Name: "weird", Type: bad}))
		if err == nil || !strings.Contains(err.Error(), "s.t column weird") || !strings.Contains(err.Error(), fmt.Sprintf("%q", bad)) || !strings.Contains(err.Error(), "fix:") {
			t.Errorf("type %q: err = %v, want one naming table, column, type and fix", bad, err)
		}
	}
}

func TestMySQLToPostgresValues(t *testing.T) {
	for _, tc := range []struct {
		typ, in, want, err string
	}{
		{typ: "tinyint", in: "-128", want: "-128"},
		{typ: "tinyint unsigned", in: "255", want: "255"},
		{typ: "int(10) unsigned zerofill", in: "0000000042", want: "42"},
		{typ: "int", in: "0", want: "0"},
		{typ: "int", in: "-0", want: "0"},
		{typ: "int", in: "4x", err: "not a MySQL integer"},
		{typ: "bigint", in: "-9223372036854775808", want: "-9223372036854775808"},
		{typ: "bigint unsigned", in: "18446744073709551615", want: "18446744073709551615"},
		{typ: "decimal(12,2)", in: "-1234567890.12", want: "-1234567890.12"},
		{typ: "decimal(12,2)", in: "-0.00", want: "0.00"},
		{typ: "decimal(12,2) zerofill", in: "0000000007.50", want: "7.50"},
		{typ: "decimal(65,30)", in: "-99999999999999999999999999999999999.999999999999999999999999999999", want: "-99999999999999999999999999999999999.999999999999999999999999999999"},
		{typ: "decimal(5,0)", in: "12345", want: "12345"},
		{typ: "decimal(5,2)", in: "1.2.3", err: "not a MySQL decimal"},
		{typ: "float", in: "1.5", want: "1.5"},
		{typ: "float", in: "1.234567e+06", want: "1.234567e+06"},
		{typ: "float", in: "123456", want: "123456"},
		{typ: "float", in: "3.4028235e+38", want: "3.4028235e+38"},
		{typ: "float", in: "1e-45", want: "1e-45"},
		{typ: "float", in: "0.1", want: "0.1"},
		{typ: "float", in: "-0", want: "-0"},
		{typ: "double", in: "1e+14", want: "100000000000000"},
		{typ: "double", in: "1e+15", want: "1e+15"},
		{typ: "double", in: "0.0001", want: "0.0001"},
		{typ: "double", in: "1e-05", want: "1e-05"},
		{typ: "double", in: "1.7976931348623157e+308", want: "1.7976931348623157e+308"},
		{typ: "double", in: "5e-324", want: "5e-324"},
		{typ: "double", in: "-0", want: "-0"},
		{typ: "double", in: "0.30000000000000004", want: "0.30000000000000004"},
		{typ: "double", in: "abc", err: "not a MySQL double"},
		{typ: "bit(1)", in: "1", want: "1"},
		{typ: "bit(64)", in: strings.Repeat("10", 32), want: strings.Repeat("10", 32)},
		{typ: "bit(8)", in: "101", err: "not 8 bit characters"},
		{typ: "enum('a','it''s')", in: "it's", want: "it's"},
		{typ: "set('x','y')", in: "x,y", want: "x,y"},
		{typ: "set('x','y')", in: "", want: ""},
		{typ: "char(10)", in: "abc", want: "abc"},
		{typ: "varchar(20)", in: "emoji 😀 ünï", want: "emoji 😀 ünï"},
		{typ: "varchar(20)", in: "a\x00b", err: "NUL"},
		{typ: "text", in: "\xff\xfe", err: "UTF-8"},
		{typ: "longtext", in: "line\nbreak\ttab\\", want: "line\nbreak\ttab\\"},
		{typ: "binary(4)", in: "\x00\x01\xfe\xff", want: `\x0001feff`},
		{typ: "blob", in: "", want: `\x`},
		{typ: "geometry", in: "\x00\x00\x00\x00\x01\x01", want: `\x000000000101`},
		{typ: "date", in: "2024-01-31", want: "2024-01-31"},
		{typ: "date", in: "0001-01-01", want: "0001-01-01"},
		{typ: "date", in: "9999-12-31", want: "9999-12-31"},
		{typ: "date", in: "0000-00-00", want: "-infinity"},
		{typ: "date", in: "2024-00-10", want: "-infinity"},
		{typ: "date", in: "2024-05-00", want: "-infinity"},
		{typ: "date", in: "0000-01-01", want: "-infinity"},
		{typ: "date", in: "2024-02-30", err: "not a calendar date"},
		{typ: "date", in: "2024-1-1", err: "not a MySQL date"},
		{typ: "datetime", in: "2024-01-31 13:45:00", want: "2024-01-31 13:45:00"},
		{typ: "datetime(6)", in: "2024-01-31 13:45:00.120000", want: "2024-01-31 13:45:00.12"},
		{typ: "datetime(6)", in: "2024-01-31 13:45:00.000000", want: "2024-01-31 13:45:00"},
		{typ: "datetime(6)", in: "9999-12-31 23:59:59.999999", want: "9999-12-31 23:59:59.999999"},
		{typ: "datetime(3)", in: "0000-00-00 00:00:00.000", want: "-infinity"},
		{typ: "datetime", in: "0000-00-00 00:00:00", want: "-infinity"},
		{typ: "datetime", in: "2024-00-00 10:00:00", want: "-infinity"},
		{typ: "datetime", in: "2024-01-31 24:00:00", err: "not a MySQL date/time"},
		{typ: "timestamp", in: "2024-01-31 13:45:00", want: "2024-01-31 13:45:00+00"},
		{typ: "timestamp(6)", in: "1970-01-01 00:00:01.000001", want: "1970-01-01 00:00:01.000001+00"},
		{typ: "timestamp", in: "0000-00-00 00:00:00", want: "-infinity"},
		{typ: "time", in: "13:45:00", want: "13:45:00"},
		{typ: "time(6)", in: "-838:59:59.000000", want: "-838:59:59"},
		{typ: "time(1)", in: "-838:59:59.5", want: "-838:59:59.5"},
		{typ: "time", in: "838:59:59", want: "838:59:59"},
		{typ: "time", in: "100:00:00", want: "100:00:00"},
		{typ: "time(6)", in: "-00:00:01.500000", want: "-00:00:01.5"},
		{typ: "time(6)", in: "-00:00:00.000000", want: "00:00:00"},
		{typ: "time", in: "1:2:3", err: "not a MySQL time"},
		{typ: "year", in: "2024", want: "2024"},
		{typ: "year", in: "0000", want: "0"},
		{typ: "json", in: `{"b": 1, "a": [1, 2.50, "x\u0000"]}`, want: `{"b": 1, "a": [1, 2.50, "x\u0000"]}`},
		{typ: "uuid", in: "123e4567-e89b-12d3-a456-426614174000", want: "123e4567-e89b-12d3-a456-426614174000"},
	} {
		_, got, err := one(t, change.MySQL, change.Column{Name: "c", Type: tc.typ}, change.Text(tc.in))
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) || !strings.Contains(err.Error(), "s.t column c") || !strings.Contains(err.Error(), "fix:") {
				t.Errorf("%s %q: err = %v, want one about %q naming table, column and fix", tc.typ, tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || got.State != change.Present || string(got.Data) != tc.want {
			t.Errorf("%s %q → %q (%v), %v; want %q", tc.typ, tc.in, got.Data, got.State, err, tc.want)
		}
	}
}

func TestPostgresToMySQLTypes(t *testing.T) {
	for _, tc := range []struct {
		in      string
		enum    []string
		want    string
		charset string
	}{
		{in: "boolean", want: "tinyint"},
		{in: "smallint", want: "smallint"},
		{in: "integer", want: "int"},
		{in: "bigint", want: "bigint"},
		{in: "real", want: "float"},
		{in: "double precision", want: "double"},
		{in: "numeric(12,2)", want: "decimal(12,2)"},
		{in: "numeric(65,30)", want: "decimal(65,30)"},
		{in: "numeric(10,0)", want: "decimal(10,0)"},
		{in: "numeric(66,2)", want: "longtext", charset: "utf8mb4"},
		{in: "numeric(40,31)", want: "longtext", charset: "utf8mb4"},
		{in: "numeric(3,-2)", want: "longtext", charset: "utf8mb4"},
		{in: "numeric(2,5)", want: "longtext", charset: "utf8mb4"},
		{in: "numeric", want: "longtext", charset: "utf8mb4"},
		{in: "money", want: "varchar(64)", charset: "utf8mb4"},
		{in: "character varying(20)", want: "varchar(20)", charset: "utf8mb4"},
		{in: "character varying(16000)", want: "varchar(16000)", charset: "utf8mb4"},
		{in: "character varying(20000)", want: "longtext", charset: "utf8mb4"},
		{in: "character varying", want: "longtext", charset: "utf8mb4"},
		{in: "character(5)", want: "varchar(5)", charset: "utf8mb4"},
		{in: "character", want: "longtext", charset: "utf8mb4"},
		{in: "text", want: "longtext", charset: "utf8mb4"},
		{in: "bytea", want: "longblob", charset: "binary"},
		{in: "date", want: "date"},
		{in: "timestamp without time zone", want: "datetime(6)"},
		{in: "timestamp(3) without time zone", want: "datetime(3)"},
		{in: "timestamp(0) without time zone", want: "datetime"},
		{in: "timestamp with time zone", want: "datetime(6)"},
		{in: "timestamp(2) with time zone", want: "datetime(2)"},
		{in: "time without time zone", want: "time(6)"},
		{in: "time(0) without time zone", want: "time"},
		{in: "time(3) without time zone", want: "time(3)"},
		{in: "time with time zone", want: "varchar(32)", charset: "utf8mb4"},
		{in: "time(3) with time zone", want: "varchar(32)", charset: "utf8mb4"},
		{in: "interval", want: "varchar(255)", charset: "utf8mb4"},
		{in: "interval(3)", want: "varchar(255)", charset: "utf8mb4"},
		{in: "interval day to second(3)", want: "varchar(255)", charset: "utf8mb4"},
		{in: "uuid", want: "char(36)", charset: "utf8mb4"},
		{in: "json", want: "json", charset: "utf8mb4"},
		{in: "jsonb", want: "json", charset: "utf8mb4"},
		{in: "xml", want: "longtext", charset: "utf8mb4"},
		{in: "tsvector", want: "longtext", charset: "utf8mb4"},
		{in: "inet", want: "longtext", charset: "utf8mb4"},
		{in: "cidr", want: "longtext", charset: "utf8mb4"},
		{in: "macaddr", want: "longtext", charset: "utf8mb4"},
		{in: "point", want: "longtext", charset: "utf8mb4"},
		{in: "int4range", want: "longtext", charset: "utf8mb4"},
		{in: "bit varying(8)", want: "longtext", charset: "utf8mb4"},
		{in: "public.my_domain", want: "longtext", charset: "utf8mb4"},
		{in: "bit(1)", want: "bit(1)"},
		{in: "bit(64)", want: "bit(64)"},
		{in: "bit(65)", want: "varchar(65)", charset: "utf8mb4"},
		{in: "public.mood", enum: []string{"sad", "ok", "it's"}, want: "enum('sad','ok','it''s')", charset: "utf8mb4"},
		{in: "public.case", enum: []string{"a", "A"}, want: "varchar(1)", charset: "utf8mb4"},
		{in: "public.space", enum: []string{"a ", "b"}, want: "varchar(2)", charset: "utf8mb4"},
		{in: "public.accents", enum: []string{"é", "e", "😀😀😀"}, want: "varchar(3)", charset: "utf8mb4"},
		{in: "public.slash", enum: []string{`a\b`}, want: "varchar(3)", charset: "utf8mb4"},
		{in: "integer[]", want: "json", charset: "utf8mb4"},
		{in: "public.mood[]", enum: []string{"sad"}, want: "json", charset: "utf8mb4"},
	} {
		out, err := New(change.MySQL).Table(table(change.Postgres, change.Column{Name: "c", Type: tc.in, TypeOID: 99, Enum: tc.enum, NotNull: true}))
		if err != nil {
			t.Errorf("%s: %v", tc.in, err)
			continue
		}
		c := out.Columns[0]
		wantEnum := strings.HasPrefix(tc.want, "enum(")
		if c.Type != tc.want || c.Charset != tc.charset || c.TypeOID != 0 || !c.NotNull || (len(c.Enum) > 0) != wantEnum || out.Dialect != change.MySQL {
			t.Errorf("%s → %+v, want type %s charset %q", tc.in, c, tc.want, tc.charset)
		}
	}
}

func TestPostgresToMySQLValues(t *testing.T) {
	const null = "<NULL>"
	for _, tc := range []struct {
		typ     string
		notNull bool
		in      string
		want    string // null: the value becomes NULL
		err     string
	}{
		{typ: "boolean", in: "t", want: "1"},
		{typ: "boolean", in: "f", want: "0"},
		{typ: "boolean", in: "x", err: "not a PostgreSQL boolean"},
		{typ: "smallint", in: "-32768", want: "-32768"},
		{typ: "bigint", in: "9223372036854775807", want: "9223372036854775807"},
		{typ: "real", in: "1.5", want: "1.5"},
		{typ: "real", in: "1.234567e+06", want: "1.234567e+06"},
		{typ: "real", in: "3.4028235e+38", want: "3.4028234663852886e+38"},
		{typ: "real", in: "-3.4028235e+38", want: "-3.4028234663852886e+38"},
		{typ: "real", in: "3.4028233e+38", want: "3.4028233e+38"},
		{typ: "real", in: "1e-45", want: "1e-45"},
		{typ: "real", in: "-0", want: "0"},
		{typ: "double precision", in: "100000000000000", want: "1e+14"},
		{typ: "double precision", in: "0.30000000000000004", want: "0.30000000000000004"},
		{typ: "double precision", in: "-1.7976931348623157e+308", want: "-1.7976931348623157e+308"},
		{typ: "double precision", in: "-0", want: "0"},
		{typ: "double precision", in: "NaN", want: null},
		{typ: "double precision", in: "Infinity", want: null},
		{typ: "double precision", in: "-Infinity", want: null},
		{typ: "double precision", notNull: true, in: "NaN", err: "NOT NULL"},
		{typ: "real", notNull: true, in: "Infinity", err: "cannot hold NaN or infinity"},
		{typ: "numeric(12,2)", in: "-1234567890.12", want: "-1234567890.12"},
		{typ: "numeric(65,30)", in: "99999999999999999999999999999999999.999999999999999999999999999999", want: "99999999999999999999999999999999999.999999999999999999999999999999"},
		{typ: "numeric(5,2)", in: "NaN", want: null},
		{typ: "numeric(5,2)", notNull: true, in: "NaN", err: "NOT NULL"},
		{typ: "numeric", in: "NaN", want: "NaN"},
		{typ: "numeric", in: "-Infinity", want: "-Infinity"},
		{typ: "numeric", in: "1" + strings.Repeat("0", 100) + ".5", want: "1" + strings.Repeat("0", 100) + ".5"},
		{typ: "money", in: "-$1,234.56", want: "-$1,234.56"},
		{typ: "character varying(20)", in: "emoji 😀", want: "emoji 😀"},
		{typ: "character(5)", in: "ab   ", want: "ab   "},
		{typ: "text", in: "a\\b\n\"c'", want: "a\\b\n\"c'"},
		{typ: "text", in: "\xc3", err: "UTF-8"},
		{typ: "bytea", in: `\x`, want: ""},
		{typ: "bytea", in: `\x00ff0a5C`, want: "\x00\xff\n\\"},
		{typ: "bytea", in: `a\000b\\c\377`, want: "a\x00b\\c\xff"},
		{typ: "bytea", in: `\x0`, err: "bytea"},
		{typ: "bytea", in: `\xzz`, err: "bytea"},
		{typ: "bytea", in: `a\9`, err: "bytea"},
		{typ: "date", in: "2024-01-31", want: "2024-01-31"},
		{typ: "date", in: "0001-01-01", want: "0001-01-01"},
		{typ: "date", in: "infinity", want: "9999-12-31"},
		{typ: "date", in: "-infinity", want: "0000-00-00"},
		{typ: "date", in: "0044-03-15 BC", err: "BC date"},
		{typ: "date", in: "10000-01-01", err: "after year 9999"},
		{typ: "date", in: "2024-02-30", err: "not a PostgreSQL date"},
		{typ: "timestamp without time zone", in: "2024-01-31 13:45:00", want: "2024-01-31 13:45:00.000000"},
		{typ: "timestamp without time zone", in: "2024-01-31 13:45:00.5", want: "2024-01-31 13:45:00.500000"},
		{typ: "timestamp(3) without time zone", in: "2024-01-31 13:45:00.123", want: "2024-01-31 13:45:00.123"},
		{typ: "timestamp(0) without time zone", in: "2024-01-31 13:45:00", want: "2024-01-31 13:45:00"},
		{typ: "timestamp without time zone", in: "infinity", want: "9999-12-31 23:59:59.999999"},
		{typ: "timestamp(0) without time zone", in: "infinity", want: "9999-12-31 23:59:59"},
		{typ: "timestamp(2) without time zone", in: "-infinity", want: "0000-00-00 00:00:00.00"},
		{typ: "timestamp without time zone", in: "0100-01-01 00:00:00 BC", err: "BC date"},
		{typ: "timestamp without time zone", in: "12000-01-01 00:00:00", err: "after year 9999"},
		{typ: "timestamp with time zone", in: "2024-01-01 10:00:00+00", want: "2024-01-01 10:00:00.000000"},
		{typ: "timestamp with time zone", in: "2024-01-01 10:00:00.123456+05:30", want: "2024-01-01 04:30:00.123456"},
		{typ: "timestamp with time zone", in: "2024-01-01 01:00:00.5+05:30", want: "2023-12-31 19:30:00.500000"},
		{typ: "timestamp with time zone", in: "2024-12-31 20:00:00-04", want: "2025-01-01 00:00:00.000000"},
		{typ: "timestamp with time zone", in: "1900-01-01 00:19:32+00:19:32", want: "1900-01-01 00:00:00.000000"},
		{typ: "timestamp with time zone", in: "1900-01-01 00:00:00+00:00:00", want: "1900-01-01 00:00:00.000000"},
		{typ: "timestamp with time zone", in: "2024-02-29 23:59:59.999999-00:30", want: "2024-03-01 00:29:59.999999"},
		{typ: "timestamp(0) with time zone", in: "2024-01-01 10:00:00+00", want: "2024-01-01 10:00:00"},
		{typ: "timestamp with time zone", in: "infinity", want: "9999-12-31 23:59:59.999999"},
		{typ: "timestamp with time zone", in: "10000-01-01 00:30:00+01", want: "9999-12-31 23:30:00.000000"},
		{typ: "timestamp with time zone", in: "9999-12-31 23:30:00-01", err: "after year 9999"},
		{typ: "timestamp with time zone", in: "0001-01-01 00:30:00+01", err: "BC date"},
		{typ: "timestamp with time zone", in: "0001-01-01 10:00:00+00 BC", err: "BC date"},
		{typ: "timestamp with time zone", in: "2024-01-01 10:00:00", err: "not a PostgreSQL date/time"},
		{typ: "time without time zone", in: "13:45:00", want: "13:45:00.000000"},
		{typ: "time without time zone", in: "24:00:00", want: "24:00:00.000000"},
		{typ: "time(0) without time zone", in: "23:59:59", want: "23:59:59"},
		{typ: "time(3) without time zone", in: "00:00:00.5", want: "00:00:00.500"},
		{typ: "time with time zone", in: "13:45:00.5+05:30", want: "13:45:00.5+05:30"},
		{typ: "interval", in: "1 year 2 mons -3 days 04:05:06.5", want: "1 year 2 mons -3 days 04:05:06.5"},
		{typ: "uuid", in: "123e4567-e89b-12d3-a456-426614174000", want: "123e4567-e89b-12d3-a456-426614174000"},
		{typ: "jsonb", in: `{"a": [1, 2.50, null]}`, want: `{"a": [1, 2.50, null]}`},
		{typ: "bit(1)", in: "1", want: "1"},
		{typ: "bit(64)", in: strings.Repeat("01", 32), want: strings.Repeat("01", 32)},
		{typ: "bit(70)", in: strings.Repeat("1", 70), want: strings.Repeat("1", 70)},
		{typ: "inet", in: "192.168.0.1/24", want: "192.168.0.1/24"},
		{typ: "integer[]", in: "{1,2,NULL}", want: "[1,2,null]"},
		{typ: "text[]", in: `{"a b","c\"d",NULL,"NULL",""}`, want: `["a b","c\"d",null,"NULL",""]`},
		{typ: "integer[]", in: "{{1,2},{3,4}}", want: "[[1,2],[3,4]]"},
		{typ: "integer[]", in: "{}", want: "[]"},
		{typ: "integer[]", in: "{1,2", err: "not a PostgreSQL array literal"},
	} {
		_, got, err := one(t, change.Postgres, change.Column{Name: "c", Type: tc.typ, NotNull: tc.notNull}, change.Text(tc.in))
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) || !strings.Contains(err.Error(), "s.t column c") || !strings.Contains(err.Error(), "fix:") {
				t.Errorf("%s %q: err = %v, want one about %q naming table, column and fix", tc.typ, tc.in, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s %q: %v", tc.typ, tc.in, err)
			continue
		}
		if tc.want == null {
			if got.State != change.Null {
				t.Errorf("%s %q → %v, want NULL", tc.typ, tc.in, got)
			}
			continue
		}
		if got.State != change.Present || string(got.Data) != tc.want {
			t.Errorf("%s %q → %q (%v); want %q", tc.typ, tc.in, got.Data, got.State, tc.want)
		}
	}
}

func TestPostgresEnumAndArrayValues(t *testing.T) {
	mood := change.Column{Name: "m", Type: "public.mood", Enum: []string{"sad", "it's"}}
	col, v, err := one(t, change.Postgres, mood, change.Text("it's"))
	if err != nil || string(v.Data) != "it's" || col.Type != "enum('sad','it''s')" || len(col.Enum) != 2 || col.Enum[1] != "it's" {
		t.Fatalf("enum: %+v %v %v", col, v, err)
	}
	moods := change.Column{Name: "m", Type: "public.mood[]", Enum: []string{"sad", "it's"}}
	if _, v, err := one(t, change.Postgres, moods, change.Text(`{sad,"it's",NULL}`)); err != nil || string(v.Data) != `["sad","it's",null]` {
		t.Fatalf("enum array: %v %v", v, err)
	}
	for _, tc := range []struct{ typ, in, want string }{
		{"jsonb[]", `{"{\"a\": 1}","[1, 2]",NULL}`, `[{"a": 1},[1, 2],null]`},
		{"boolean[]", "{t,f,NULL}", "[true,false,null]"},
		{"real[]", "{1.5,NaN,-Infinity,1e+20,-0}", `[1.5,"NaN","-Infinity",1e+20,-0]`},
		{"numeric(5,2)[]", "{1.50,NaN}", `[1.50,"NaN"]`},
		{"bytea[]", `{"\\x00ff"}`, `["\\x00ff"]`},
		{"box[]", "{(3,4),(1,2);(1,1),(0,0)}", `["(3,4),(1,2)","(1,1),(0,0)"]`},
		{"integer[]", "[0:1]={1,2}", "[1,2]"},
		{"character varying(10)[]", `{"a\\b"," x ","{}"}`, `["a\\b"," x ","{}"]`},
	} {
		if _, v, err := one(t, change.Postgres, change.Column{Name: "a", Type: tc.typ}, change.Text(tc.in)); err != nil || string(v.Data) != tc.want {
			t.Errorf("%s %q → %q, %v; want %q", tc.typ, tc.in, v.Data, err, tc.want)
		}
	}
}

func TestKeyBounds(t *testing.T) {
	conv := func(types ...string) *change.Table {
		t.Helper()
		src := table(change.Postgres)
		for i, typ := range types {
			src.Columns = append(src.Columns, change.Column{Name: fmt.Sprintf("k%d", i), Type: typ, NotNull: true})
			src.Key = append(src.Key, i)
		}
		src.Columns = append(src.Columns, change.Column{Name: "v", Type: "text"})
		out, err := New(change.MySQL).Table(src)
		if err != nil {
			t.Fatalf("%v: %v", types, err)
		}
		if got := out.Columns[len(types)].Type; got != "longtext" {
			t.Fatalf("non-key text column became %s", got)
		}
		return out
	}
	types := func(tb *change.Table) string {
		var s []string
		for _, i := range tb.Key {
			s = append(s, tb.Columns[i].Type)
		}
		return strings.Join(s, ", ")
	}
	for _, tc := range []struct {
		in   []string
		want string
	}{
		{[]string{"text"}, "varchar(768)"},
		{[]string{"bytea"}, "varbinary(3072)"},
		{[]string{"numeric"}, "varchar(255)"},
		{[]string{"jsonb"}, "varchar(768)"},
		{[]string{"integer[]"}, "varchar(768)"},
		{[]string{"xml"}, "varchar(768)"},
		{[]string{"character varying(100)"}, "varchar(100)"},
		{[]string{"character varying(2000)"}, "varchar(768)"},
		{[]string{"character varying(100000)"}, "varchar(768)"},
		{[]string{"uuid"}, "char(36)"},
		{[]string{"text", "text"}, "varchar(384), varchar(384)"},
		{[]string{"bigint", "text"}, "bigint, varchar(766)"},
		{[]string{"character varying(100)", "text"}, "varchar(100), varchar(668)"},
		{[]string{"text", "bytea"}, "varchar(384), varbinary(1536)"},
		{[]string{"numeric", "text", "character varying(10)"}, "varchar(255), varchar(503), varchar(10)"},
	} {
		if got := types(conv(tc.in...)); got != tc.want {
			t.Errorf("key %v → %s, want %s", tc.in, got, tc.want)
		}
	}

	// Values longer than the bound fail clearly; shorter ones pass.
	src := table(change.Postgres, change.Column{Name: "k", Type: "text", NotNull: true}, change.Column{Name: "b", Type: "bytea"})
	src.Key = []int{0}
	c := New(change.MySQL)
	if _, err := c.Row(src, change.Row{change.Text(strings.Repeat("😀", 768)), change.NullValue}); err != nil {
		t.Fatalf("768 characters in a varchar(768) key: %v", err)
	}
	_, err := c.Row(src, change.Row{change.Text(strings.Repeat("x", 769)), change.NullValue})
	if err == nil || !strings.Contains(err.Error(), "769 characters") || !strings.Contains(err.Error(), "3072 bytes") || !strings.Contains(err.Error(), "column k") {
		t.Fatalf("769 characters in a varchar(768) key: %v", err)
	}
	bsrc := table(change.Postgres, change.Column{Name: "k", Type: "bytea", NotNull: true})
	bsrc.Key = []int{0}
	if _, err := c.Row(bsrc, change.Row{change.Text(`\x` + strings.Repeat("00", 3073))}); err == nil || !strings.Contains(err.Error(), "3073 bytes") {
		t.Fatalf("3073 bytes in a varbinary(3072) key: %v", err)
	}

	wide := table(change.Postgres)
	for i := range 500 {
		wide.Columns = append(wide.Columns, change.Column{Name: fmt.Sprint("k", i), Type: "bigint"})
		wide.Key = append(wide.Key, i)
	}
	wide.Columns = append(wide.Columns, change.Column{Name: "t", Type: "text"})
	wide.Key = append(wide.Key, 500)
	if _, err := New(change.MySQL).Table(wide); err == nil || !strings.Contains(err.Error(), "too wide") {
		t.Fatalf("500 bigint + text key: %v", err)
	}
}

func TestFitRow(t *testing.T) {
	src := table(change.Postgres, change.Column{Name: "id", Type: "character varying(63)", NotNull: true})
	src.Key = []int{0}
	for i := range 60 {
		src.Columns = append(src.Columns, change.Column{Name: fmt.Sprint("s", i), Type: "character varying(63)"})
	}
	for i := range 20 {
		src.Columns = append(src.Columns, change.Column{Name: fmt.Sprint("l", i), Type: "character varying(2000)"})
	}
	out, err := New(change.MySQL).Table(src)
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]int{}
	for _, c := range out.Columns {
		counts[c.Type]++
	}
	if out.Columns[0].Type != "varchar(63)" {
		t.Errorf("key column became %s", out.Columns[0].Type)
	}
	// rows: 20 × 8002 bytes is over 65535, so some varchar(2000) move off
	// (7 stay: 7 × 8002 + 61 × 253 < 65535); in-page: 61 × 253 is over
	// 8126, so short ones move too.
	if counts["varchar(2000)"] == 20 || counts["varchar(2000)"] == 0 || counts["varchar(63)"] >= 61 || counts["longtext"] == 0 {
		t.Errorf("types after fitting: %v", counts)
	}
	rowSum, pageSum := 0, 0
	for _, c := range out.Columns {
		mc := myCol{}
		_ = mapPgColumn(change.Column{Type: strings.Replace(strings.Replace(c.Type, "varchar", "character varying", 1), "longtext", "text", 1)}, &mc)
		rowSum += mc.rowSize()
		pageSum += mc.pageSize()
	}
	if rowSum > rowBytes || pageSum > pageRowBytes {
		t.Errorf("after fitting: row %d bytes, page %d bytes", rowSum, pageSum)
	}
}

func TestIdentityAndCache(t *testing.T) {
	pg := table(change.Postgres, change.Column{Name: "a", Type: "integer"})
	c := New(change.Postgres)
	if out, err := c.Table(pg); out != pg || err != nil {
		t.Fatal("same dialect Table is not the identity")
	}
	row := change.Row{change.Text("1")}
	if out, err := c.Row(pg, row); err != nil || &out[0] != &row[0] {
		t.Fatal("same dialect Row is not the identity")
	}
	ch := &change.Change{Op: change.Insert, Table: pg, After: row}
	if out, err := c.Change(ch); out != ch || err != nil {
		t.Fatal("same dialect Change is not the identity")
	}

	my := table(change.MySQL, change.Column{Name: "a", Type: "int"}, change.Column{Name: "b", Type: "datetime(6)"})
	my.Key = []int{0}
	my.Identity = change.IdentityFull
	var wg sync.WaitGroup
	results := make([]*change.Table, 16)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out, err := c.Table(my)
			if err != nil {
				t.Error(err)
			}
			results[i] = out
			if _, err := c.Row(my, change.Row{change.Text("1"), change.Text("2024-01-01 00:00:00.000000")}); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	for _, r := range results {
		if r != results[0] {
			t.Fatal("Table returned different pointers for one source shape")
		}
	}
	out := results[0]
	if out == my || out.ID != my.ID || out.Identity != change.IdentityFull || len(out.Key) != 1 || out.Key[0] != 0 || out.Dialect != change.Postgres {
		t.Fatalf("converted table %+v", out)
	}
	out.Key[0] = 5 // shares nothing with the source
	if my.Key[0] != 0 {
		t.Fatal("converted table shares Key with the source")
	}
	other := *my
	if out2, _ := c.Table(&other); out2 == out {
		t.Fatal("a different source pointer got the cached table")
	}
}

func TestRowStatesAndIsolation(t *testing.T) {
	my := table(change.MySQL, change.Column{Name: "a", Type: "int"}, change.Column{Name: "b", Type: "varchar(10)"},
		change.Column{Name: "c", Type: "blob"}, change.Column{Name: "d", Type: "date"}, change.Column{Name: "e", Type: "int"})
	c := New(change.Postgres)
	in := change.Row{change.Text("007"), change.NullValue, {State: change.Unchanged}, {State: change.Missing}, change.Text("9")}
	orig := in[0].Data
	out, err := c.Row(my, in)
	if err != nil {
		t.Fatal(err)
	}
	if string(in[0].Data) != "007" || &in[0].Data[0] != &orig[0] {
		t.Fatal("Row modified its input")
	}
	want := []change.State{change.Present, change.Null, change.Unchanged, change.Missing, change.Present}
	for i, v := range out {
		if v.State != want[i] || (v.State != change.Present && v.Data != nil) {
			t.Errorf("value %d: %+v, want state %v", i, v, want[i])
		}
	}
	if string(out[0].Data) != "7" || string(out[4].Data) != "9" {
		t.Fatalf("values %v", out)
	}
	out[0].Data = append(out[0].Data, "99"...) // must not clobber the next value
	if string(out[4].Data) != "9" {
		t.Fatal("values share writable backing memory")
	}
	if _, err := c.Row(my, change.Row{change.Text("1")}); err == nil || !strings.Contains(err.Error(), "1 values") {
		t.Fatalf("short row: %v", err)
	}

	// Wide rows (more columns than the stack array) work too.
	wide := table(change.MySQL)
	var row change.Row
	for i := range 100 {
		wide.Columns = append(wide.Columns, change.Column{Name: fmt.Sprint("c", i), Type: "int"})
		row = append(row, change.Text(fmt.Sprint("00", i)))
	}
	got, err := c.Row(wide, row)
	if err != nil || string(got[99].Data) != "99" || string(got[0].Data) != "0" {
		t.Fatalf("wide row: %v %v", got, err)
	}
}

func TestChange(t *testing.T) {
	src := table(change.Postgres, change.Column{Name: "id", Type: "integer", NotNull: true}, change.Column{Name: "ok", Type: "boolean"})
	src.Key = []int{0}
	c := New(change.MySQL)
	ch := &change.Change{Op: change.Update, Table: src,
		Before: change.Row{change.Text("1"), {State: change.Missing}},
		After:  change.Row{change.Text("1"), change.Text("t")}}
	out, err := c.Change(ch)
	if err != nil {
		t.Fatal(err)
	}
	tbl, _ := c.Table(src)
	if out == ch || out.Op != change.Update || out.Table != tbl || out.Before[1].State != change.Missing || string(out.After[1].Data) != "1" {
		t.Fatalf("change %+v", out)
	}
	del := &change.Change{Op: change.Delete, Table: src, Before: change.Row{change.Text("1"), {State: change.Missing}}}
	if out, err := c.Change(del); err != nil || out.After != nil || len(out.Before) != 2 {
		t.Fatalf("delete: %+v %v", out, err)
	}
	tr := &change.Change{Op: change.Truncate, Table: src}
	if out, err := c.Change(tr); err != nil || out.Before != nil || out.After != nil || out.Table != tbl {
		t.Fatalf("truncate: %+v %v", out, err)
	}
	bad := &change.Change{Op: change.Insert, Table: src, After: change.Row{change.Text("1"), change.Text("maybe")}}
	if _, err := c.Change(bad); err == nil || !strings.Contains(err.Error(), "s.t column ok") {
		t.Fatalf("bad value: %v", err)
	}
}

func TestWarn(t *testing.T) {
	src := table(change.Postgres, change.Column{Name: "x", Type: "double precision"}, change.Column{Name: "y", Type: "double precision", NotNull: true})
	c := New(change.MySQL)
	var msgs []string
	c.Warn = func(tbl change.TableID, column, msg string) { msgs = append(msgs, tbl.String()+" "+column+": "+msg) }
	out, err := c.Row(src, change.Row{change.Text("NaN"), change.Text("1")})
	if err != nil || out[0].State != change.Null || len(msgs) != 1 || !strings.Contains(msgs[0], `s.t x: value "NaN"`) || !strings.Contains(msgs[0], "stored NULL") {
		t.Fatalf("out %v err %v warnings %q", out, err, msgs)
	}
	_, err = c.Row(src, change.Row{change.Text("1"), change.Text("-Infinity")})
	if err == nil || !strings.Contains(err.Error(), "s.t column y (PostgreSQL double precision → MySQL double)") || !strings.Contains(err.Error(), "fix:") {
		t.Fatalf("NOT NULL infinity: %v", err)
	}
}

func TestUnknownDialect(t *testing.T) {
	src := table(change.Dialect(9), change.Column{Name: "a", Type: "int"})
	if _, err := New(change.Postgres).Table(src); err == nil || !strings.Contains(err.Error(), "no conversion") {
		t.Fatalf("err = %v", err)
	}
}

func TestAppendPGFloat(t *testing.T) {
	// PostgreSQL's float4out/float8out thresholds (extra_float_digits 3).
	for _, tc := range []struct {
		f    float64
		bits int
		want string
	}{
		{123456, 32, "123456"}, {1234567, 32, "1.234567e+06"}, {0.0001, 32, "0.0001"}, {0.00001, 32, "1e-05"},
		{1e14, 64, "100000000000000"}, {1e15, 64, "1e+15"}, {123456789012345678, 64, "1.2345678901234568e+17"},
		{-2.5e-300, 64, "-2.5e-300"}, {1e100, 64, "1e+100"},
	} {
		if got := string(appendPGFloat(nil, tc.f, tc.bits)); got != tc.want {
			t.Errorf("%v/%d → %s, want %s", tc.f, tc.bits, got, tc.want)
		}
	}
}

func BenchmarkRowMySQLToPostgres(b *testing.B) {
	src := table(change.MySQL, change.Column{Name: "id", Type: "bigint"}, change.Column{Name: "name", Type: "varchar(64)"},
		change.Column{Name: "amount", Type: "decimal(12,2)"}, change.Column{Name: "at", Type: "datetime(6)"}, change.Column{Name: "blob", Type: "blob"})
	row := change.Row{change.Text("123456789"), change.Text("some customer name"), change.Text("1234.50"),
		change.Text("2024-01-31 13:45:00.123000"), change.Text("\x00\x01\x02\x03\x04\x05\x06\x07")}
	c := New(change.Postgres)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Row(src, row); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRowPostgresToMySQL(b *testing.B) {
	src := table(change.Postgres, change.Column{Name: "id", Type: "bigint"}, change.Column{Name: "name", Type: "text"},
		change.Column{Name: "amount", Type: "numeric(12,2)"}, change.Column{Name: "at", Type: "timestamp with time zone"}, change.Column{Name: "tags", Type: "text[]"})
	row := change.Row{change.Text("123456789"), change.Text("some customer name"), change.Text("1234.50"),
		change.Text("2024-01-31 13:45:00.123+00"), change.Text(`{a,"b c",NULL}`)}
	c := New(change.MySQL)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Row(src, row); err != nil {
			b.Fatal(err)
		}
	}
}

// FuzzValues feeds arbitrary texts to every value rule: an error is fine, a
// panic is not, and NOT NULL columns never get NULL.
func FuzzValues(f *testing.F) {
	for _, s := range []string{"1", "-0", "1.5", "NaN", "2024-01-31", "2024-01-31 13:45:00.5+05:30", "-838:59:59.5",
		`\x00ff`, `a\000`, "0000-00-00 00:00:00", "{1,2}", "t", "10000-01-01 00:00:00 BC", "24:00:00"} {
		f.Add(s)
	}
	var cols []colConv
	for k := vCopy; k <= vPgArray; k++ {
		ns := []int{0, 3, 6} // fractional-second digits
		switch k {
		case vMyFloat, vPgFloat:
			ns = []int{32, 64}
		case vMyBit:
			ns = []int{1, 8, 64}
		}
		for _, n := range ns {
			for _, notNull := range []bool{false, true} {
				cols = append(cols, colConv{kind: k, n: n, notNull: notNull, elem: elemKind(n % 4), delim: ','})
			}
		}
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, cc := range cols {
			out, null, err := cc.convert([]byte("p"), []byte(s))
			if string(out[:1]) != "p" {
				t.Fatalf("kind %d: lost the prefix", cc.kind)
			}
			if err == nil && null && cc.notNull {
				t.Fatalf("kind %d: NULL for a NOT NULL column", cc.kind)
			}
		}
	})
}

// TestHideValues: with HideValues (log.values off) a value a rule refuses
// is not quoted; the table, column, types and rule still are.
func TestHideValues(t *testing.T) {
	const secret = "2024-13-45 secret"
	src := table(change.MySQL, change.Column{Name: "c", Type: "datetime"})
	for _, hide := range []bool{true, false} {
		c := New(change.Postgres)
		c.HideValues = hide
		_, err := c.Row(src, change.Row{change.Text(secret)})
		if err == nil {
			t.Fatal("want an error")
		}
		if got := strings.Contains(err.Error(), secret); got == hide {
			t.Errorf("HideValues %v: %v", hide, err)
		}
		for _, want := range []string{"s.t column c", "datetime", "fix:"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("HideValues %v: %v lacks %q", hide, err, want)
			}
		}
	}
}
