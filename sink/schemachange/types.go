package schemachange

import (
	"strconv"
	"strings"

	"github.com/sluicecdc/sluice/pkg/change"
)

// sqlType is a column type text read enough to compare it: its base name
// (aliases resolved), up to two numeric arguments, and signedness. Types
// it does not know keep their whole text as base and widen to nothing.
type sqlType struct {
	base     string
	n        int // arguments read: 0, 1 or 2
	a, b     int // the arguments (precision and scale, length, fsp)
	unsigned bool
	labels   string // enum and set: the labels' text, as written
}

// split reads "name(a,b) suffix" into "name suffix" and the arguments.
// ok is false when the parentheses hold something else (enum labels).
func split(s string) (name string, args []int, inner string, ok bool) {
	open := strings.IndexByte(s, '(')
	if open < 0 {
		return s, nil, "", true
	}
	end := strings.LastIndexByte(s, ')')
	if end < open {
		return s, nil, "", false
	}
	inner = s[open+1 : end]
	name = strings.TrimSpace(strings.TrimSpace(s[:open]) + " " + strings.TrimSpace(s[end+1:]))
	for _, a := range strings.Split(inner, ",") {
		v, err := strconv.Atoi(strings.TrimSpace(a))
		if err != nil || v < 0 {
			return name, nil, inner, false
		}
		args = append(args, v)
	}
	return name, args, inner, len(args) <= 2
}

func (t *sqlType) setArgs(args []int) {
	t.n = len(args)
	if t.n > 0 {
		t.a = args[0]
	}
	if t.n > 1 {
		t.b = args[1]
	}
}

// withDefault gives a type without arguments its default one (fsp,
// length), so that "datetime" and "datetime(0)" compare equal.
func (t *sqlType) withDefault(a int) {
	if t.n == 0 {
		t.n, t.a = 1, a
	}
}

// decimalDigits returns precision and integer digits of a numeric type;
// ok false when it is unbounded.
func (t sqlType) decimalDigits() (scale, intDigits int, ok bool) {
	if t.n == 0 {
		return 0, 0, false
	}
	return t.b, t.a - t.b, true
}

// widensDecimal tells whether every value of decimal from fits decimal to.
func widensDecimal(from, to sqlType) bool {
	fs, fi, fok := from.decimalDigits()
	ts, ti, tok := to.decimalDigits()
	switch {
	case !tok:
		return fok // anything bounded fits the unbounded numeric
	case !fok:
		return false
	}
	return ts >= fs && ti >= fi
}

// ---- PostgreSQL ----

var pgAliases = map[string]string{
	"int2": "smallint", "int4": "integer", "int": "integer", "int8": "bigint",
	"float4": "real", "float8": "double precision", "decimal": "numeric",
	"varchar": "character varying", "bpchar": "character", "char": "character",
	"timestamp without time zone": "timestamp", "timestamptz": "timestamp with time zone",
	"time without time zone": "time", "timetz": "time with time zone",
	"varbit": "bit varying", "bool": "boolean",
}

// parsePg reads a type as PostgreSQL's format_type writes it (aliases
// accepted).
func parsePg(s string) sqlType {
	s = strings.TrimSpace(s)
	if strings.HasSuffix(s, "[]") || strings.Contains(s, `"`) {
		return sqlType{base: s} // arrays and quoted user types: compared as text
	}
	name, args, _, ok := split(strings.ToLower(s))
	if !ok {
		return sqlType{base: s}
	}
	if a, ok := pgAliases[name]; ok {
		name = a
	}
	t := sqlType{base: name}
	t.setArgs(args)
	switch name {
	case "timestamp", "timestamp with time zone", "time", "time with time zone":
		t.withDefault(6)
	case "numeric":
		if t.n == 1 {
			t.n, t.b = 2, 0
		}
	case "character varying":
		if t.n == 0 {
			t.base = "text" // unbounded varchar holds what text holds
		}
	case "character":
		t.withDefault(1)
	}
	return t
}

var pgIntRank = map[string]int{"smallint": 1, "integer": 2, "bigint": 3}
var pgIntDigits = map[string]int{"smallint": 5, "integer": 10, "bigint": 19}

func widensPg(f, t sqlType) bool {
	switch fr, tr := pgIntRank[f.base], pgIntRank[t.base]; {
	case fr > 0 && tr > 0:
		return tr > fr
	case fr > 0 && t.base == "numeric":
		_, digits, bounded := t.decimalDigits()
		return !bounded || digits >= pgIntDigits[f.base]
	}
	switch f.base {
	case "numeric":
		return t.base == "numeric" && widensDecimal(f, t)
	case "real":
		return t.base == "double precision"
	case "character varying":
		return t.base == "text" || t.base == "character varying" && t.a > f.a
	case "bit varying":
		return t.base == "bit varying" && (t.n == 0 || f.n > 0 && t.a > f.a)
	case "timestamp":
		// timestamp → timestamptz reads the old values as UTC (see
		// AlterUsing), which is how Sluice writes timestamps.
		return (t.base == "timestamp" || t.base == "timestamp with time zone") && t.a >= f.a
	case "timestamp with time zone", "time", "time with time zone":
		return t.base == f.base && t.a > f.a
	}
	return false
}

