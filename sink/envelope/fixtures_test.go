package envelope

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sluicecdc/sluice/pkg/change"
)

// Fixtures: the columns of Sluice's type-fidelity tests
// (cmd/sluice/types_test.go, cmd/sluice/xtypes_test.go,
// source/mysql/types_test.go), with their edge values in the canonical
// text the sources produce (PostgreSQL text output with DateStyle ISO,
// TimeZone UTC, bytea hex, extra_float_digits 3; MySQL values as
// source/mysql decodes them).

// pgPos is a PostgreSQL position for tests.
type pgPos uint64

func (p pgPos) String() string                { return strconv.FormatUint(uint64(p), 16) }
func (p pgPos) Compare(o change.Position) int { return 0 }
func (p pgPos) LSN() uint64                   { return uint64(p) }

// myPos is a MySQL position for tests.
type myPos struct {
	file   string
	pos    uint32
	gtid   string
	server uint32
}

func (p myPos) String() string                { return p.file }
func (p myPos) Compare(o change.Position) int { return 0 }
func (p myPos) Binlog() (string, uint32, string, uint32) {
	return p.file, p.pos, p.gtid, p.server
}

var (
	fixedNow    = time.Date(2025, 1, 2, 3, 4, 5, 123456789, time.UTC)
	fixedCommit = time.Date(2024, 7, 1, 12, 0, 0, 654321000, time.UTC)
)

// col is a fixture column: name, type, nullability, enum labels.
type col struct {
	name, typ string
	notNull   bool
	enum      []string
}

func table(d change.Dialect, schema, name string, key []int, cols ...col) *change.Table {
	t := &change.Table{ID: change.TableID{Schema: schema, Name: name}, Key: key, Dialect: d, Identity: change.IdentityFull}
	for _, c := range cols {
		t.Columns = append(t.Columns, change.Column{Name: c.name, Type: c.typ, NotNull: c.notNull, Enum: c.enum})
	}
	return t
}

// row makes a row from texts: "∅" is NULL, "⊘" unchanged (TOAST), "·"
// missing.
func row(vals ...string) change.Row {
	r := make(change.Row, len(vals))
	for i, v := range vals {
		switch v {
		case "∅":
			r[i] = change.NullValue
		case "⊘":
			r[i] = change.Value{State: change.Unchanged}
		case "·":
			r[i] = change.Value{State: change.Missing}
		default:
			r[i] = change.Text(v)
		}
	}
	return r
}

var moodLabels = []string{"sad", "ok", "happy", `it's "quoted"`}

// pgTypes is cmd/sluice's types table, plus the columns xtypes adds
// (numeric(12,3), bit(3), timetz(3), time(3), timestamp(0), ...).
var pgTypes = table(change.Postgres, "public", "types", []int{0},
	col{"id", "integer", true, nil},
	col{"b", "boolean", false, nil},
	col{"i2", "smallint", false, nil},
	col{"i4", "integer", false, nil},
	col{"i8", "bigint", false, nil},
	col{"f4", "real", false, nil},
	col{"f8", "double precision", false, nil},
	col{"n", "numeric", false, nil},
	col{"n2", "numeric(12,2)", false, nil},
	col{"n3", "numeric(12,3)", false, nil},
	col{"money_", "money", false, nil},
	col{"t", "text", false, nil},
	col{"vc", "character varying(10)", false, nil},
	col{"ch", "character(5)", false, nil},
	col{"by", "bytea", false, nil},
	col{"d", "date", false, nil},
	col{"ts", "timestamp without time zone", false, nil},
	col{"ts3", "timestamp(3) without time zone", false, nil},
	col{"tstz", "timestamp with time zone", false, nil},
	col{"tstz3", "timestamp(3) with time zone", false, nil},
	col{"tm", "time without time zone", false, nil},
	col{"tm3", "time(3) without time zone", false, nil},
	col{"tmtz", "time with time zone", false, nil},
	col{"iv", "interval", false, nil},
	col{"j", "json", false, nil},
	col{"jb", "jsonb", false, nil},
	col{"u", "uuid", false, nil},
	col{"ip", "inet", false, nil},
	col{"cidr_", "cidr", false, nil},
	col{"mac", "macaddr", false, nil},
	col{"bt", "bit(3)", false, nil},
	col{"b1", "bit(1)", false, nil},
	col{"bits", "bit varying(16)", false, nil},
	col{"x", "xml", false, nil},
	col{"pt", "point", false, nil},
	col{"tsv", "tsvector", false, nil},
	col{"r", "int4range", false, nil},
	col{"e", "mood", false, moodLabels},
	col{"ia", "integer[]", false, nil},
	col{"ta", "text[]", false, nil},
	col{"ea", "mood[]", false, moodLabels},
	col{"ja", "jsonb[]", false, nil},
	col{"na", "numeric(5,2)[]", false, nil},
	col{"da", "date[]", false, nil},
	col{"ba", "bytea[]", false, nil},
)

