package mysql

import (
	"strings"

	"github.com/sluicecdc/sluice/pkg/change"
)

// kind is how a column's values travel to the server and compare there.
type kind uint8

const (
	kindText    kind = iota // string literal: the server parses it as the column's type
	kindBinary              // _binary literal: bytes as they are
	kindInt                 // integer literal: exact in comparisons, unlike a string
	kindBit                 // '0101' text sent as an integer
	kindDecimal             // string, compared after CAST to the column's decimal type
	kindFloat               // the float widened to a double, compared after CAST(? AS FLOAT)
	kindDouble              // string: a string compares with a double as a double, exactly
	kindJSON                // string; MySQL compares JSON with CAST(? AS JSON)
)

// kindOf classifies a MySQL-dialect column type (information_schema's
// COLUMN_TYPE, lower case, no display widths).
func kindOf(c change.Column) kind {
	typ := strings.ToLower(strings.TrimSpace(c.Type))
	base := typ
	if i := strings.IndexAny(typ, "( "); i >= 0 {
		base = typ[:i]
	}
	switch base {
	case "tinyint", "smallint", "mediumint", "int", "integer", "bigint", "bool", "boolean":
		return kindInt
	case "bit":
		return kindBit
	case "decimal", "numeric", "dec", "fixed":
		return kindDecimal
	case "float":
		return kindFloat
	case "double", "real":
		return kindDouble
	case "binary", "varbinary", "tinyblob", "blob", "mediumblob", "longblob":
		return kindBinary
	case "json":
		return kindJSON
	}
	if c.Charset == "binary" {
		return kindBinary
	}
	return kindText
}

// matchPlaceholder is the placeholder that compares exactly with a column
// of kind k and type typ.
func matchPlaceholder(k kind, typ, flavor string) string {
	switch k {
	case kindFloat:
		return "CAST(? AS FLOAT)"
	case kindDecimal:
		spec := ""
		if i := strings.IndexByte(typ, '('); i >= 0 {
			if j := strings.IndexByte(typ[i:], ')'); j >= 0 {
				spec = typ[i : i+j+1]
			}
		}
		if strings.Trim(spec, "(),0123456789") != "" {
			spec = "(65,30)" // not a precision: compare at the widest
		}
		return "CAST(? AS DECIMAL" + spec + ")"
	case kindJSON:
		if flavor == "mysql" {
			return "CAST(? AS JSON)"
		}
	}
	return "?"
}
