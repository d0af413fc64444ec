package verify

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/sluicecdc/sluice/pkg/change"
)

// Across engines, most mapped types have a text both servers can compute
// in SQL that is equal exactly when the sink's conversion of the source
// value is the target value (docs/type-mapping.md): integers in decimal,
// decimals without trailing zeros, floats as shortest digits and a decimal
// exponent, booleans as 0/1, dates and timestamps in UTC with six
// fractional digits (the zero dates and infinities as the mapping maps
// them), times as microseconds, bytes as lower-case hex, text, enum, set,
// uuid and json (MariaDB keeps its text byte for byte) as their text.
// With such a text for every compared column, the row hash and the chunk
// sums are computed in the servers, as within one engine. A column
// without one (PostgreSQL arrays, json into MySQL 8, spatial and unknown
// types) sends the table to the row-by-row path (see cross).

// canonCol is one compared column's canonical text on both sides.
type canonCol struct {
	src, dst string // SQL of the text; NULL for NULL
	// order: the key column's values order the same way on both servers
	// (numbers), so key ranges mean the same rows on both; other key
	// columns (text under any collation, uuid, dates) are chunked by a
	// hash of the key instead.
	order bool
	// lit: the canonical text of a key value is a literal that selects it
	// on both servers.
	lit bool
}

// canonPlan works out the canonical texts of the compared columns (cols:
// indexes into t.Columns) of a table whose target shape is out; the error
// says which column has none.
func canonPlan(src, dst engine, t, out *change.Table, cols []int, srcNames, dstNames []string, mariaDB bool) ([]canonCol, error) {
	res := make([]canonCol, len(cols))
	for i, si := range cols {
		sc, dc := t.Columns[si], out.Columns[si]
		var c canonCol
		var err error
		if t.Dialect == change.MySQL {
			c, err = canonMyToPg(src.ident(srcNames[i]), dst.ident(dstNames[i]), sc, dc)
		} else {
			c, err = canonPgToMy(src.ident(srcNames[i]), dst.ident(dstNames[i]), sc, dc, mariaDB)
		}
		if err != nil {
			return nil, fmt.Errorf("column %s (%s → %s): %w", sc.Name, sc.Type, dc.Type, err)
		}
		res[i] = c
	}
	return res, nil
}

func baseType(t string) string {
	t = strings.ToLower(strings.TrimSpace(t))
	if i := strings.IndexAny(t, "( "); i >= 0 {
		return t[:i]
	}
	return t
}

// myText is a MySQL value as utf8mb4 text (the bytes md5 sees).
func myText(e string) string { return "CONVERT(" + e + " USING utf8mb4)" }

// myZeroDate is true for MySQL's zero and partly zero dates.
func myZeroDate(c string) string {
	return "(YEAR(" + c + ") = 0 OR MONTH(" + c + ") = 0 OR DAYOFMONTH(" + c + ") = 0)"
}

const (
	myDatetimeFmt = "'%Y-%m-%d %H:%i:%s.%f'"
	pgDatetimeFmt = "'YYYY-MM-DD HH24:MI:SS.US'"
)

// myMicros and pgMicros are a time (MySQL time, PostgreSQL time or
// interval) in microseconds.
func myMicros(c string) string {
	return "CAST(IF(LEFT(CAST(" + c + " AS CHAR), 1) = '-', -1, 1) * ((HOUR(" + c + ") * 3600 + MINUTE(" + c + ") * 60 + SECOND(" + c + ")) * 1000000 + MICROSECOND(" + c + ")) AS CHAR)"
}
func pgMicros(c string) string { return "(extract(epoch FROM " + c + ") * 1000000)::bigint::text" }

// myDecimal and pgDecimal print a decimal without trailing zeros, and zero
// (also -0) as 0.
func myDecimal(c string) string {
	s := "CAST(" + c + " AS CHAR)"
	return "IF(" + c + " = 0, '0', IF(LOCATE('.', " + s + ") > 0, TRIM(TRAILING '.' FROM TRIM(TRAILING '0' FROM " + s + ")), " + s + "))"
}
func pgDecimal(c string) string {
	s := c + "::text"
	return "CASE WHEN " + c + " = 0 THEN '0' WHEN position('.' IN " + s + ") > 0 THEN rtrim(rtrim(" + s + ", '0'), '.') ELSE " + s + " END"
}

