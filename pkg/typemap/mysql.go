package typemap

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/sluicecdc/sluice/pkg/change"
)

// myType is a MySQL COLUMN_TYPE taken apart: "decimal(12,2) unsigned
// zerofill" → base "decimal", args [12 2], unsigned.
type myType struct {
	base     string
	args     []int
	unsigned bool
}

// parseMyType reads a MySQL column type. It accepts display widths
// ("int(11)", as MariaDB writes them) and zerofill, which change nothing here.
func parseMyType(s string) (myType, bool) {
	var t myType
	s = strings.ToLower(strings.TrimSpace(s))
	if strings.HasPrefix(s, "enum(") || strings.HasPrefix(s, "set(") {
		t.base, _, _ = strings.Cut(s, "(")
		return t, strings.HasSuffix(s, ")")
	}
	words := strings.Fields(s)
	if len(words) == 0 {
		return t, false
	}
	head := words[0]
	for _, w := range words[1:] {
		switch w {
		case "unsigned":
			t.unsigned = true
		case "signed", "zerofill":
		default:
			if head == "double" && w == "precision" {
				continue
			}
			return t, false
		}
	}
	name, args, hasArgs := strings.Cut(head, "(")
	t.base = name
	if hasArgs {
		if !strings.HasSuffix(args, ")") {
			return t, false
		}
		for _, a := range strings.Split(strings.TrimSuffix(args, ")"), ",") {
			n, err := strconv.Atoi(strings.TrimSpace(a))
			if err != nil || n < 0 {
				return t, false
			}
			t.args = append(t.args, n)
		}
	}
	return t, true
}

func (t myType) arg(i, def int) int {
	if i < len(t.args) {
		return t.args[i]
	}
	return def
}

// mysqlToPostgres maps a MySQL-dialect table to PostgreSQL.
func mysqlToPostgres(t *change.Table) (*tableConv, error) {
	out := &change.Table{ID: t.ID, Key: append([]int(nil), t.Key...), Identity: t.Identity, Dialect: change.Postgres,
		Columns: make([]change.Column, len(t.Columns))}
	tc := &tableConv{out: out, cols: make([]colConv, len(t.Columns))}
	for i, col := range t.Columns {
		typ, kind, n, err := mapMyColumn(col)
		if err != nil {
			return nil, fmt.Errorf("typemap: table %s column %s: %w", t.ID, col.Name, err)
		}
		out.Columns[i] = change.Column{Name: col.Name, Type: typ, NotNull: col.NotNull}
		tc.cols[i] = colConv{name: col.Name, from: "MySQL " + col.Type, to: "PostgreSQL " + typ, kind: kind, notNull: col.NotNull, n: n}
	}
	return tc, nil
}

// mapMyColumn returns the PostgreSQL type of a MySQL column and how its
// values convert.
func mapMyColumn(col change.Column) (typ string, kind valueKind, n int, err error) {
	t, ok := parseMyType(col.Type)
	if !ok {
		return "", 0, 0, fmt.Errorf("cannot read MySQL type %q; fix: exclude the column from replication", col.Type)
	}
	switch t.base {
	case "tinyint", "bool", "boolean":
		return "smallint", vMyInt, 0, nil
	case "smallint":
		if t.unsigned {
			return "integer", vMyInt, 0, nil
		}
		return "smallint", vMyInt, 0, nil
	case "mediumint":
		return "integer", vMyInt, 0, nil
	case "int", "integer":
		if t.unsigned {
			return "bigint", vMyInt, 0, nil
		}
		return "integer", vMyInt, 0, nil
	case "bigint":
		if t.unsigned {
			return "numeric(20,0)", vMyInt, 0, nil
		}
		return "bigint", vMyInt, 0, nil
	case "decimal", "numeric", "dec", "fixed":
		p, s := t.arg(0, 10), t.arg(1, 0)
		if p < 1 || s > p {
			return "", 0, 0, fmt.Errorf("MySQL type %q has an impossible precision", col.Type)
		}
		return fmt.Sprintf("numeric(%d,%d)", p, s), vMyDecimal, 0, nil
	case "float":
		return "real", vMyFloat, 32, nil
	case "double", "real":
		return "double precision", vMyFloat, 64, nil
	case "bit":
		bits := t.arg(0, 1)
		if bits < 1 {
			bits = 1
		}
		return fmt.Sprintf("bit(%d)", bits), vMyBit, bits, nil
	case "enum", "set":
		return "text", vMyText, 0, nil
	case "char", "varchar", "nchar", "nvarchar":
		// char too maps to varchar: MySQL drops CHAR's trailing spaces on
		// read, and PostgreSQL's character(n) would pad them back.
		if n := t.arg(0, 0); n > 0 {
			return fmt.Sprintf("character varying(%d)", n), vMyText, 0, nil
		}
		return "text", vMyText, 0, nil
	case "tinytext", "text", "mediumtext", "longtext", "long":
		return "text", vMyText, 0, nil
	case "binary", "varbinary", "tinyblob", "blob", "mediumblob", "longblob",
		"geometry", "point", "linestring", "polygon", "multipoint", "multilinestring", "multipolygon",
		"geometrycollection", "geomcollection":
		return "bytea", vMyBytes, 0, nil
	case "date":
		return "date", vMyDate, 0, nil
	case "datetime":
		return fmt.Sprintf("timestamp(%d) without time zone", min(t.arg(0, 0), 6)), vMyDatetime, 0, nil
	case "timestamp":
		return fmt.Sprintf("timestamp(%d) with time zone", min(t.arg(0, 0), 6)), vMyTimestamp, 0, nil
	case "time":
		return "interval", vMyTime, 0, nil
	case "year":
		return "smallint", vMyInt, 0, nil
	case "json":
		return "json", vMyText, 0, nil
	case "uuid": // MariaDB 10.7+
		return "uuid", vCopy, 0, nil
	case "inet4", "inet6": // MariaDB 10.5+
		return "text", vMyText, 0, nil
	}
	return "", 0, 0, fmt.Errorf("MySQL type %q has no PostgreSQL mapping; fix: exclude the column from replication", col.Type)
}