// pgTypeRows are cmd/sluice's rows 1, 2 and 3 as PostgreSQL prints them,
// and the xtypes row. Row 2's numeric NaN needs the string or double
// decimal mode (pgNaNRow); in the precise mode it is 0.
var pgTypeRows = []change.Row{
	row("1", "t", "-32768", "-2147483648", "-9223372036854775808", "1.1754944e-38", "1.7976931348623157e+308",
		"123456789012345678901234567890.123456789012345678901234567890", "-0.01", "123456789.123", "$1,234.56",
		"tab\there\nnewline back\\slash 'quote' \"dq\" é 你好 🚀", "ten chars!", "ab   ", `\x00ff5c0a09`,
		"4713-01-01 BC", "294247-01-01 23:59:59.999999", "2024-02-29 12:34:56.789", "2024-06-30 18:14:59.123456+00", "0001-01-01 00:00:00+00 BC",
		"24:00:00", "13:51:30.123", "23:59:59.999999-14:59", "-178000000 years +1 mon -2 days +04:05:06.789",
		`{"b": 1.0, "a": [1, 2.50, "x"], "a": "dup key kept in json"}`, `{"z": 1.0, "big": 12345678901234567890, "nested": {"e": "é"}}`,
		"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "2001:db8::1/64", "10.0.0.0/8", "08:00:2b:01:02:03", "101", "1", "1010101",
		`<a attr="1">x &amp; y</a>`, "(1.5,-2.25)", "'a' 'cat':2 'fat' 'sat'", "[1,10)", `it's "quoted"`,
		"{1,NULL,-3}", `{"a,b","c\"d","",NULL,"NULL"}`, "{happy,sad}", `{"{\"k\": [1]}","null"}`,
		"{1.50,-0.01,NULL}", "{2024-02-29,\"4713-01-01 BC\"}", `{"\\x00ff","\\x"}`),
	row("2", "f", "0", "0", "9223372036854775807", "NaN", "-Infinity",
		"0", "0.00", "0.000", "$0.00", "", "", "     ", `\x`,
		"infinity", "-infinity", "1970-01-01 00:00:00", "1970-01-01 00:00:00+00", "infinity",
		"00:00:00", "00:00:00", "00:00:00+00", "00:00:00",
		"[]", "null", "00000000-0000-0000-0000-000000000000", "0.0.0.0", "::/0", "ff:ff:ff:ff:ff:ff", "000", "0", "",
		"", "(0,0)", "", "empty", "sad",
		"{}", "{}", "{}", "{}", "{}", "{}", "{}"),
	row("3", "∅", "∅", "∅", "∅", "-0", "5e-324", "∅", "∅", "∅", "∅", "∅", "∅", "∅", "∅",
		"∅", "∅", "∅", "∅", "∅", "∅", "∅", "∅", "∅", "∅", "∅", "∅", "∅", "∅", "∅", "∅", "∅", "∅", "∅", "∅", "∅", "∅", "∅",
		"∅", "∅", "∅", "∅", "∅", "∅", "∅"),
	row("4", "t", "32767", "2147483647", "-1", "0.1", "1234.5678",
		"3.14159265358979323846264338327950288", "99999999.99", "-0.500", "-$1,234,567.89",
		"héllo🎉", "a\tb\\c", "x", `\x`,
		"2024-02-29", "2024-01-01 10:00:00.123", "9999-12-31 23:59:59.999", "2024-06-01 06:30:00+00", "2024-01-01 08:00:00.5+00",
		"13:51:30", "00:00:00.001", "10:00:00+02", "1 day 02:00:00",
		`{"a": 1}`, `{"b": [1, 2]}`, "A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11", "10.0.0.1/8", "192.168.0.0/16", "00:00:00:00:00:00", "110", "0", "1000000000000001",
		"<b/>", "(-1e+300,4.9e-324)", "'x'", "(,5]", "happy",
		"{-2147483648,2147483647}", `{"\\back"}`, "{ok}", `{"[]"}`, "{-999.99}", "{infinity,-infinity}", `{NULL}`),
}

