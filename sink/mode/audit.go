package mode

import (
	"encoding/hex"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/sluicecdc/sluice/pkg/change"
)

// AuditRow is the append-mode row of change c: its operation, where it
// comes from, and its old and new rows as JSON objects.
func (sh *Shape) AuditRow(c *change.Change, m *Meta) (change.Row, error) {
	before, err := sh.json(c.Before)
	if err != nil {
		return nil, err
	}
	after, err := sh.json(c.After)
	if err != nil {
		return nil, err
	}
	return sh.auditExtras(make(change.Row, 0, len(sh.Table.Columns)), m, c.Op, before, after), nil
}

func (sh *Shape) auditExtras(dst change.Row, m *Meta, op change.Op, before, after change.Value) change.Row {
	dst = sh.extras(dst, m, op, false)
	if i := sh.Extra(KindBefore); i >= 0 {
		dst[i] = before
	}
	if i := sh.Extra(KindAfter); i >= 0 {
		dst[i] = after
	}
	return dst
}

// json renders a row as a JSON object of column name to the value's text
// (NULL as null), in column order. Values the source did not send (an
// unchanged large PostgreSQL value, the non-key columns of a key-only old
// row) are left out. Binary MySQL values are written as \x and hex digits,
// as PostgreSQL writes bytea. A nil row is SQL NULL.
func (sh *Shape) json(r change.Row) (change.Value, error) {
	if r == nil {
		return change.NullValue, nil
	}
	cols := sh.Source.Columns
	if len(r) != len(cols) {
		return change.Value{}, fmt.Errorf("write %s: the change's row has %d values for %d columns", sh.Source.ID, len(r), len(cols))
	}
	b := []byte{'{'}
	first := true
	for i, v := range r {
		if v.State == change.Unchanged || v.State == change.Missing {
			continue
		}
		if !first {
			b = append(b, ',')
		}
		first = false
		b = appendJSONString(b, cols[i].Name)
		b = append(b, ':')
		switch {
		case v.State == change.Null:
			b = append(b, "null"...)
		case binaryColumn(sh.Source.Dialect, cols[i]):
			b = appendJSONString(b, `\x`+hex.EncodeToString(v.Data))
		case !utf8.Valid(v.Data):
			return change.Value{}, fmt.Errorf("write %s: column %s holds bytes that are not UTF-8 text, which JSON cannot hold", sh.Source.ID, cols[i].Name)
		default:
			b = appendJSONString(b, string(v.Data))
		}
	}
	b = append(b, '}')
	return change.Value{State: change.Present, Data: b}, nil
}

// binaryColumn tells whether a column's values are bytes rather than text.
// PostgreSQL's bytea text is hex already.
func binaryColumn(d change.Dialect, c change.Column) bool {
	if d != change.MySQL {
		return false
	}
	if c.Charset == "binary" {
		return true
	}
	typ := strings.ToLower(c.Type)
	if i := strings.IndexAny(typ, "( "); i >= 0 {
		typ = typ[:i]
	}
	switch typ {
	case "binary", "varbinary", "tinyblob", "blob", "mediumblob", "longblob",
		"geometry", "point", "linestring", "polygon", "multipoint", "multilinestring", "multipolygon", "geometrycollection":
		return true
	}
	return false
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string: quotes, backslashes and
// control characters escaped, everything else (valid UTF-8) as it is.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c == '\n':
			b = append(b, '\\', 'n')
		case c == '\r':
			b = append(b, '\\', 'r')
		case c == '\t':
			b = append(b, '\\', 't')
		case c < 0x20:
			b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}