// myFloat and pgFloat print a double (both servers print the shortest
// digits that read back as the same double, but with different exponent
// notations) as sign, digits without leading or trailing zeros, "e" and
// the exponent of 0.digits: 1234.5 → 12345e4, 1e-05 and 0.00001 → 1e-4.
// Zero (and -0) is 0.
func myFloat(c string) string {
	a := "CAST(ABS(" + c + ") AS CHAR)"
	m := "SUBSTRING_INDEX(" + a + ", 'e', 1)"
	exp := "IF(LOCATE('e', " + a + ") > 0, CAST(SUBSTRING_INDEX(" + a + ", 'e', -1) AS SIGNED), 0)"
	ip := "SUBSTRING_INDEX(" + m + ", '.', 1)"
	fp := "IF(LOCATE('.', " + m + ") > 0, SUBSTRING_INDEX(" + m + ", '.', -1), '')"
	digits := "CONCAT(" + ip + ", " + fp + ")"
	lz := "(LENGTH(" + digits + ") - LENGTH(TRIM(LEADING '0' FROM " + digits + ")))"
	return "IF(" + c + " = 0, '0', CONCAT(IF(" + c + " < 0, '-', ''), TRIM(TRAILING '0' FROM TRIM(LEADING '0' FROM " + digits + ")), 'e', CAST(LENGTH(" + ip + ") + " + exp + " - " + lz + " AS CHAR)))"
}
func pgFloat(c string) string {
	a := "abs(" + c + ")::text"
	m := "split_part(" + a + ", 'e', 1)"
	exp := "coalesce(nullif(split_part(" + a + ", 'e', 2), ''), '0')::int"
	ip := "split_part(" + m + ", '.', 1)"
	fp := "split_part(" + m + ", '.', 2)"
	digits := "(" + ip + " || " + fp + ")"
	lz := "(length(" + digits + ") - length(ltrim(" + digits + ", '0')))"
	return "CASE WHEN " + c + " = 0 THEN '0' ELSE (CASE WHEN " + c + " < 0 THEN '-' ELSE '' END) || rtrim(ltrim(" + digits + ", '0'), '0') || 'e' || (length(" + ip + ") + " + exp + " - " + lz + ")::text END"
}

// canonMyToPg: a MariaDB/MySQL source column s (SQL c) and its PostgreSQL
// target column d (SQL p).
func canonMyToPg(c, p string, s, d change.Column) (canonCol, error) {
	switch baseType(s.Type) {
	case "tinyint", "bool", "boolean", "smallint", "mediumint", "int", "integer", "bigint":
		return canonCol{src: "CAST(" + c + " AS CHAR)", dst: p + "::text", order: true, lit: true}, nil
	case "year":
		return canonCol{src: "CAST(" + c + " + 0 AS CHAR)", dst: p + "::text", order: true, lit: true}, nil
	case "decimal", "numeric", "dec", "fixed":
		return canonCol{src: myDecimal(c), dst: pgDecimal(p), order: true, lit: true}, nil
	case "float", "double", "real":
		return canonCol{src: myFloat("CAST(" + c + " AS DOUBLE)"), dst: pgFloat(p + "::float8")}, nil
	case "bit":
		n := typeArg(strings.ToLower(s.Type), 1)
		return canonCol{src: "LPAD(BIN(" + c + "), " + strconv.Itoa(n) + ", '0')", dst: p + "::text"}, nil
	case "enum", "set", "char", "varchar", "nchar", "nvarchar", "tinytext", "text", "mediumtext", "longtext", "long", "json":
		// json: MariaDB's is text, and the sink keeps it byte for byte.
		return canonCol{src: myText(c), dst: p + "::text", lit: true}, nil
	case "uuid", "inet4", "inet6":
		return canonCol{src: myText("CAST(" + c + " AS CHAR)"), dst: p + "::text", lit: true}, nil
	case "binary", "varbinary", "tinyblob", "blob", "mediumblob", "longblob":
		return canonCol{src: "LOWER(HEX(" + c + "))", dst: "encode(" + p + ", 'hex')"}, nil
	case "date":
		return canonCol{src: "IF(" + myZeroDate(c) + ", '-infinity', DATE_FORMAT(" + c + ", '%Y-%m-%d'))", dst: p + "::text", lit: true}, nil
	case "datetime":
		return canonCol{src: "IF(" + myZeroDate(c) + ", '-infinity', DATE_FORMAT(" + c + ", " + myDatetimeFmt + "))",
			dst: "CASE WHEN isfinite(" + p + ") THEN to_char(" + p + ", " + pgDatetimeFmt + ") ELSE " + p + "::text END", lit: true}, nil
	case "timestamp":
		// The session's time_zone is UTC (mysqlconn), PostgreSQL's too.
		return canonCol{src: "IF(" + myZeroDate(c) + ", '-infinity', DATE_FORMAT(" + c + ", " + myDatetimeFmt + "))",
			dst: "CASE WHEN isfinite(" + p + ") THEN to_char(" + p + " AT TIME ZONE 'UTC', " + pgDatetimeFmt + ") ELSE " + p + "::text END"}, nil
	case "time":
		return canonCol{src: myMicros(c), dst: pgMicros(p)}, nil
	}
	return canonCol{}, fmt.Errorf("no canonical text both servers compute")
}