// pgNaN is row 2 with the specials only the string and double decimal
// modes can write (PostgreSQL 14+ numeric infinities too).
var pgNaN = row("5", "∅", "∅", "∅", "∅", "Infinity", "NaN", "NaN", "Infinity", "-Infinity", "∅", "∅", "∅", "∅", "∅",
	"∅", "∅", "∅", "∅", "∅", "∅", "∅", "∅", "∅", "∅", "∅", "∅", "∅", "∅", "∅", "∅", "∅", "∅", "∅", "∅", "∅", "∅", "∅",
	"∅", "∅", "∅", "∅", "{NaN}", "∅", "∅")

// myTypes is source/mysql's d.types table.
var myTypes = table(change.MySQL, "d", "types", []int{0},
	col{"id", "int", true, nil},
	col{"ti", "tinyint", false, nil},
	col{"tiu", "tinyint unsigned", false, nil},
	col{"si", "smallint", false, nil},
	col{"siu", "smallint unsigned", false, nil},
	col{"mi", "mediumint", false, nil},
	col{"miu", "mediumint unsigned", false, nil},
	col{"i", "int", false, nil},
	col{"iu", "int unsigned", false, nil},
	col{"bi", "bigint", false, nil},
	col{"biu", "bigint unsigned", true, nil},
	col{"bo", "tinyint", false, nil},
	col{"de", "decimal(65,30)", false, nil},
	col{"d2", "decimal(10,2)", false, nil},
	col{"fl", "float", false, nil},
	col{"db", "double", false, nil},
	col{"b1", "bit(1)", false, nil},
	col{"b10", "bit(10)", false, nil},
	col{"b64", "bit(64)", false, nil},
	col{"e", `enum('a','b','it''s','back\\slash')`, false, []string{"a", "b", "it's", `back\slash`}},
	col{"s", "set('x','y','z')", false, []string{"x", "y", "z"}},
	col{"c", "char(5)", false, nil},
	col{"vc", "varchar(20)", false, nil},
	col{"bin", "binary(4)", false, nil},
	col{"vb", "varbinary(10)", false, nil},
	col{"tt", "tinytext", false, nil},
	col{"tx", "text", false, nil},
	col{"lt", "longtext", false, nil},
	col{"bl", "blob", false, nil},
	col{"lb", "longblob", false, nil},
	col{"dt", "date", false, nil},
	col{"dtt", "datetime", false, nil},
	col{"dt3", "datetime(3)", false, nil},
	col{"dt6", "datetime(6)", false, nil},
	col{"ts", "timestamp", false, nil},
	col{"ts6", "timestamp(6)", false, nil},
	col{"tm", "time", false, nil},
	col{"tm1", "time(1)", false, nil},
	col{"tm6", "time(6)", false, nil},
	col{"yr", "year", false, nil},
	col{"js", "json", false, nil},
	col{"jm", "longtext", false, nil},
	col{"zf", "int unsigned", false, nil},
	col{"g", "point", false, nil},
	col{"geo", "geometry", false, nil},
	col{"dnn", "date", true, nil},
	col{"tsnn", "timestamp", true, nil},
)