// PgUsing is the USING clause PostgreSQL's ALTER COLUMN ... TYPE needs to
// change a column (quoted name col) from type from to type to, "" when the
// implicit conversion is the right one.
func PgUsing(col, from, to string) string {
	f, t := parsePg(from), parsePg(to)
	if f.base == "timestamp" && t.base == "timestamp with time zone" {
		return " USING " + col + " AT TIME ZONE 'UTC'"
	}
	if Widens(change.Postgres, from, to) {
		return ""
	}
	return " USING " + col + "::" + to
}

// ---- MySQL / MariaDB ----

var myAliases = map[string]string{
	"integer": "int", "bool": "tinyint", "boolean": "tinyint", "dec": "decimal", "numeric": "decimal",
	"fixed": "decimal", "real": "double", "double precision": "double", "int1": "tinyint", "int2": "smallint",
	"int3": "mediumint", "int4": "int", "int8": "bigint", "middleint": "mediumint",
}

var myIntRank = map[string]int{"tinyint": 1, "smallint": 2, "mediumint": 3, "int": 4, "bigint": 5}
var myIntDigits = [2][6]int{{0, 3, 5, 7, 10, 19}, {0, 3, 5, 8, 10, 20}} // [unsigned][rank]

// myLobBytes are the most bytes each text and blob size holds.
var myLobBytes = map[string]int64{
	"tinytext": 255, "text": 65535, "mediumtext": 16777215, "longtext": 4294967295,
	"tinyblob": 255, "blob": 65535, "mediumblob": 16777215, "longblob": 4294967295,
}

// parseMy reads a type as information_schema.COLUMN_TYPE writes it, with
// or without display widths ("int(11) unsigned" is "int unsigned").
func parseMy(s string) sqlType {
	s = strings.ToLower(strings.TrimSpace(s))
	if strings.HasPrefix(s, "enum(") || strings.HasPrefix(s, "set(") {
		open := strings.IndexByte(s, '(')
		return sqlType{base: s[:open], labels: strings.TrimSuffix(s[open+1:], ")")}
	}
	t := sqlType{}
	s = strings.Replace(s, " zerofill", "", 1)
	if strings.HasSuffix(s, " unsigned") {
		t.unsigned, s = true, strings.TrimSuffix(s, " unsigned")
	}
	name, args, _, ok := split(s)
	if !ok {
		return sqlType{base: s}
	}
	if a, ok := myAliases[name]; ok {
		name = a
	}
	t.base = name
	t.setArgs(args)
	switch {
	case myIntRank[name] > 0:
		t.n, t.a, t.b = 0, 0, 0 // display widths change nothing
	case name == "decimal":
		if t.n == 0 {
			t.n, t.a = 2, 10
		} else if t.n == 1 {
			t.n, t.b = 2, 0
		}
	case name == "datetime" || name == "timestamp" || name == "time":
		t.withDefault(0)
	case name == "char" || name == "binary":
		t.withDefault(1)
	}
	return t
}

func widensMy(f, t sqlType) bool {
	if fr, tr := myIntRank[f.base], myIntRank[t.base]; fr > 0 {
		switch {
		case tr > 0 && f.unsigned == t.unsigned:
			return tr > fr
		case tr > 0:
			return f.unsigned && tr > fr // unsigned into a wider signed type
		case t.base == "decimal" && !t.unsigned:
			_, digits, _ := t.decimalDigits()
			return digits >= myIntDigits[b2i(f.unsigned)][fr]
		}
		return false
	}
	if f.unsigned && !t.unsigned { // decimal, float, double unsigned
		return false
	}
	switch f.base {
	case "decimal":
		return t.base == "decimal" && widensDecimal(f, t)
	case "float":
		return f.n == 0 && t.base == "double" && t.n == 0
	case "char", "varchar":
		switch {
		case t.base == "varchar":
			return t.a > f.a || f.base == "char" && t.a >= f.a
		case t.base == "char":
			return f.base == "char" && t.a > f.a
		case strings.HasSuffix(t.base, "text"):
			return myLobBytes[t.base] >= int64(f.a)*4 // utf8mb4: 4 bytes a character
		}
	case "varbinary":
		return t.base == "varbinary" && t.a > f.a || strings.HasSuffix(t.base, "blob") && myLobBytes[t.base] >= int64(f.a)
	case "tinytext", "text", "mediumtext":
		return strings.HasSuffix(t.base, "text") && myLobBytes[t.base] > myLobBytes[f.base]
	case "tinyblob", "blob", "mediumblob":
		return strings.HasSuffix(t.base, "blob") && myLobBytes[t.base] > myLobBytes[f.base]
	case "datetime", "timestamp", "time":
		return t.base == f.base && t.a > f.a
	case "enum", "set":
		// Labels added at the end: every stored value keeps its meaning.
		return t.base == f.base && strings.HasPrefix(t.labels, f.labels+",")
	}
	return false
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}