// canonPgToMy: a PostgreSQL source column s (SQL c) and its MySQL target
// column d (SQL m). mariaDB: the target is MariaDB (which keeps json text).
func canonPgToMy(c, m string, s, d change.Column, mariaDB bool) (canonCol, error) {
	typ := strings.ToLower(s.Type)
	if strings.HasSuffix(typ, "[]") {
		return canonCol{}, fmt.Errorf("arrays become JSON by rules no SQL on MySQL repeats")
	}
	text := canonCol{src: c + "::text", dst: myText(m), lit: true}
	if len(s.Enum) > 0 {
		return text, nil
	}
	name, _, _ := strings.Cut(typ, "(")
	if i := strings.Index(typ, ")"); i >= 0 {
		name += typ[i+1:]
	}
	name = strings.TrimSpace(name)
	dt := strings.ToLower(d.Type)
	switch name {
	case "boolean":
		return canonCol{src: c + "::int::text", dst: "CAST(" + m + " AS CHAR)", order: true, lit: true}, nil
	case "smallint", "integer", "bigint":
		return canonCol{src: c + "::text", dst: "CAST(" + m + " AS CHAR)", order: true, lit: true}, nil
	case "real", "double precision":
		// NaN and the infinities become NULL (or stop the pipeline).
		return canonCol{src: "CASE WHEN " + c + " IN ('NaN', 'Infinity', '-Infinity') THEN NULL ELSE " + pgFloat(c+"::float8") + " END",
			dst: myFloat("CAST(" + m + " AS DOUBLE)")}, nil
	case "numeric":
		if !strings.HasPrefix(dt, "decimal") {
			return text, nil // PostgreSQL's text in a longtext
		}
		return canonCol{src: "CASE WHEN " + c + "::text IN ('NaN', 'Infinity', '-Infinity') THEN NULL ELSE " + pgDecimal(c) + " END",
			dst: myDecimal(m), order: true, lit: true}, nil
	case "character":
		// Its text keeps the padding (::text would strip it).
		return canonCol{src: "CASE WHEN " + c + " IS NULL THEN NULL ELSE concat(" + c + ") END", dst: myText(m), lit: true}, nil
	case "bytea":
		return canonCol{src: "encode(" + c + ", 'hex')", dst: "LOWER(HEX(" + m + "))"}, nil
	case "date":
		return canonCol{src: "CASE WHEN " + c + " = 'infinity' THEN '9999-12-31' WHEN " + c + " = '-infinity' THEN '0000-00-00' ELSE " + c + "::text END",
			dst: "CAST(" + m + " AS CHAR)", lit: true}, nil
	case "timestamp without time zone", "timestamp with time zone":
		fsp := 0
		if strings.HasPrefix(dt, "datetime(") {
			fsp = typeArg(dt, 0)
		}
		inf := "'9999-12-31 23:59:59." + (strings.Repeat("9", fsp) + "000000")[:6] + "'"
		v := c
		if strings.HasSuffix(name, "with time zone") {
			v = "(" + c + " AT TIME ZONE 'UTC')"
		}
		return canonCol{src: "CASE WHEN " + c + " = 'infinity' THEN " + inf + " WHEN " + c + " = '-infinity' THEN '0000-00-00 00:00:00.000000' ELSE to_char(" + v + ", " + pgDatetimeFmt + ") END",
			dst: "DATE_FORMAT(" + m + ", " + myDatetimeFmt + ")", lit: !strings.HasSuffix(name, "with time zone")}, nil
	case "time without time zone":
		return canonCol{src: pgMicros(c), dst: myMicros(m)}, nil
	case "json", "jsonb":
		if !mariaDB {
			return canonCol{}, fmt.Errorf("MySQL 8 rewrites json (spacing, key order, numbers)")
		}
		return canonCol{src: c + "::text", dst: myText(m)}, nil
	case "bit":
		if strings.HasPrefix(dt, "bit") {
			return canonCol{src: c + "::text", dst: "LPAD(BIN(" + m + "), " + strconv.Itoa(typeArg(dt, 1)) + ", '0')"}, nil
		}
		return text, nil
	case "money", "character varying", "text", "time with time zone", "uuid":
		return text, nil
	}
	if strings.HasPrefix(name, "interval") {
		return text, nil
	}
	if strings.Contains(dt, "text") || strings.HasPrefix(dt, "varchar") {
		// Everything else the mapping keeps as PostgreSQL's text.
		return canonCol{src: c + "::text", dst: myText(m)}, nil
	}
	return canonCol{}, fmt.Errorf("no canonical text both servers compute")
}

// canonRow is the SQL of a row's canonical text on engine e: each value
// length-prefixed (bytes, then ':'), NULL as N, so no two rows share one.
func canonRow(e engine, exprs []string) string {
	parts := make([]string, len(exprs))
	for i, x := range exprs {
		if e.kind() == "postgres" {
			parts[i] = "coalesce(octet_length(" + x + ")::text || ':' || " + x + ", 'N')"
		} else {
			parts[i] = "COALESCE(CONCAT(LENGTH(" + x + "), ':', " + x + "), 'N')"
		}
	}
	if e.kind() == "postgres" {
		return "(" + strings.Join(parts, " || ") + ")"
	}
	return "CONCAT(" + strings.Join(parts, ", ") + ")"
}

// canonHash is the row hash both engines compute alike: the first 15 hex
// digits of the MD5 of the text (60 bits, so the number is non-negative on
// both and its sums are exact decimals on both).
func canonHash(e engine, text string) string {
	if e.kind() == "postgres" {
		return "('x' || left(md5(" + text + "), 15))::bit(60)::bigint"
	}
	return "CAST(CONV(LEFT(MD5(" + text + "), 15), 16, 10) AS UNSIGNED)"
}