// myTypeRows are source/mysql's rows 1, 2 (all NULL) and 3 (zero dates),
// and xtypes' row 4, as source/mysql decodes them.
var myTypeRows = []change.Row{
	row("1", "-128", "255", "-32768", "65535", "-8388608", "16777215",
		"-2147483648", "4294967295", "-9223372036854775808", "18446744073709551615", "1",
		"-12345678901234567890123456789012345.123456789012345678901234567890", "12345678.90", "3.1415927", "0.30000000000000004",
		"1", "1010101010", strings.Repeat("1", 64),
		"it's", "x,z", "ab", "héllo😀", "ab\x00\x00", "a\x00b", "tiny", "text", "long", "\x01", "\x03",
		"2024-01-31", "2024-01-31 13:45:00", "2024-01-31 13:45:00.123", "9999-12-31 23:59:59.999999", "2024-06-01 10:00:00", "2024-06-01 10:00:00.500000",
		"-838:59:59", "838:59:59.0", "-00:00:00.000001", "2024",
		`{"a": [1, 2.5, "x"]}`, `{"a": 1}`, "42",
		"\x00\x00\x00\x00\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\xf0?\x00\x00\x00\x00\x00\x00\x00@",
		"\xe6\x10\x00\x00\x01\x02\x00\x00\x00\x02\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\xf0?\x00\x00\x00\x00\x00\x00\xf0?",
		"2024-01-31", "2024-06-01 10:00:00"),
	row("2", "∅", "∅", "∅", "∅", "∅", "∅", "∅", "∅", "∅", "0", "∅", "∅", "∅", "∅", "∅", "∅", "∅", "∅", "∅", "∅", "∅",
		"∅", "∅", "∅", "∅", "∅", "∅", "∅", "∅", "∅", "∅", "∅", "∅", "∅", "∅", "∅", "∅", "∅", "∅", "∅", "∅", "∅", "∅", "∅",
		"1970-01-01", "1970-01-01 00:00:00"),
	row("3", "127", "0", "0", "0", "8388607", "0", "0", "0", "0", "0", "0",
		"0.000000000000000000000000000000", "-0.50", "0", "-1.5e-300",
		"0", "0000000000", "1"+strings.Repeat("0", 62)+"1", "", "", "", "", "\x00\x00\x00\x00", "", "", "", "", "", "",
		"0000-00-00", "0000-00-00 00:00:00", "0000-00-00 00:00:00.000", "0000-00-00 00:00:00.000000", "0000-00-00 00:00:00", "0000-00-00 00:00:00.000000",
		"00:00:00", "00:00:00.0", "-838:59:59.000000", "0000", "[]", "", "0", "∅", "∅",
		"2024-00-10", "0000-00-00 00:00:00"),
	row("4", "0", "1", "1", "1", "0", "1", "1", "1", "9223372036854775807", "9223372036854775808", "1",
		"-0.000000000000000000000000000001", "0.50", "3.5", "0.001",
		"1", "0000000001", strings.Repeat("1", 64), "back\\slash", "x,y,z", "NULL", "null", "ab\x00\x00", "x", "", "", "", "big blob", "",
		"1000-01-01", "1000-01-01 00:00:00", "2038-01-19 03:14:07.999", "1970-01-01 00:00:00.000001", "1970-01-01 00:00:01", "2038-01-19 03:14:07.999999",
		"838:59:59", "-00:00:00.5", "00:00:00.000001", "1901", `"str"`, "not json at all", "7", "∅", "∅",
		"9999-12-31", "2038-01-19 03:14:07"),
}

// opsTable is a small table for the operation tests: a key, a toastable
// text, a bytea, arrays of each placeholder kind.
func opsTable(d change.Dialect) *change.Table {
	if d == change.MySQL {
		return table(d, "app", "orders", []int{0},
			col{"id", "bigint", true, nil}, col{"note", "varchar(100)", false, nil},
			col{"qty", "int", true, nil}, col{"price", "decimal(10,2)", false, nil})
	}
	return table(d, "public", "orders", []int{0},
		col{"id", "bigint", true, nil}, col{"note", "text", false, nil},
		col{"qty", "integer", true, nil}, col{"price", "numeric(10,2)", false, nil},
		col{"doc", "bytea", false, nil}, col{"tags", "text[]", false, nil}, col{"nums", "integer[]", false, nil},
		col{"ids", "uuid[]", false, nil})
}

func TestFixtureShapes(t *testing.T) {
	for _, f := range []struct {
		t    *change.Table
		rows []change.Row
	}{{pgTypes, append(append([]change.Row{}, pgTypeRows...), pgNaN)}, {myTypes, myTypeRows}} {
		for i, r := range f.rows {
			if len(r) != len(f.t.Columns) {
				t.Errorf("%s row %d: %d values for %d columns", f.t.ID, i, len(r), len(f.t.Columns))
			}
		}
	}
}
