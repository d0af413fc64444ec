package envelope

import (
	"strconv"
	"strings"

	"github.com/sluicecdc/sluice/pkg/change"
)

// kind says how a column's value text becomes a JSON value.
type kind uint8

const (
	kPgBool         kind = iota + 1 // t / f → boolean
	kBit1                           // bit(1): 1 / 0 → boolean
	kInt8                           // integers, range-checked for their Connect type
	kInt16                          //
	kInt32                          //
	kInt64                          //
	kUint64                         // MySQL bigint unsigned, long mode: the 64 bits as an int64
	kFloat32                        //
	kFloat64                        //
	kDecimal                        // fixed scale (numeric(p,s), decimal(p,s), bigint unsigned precise)
	kVarDecimal                     // PostgreSQL numeric without a scale
	kMoney                          // PostgreSQL money
	kString                         // text of any string-schema type (text, json, uuid, enum, inet, ranges, ...)
	kPgBytes                        // PostgreSQL bytea text → bytes
	kRawBytes                       // MySQL binary values, already raw
	kPgBits                         // PostgreSQL bit(n>1), bit varying
	kMyBits                         // MySQL bit(n>1)
	kDate                           // io.debezium.time.Date
	kTime                           // io.debezium.time.Time (ms) or MicroTime (micro)
	kTimestamp                      // io.debezium.time.Timestamp (ms) or MicroTimestamp (micro)
	kZonedTimestamp                 // io.debezium.time.ZonedTimestamp
	kZonedTime                      // io.debezium.time.ZonedTime
	kInterval                       // io.debezium.time.MicroDuration
	kYear                           // io.debezium.time.Year
	kPgPoint                        // io.debezium.data.geometry.Point from "(x,y)"
	kMyPoint                        // io.debezium.data.geometry.Point from MySQL's SRID+WKB bytes
	kMyGeometry                     // io.debezium.data.geometry.Geometry from MySQL's SRID+WKB bytes
	kArray                          // PostgreSQL one-dimensional array
)

// column is one column's encoding: how to read its text, and its schema.
type column struct {
	name     string
	typ      string // the source type, for messages
	dialect  change.Dialect
	kind     kind
	optional bool
	micro    bool        // kTime, kTimestamp: microseconds (else milliseconds)
	mode     DecimalMode // kDecimal, kVarDecimal, kMoney
	scale    int         // kDecimal, kMoney
	width    int         // kZonedTimestamp: fraction digits; 0 = as many as needed
	bits     int         // kMyBits: the column's bit count
	delim    byte        // kArray: element delimiter
	elem     *column     // kArray
	schema   *cschema
	field    []byte // `"name":`
}

// splitArgs splits "name(a,b) suffix" into "name suffix" and the numbers.
func splitArgs(s string) (name string, args []int, ok bool) {
	open := strings.IndexByte(s, '(')
	if open < 0 {
		return s, nil, true
	}
	end := strings.IndexByte(s[open:], ')')
	if end < 0 {
		return s, nil, false
	}
	for _, a := range strings.Split(s[open+1:open+end], ",") {
		n, err := strconv.Atoi(strings.TrimSpace(a))
		if err != nil {
			return s, nil, false
		}
		args = append(args, n)
	}
	return strings.TrimSpace(s[:open] + s[open+end+1:]), args, true
}

func arg(args []int, i, def int) int {
	if i < len(args) {
		return args[i]
	}
	return def
}

func decimalColumn(c *column, mode DecimalMode, scale, precision int, withPrecision bool) {
	c.kind, c.scale, c.mode = kDecimal, scale, mode
	switch mode {
	case DecimalString:
		c.schema = prim(tString)
	case DecimalDouble:
		c.schema = prim(tFloat64)
	default:
		c.schema = &cschema{typ: tBytes, name: "org.apache.kafka.connect.data.Decimal", version: 1,
			params: [][2]string{{"scale", strconv.Itoa(scale)}}}
		if withPrecision {
			c.schema.params = append(c.schema.params, [2]string{"connect.decimal.precision", strconv.Itoa(precision)})
		}
	}
}

// pgColumn resolves a PostgreSQL column by its format_type text.
func (e *Encoder) pgColumn(col change.Column, optional bool) *column {
	c := &column{name: col.Name, typ: col.Type, dialect: change.Postgres, optional: optional}
	typ := col.Type
	if strings.HasSuffix(typ, "[]") {
		elemType := strings.TrimRight(typ, "[]")
		elem := e.pgColumn(change.Column{Name: col.Name, Type: elemType, Enum: col.Enum}, true)
		if elem.schema.name == "io.debezium.data.Enum" {
			elem.schema = elem.schema.opt(false) // as Debezium: enum array elements are not optional
		}
		c.kind, c.elem, c.delim = kArray, elem, ','
		if elemType == "box" {
			c.delim = ';'
		}
		c.schema = &cschema{typ: tArray, items: elem.schema}
		c.schema.optional = optional
		return c
	}
	if len(col.Enum) > 0 {
		c.kind = kString
		c.schema = &cschema{typ: tString, name: "io.debezium.data.Enum", version: 1,
			params: [][2]string{{"allowed", strings.Join(col.Enum, ",")}}}
		c.schema.optional = optional
		return c
	}
	name, args, ok := splitArgs(typ)
	if !ok {
		name = ""
	}
	str := func(semantic string) {
		c.kind = kString
		if semantic == "" {
			c.schema = prim(tString)
		} else {
			c.schema = named(tString, semantic)
		}
	}
	switch name {
	case "boolean":
		c.kind, c.schema = kPgBool, prim(tBool)
	case "smallint":
		c.kind, c.schema = kInt16, prim(tInt16)
	case "integer":
		c.kind, c.schema = kInt32, prim(tInt32)
	case "bigint", "oid":
		c.kind, c.schema = kInt64, prim(tInt64)
	case "real":
		c.kind, c.schema = kFloat32, prim(tFloat32)
	case "double precision":
		c.kind, c.schema = kFloat64, prim(tFloat64)
	case "numeric":
		if len(args) == 0 {
			c.kind, c.mode = kVarDecimal, e.opts.Decimal
			switch e.opts.Decimal {
			case DecimalString:
				c.schema = prim(tString)
			case DecimalDouble:
				c.schema = prim(tFloat64)
			default:
				c.schema = &cschema{typ: tStruct, name: "io.debezium.data.VariableScaleDecimal", version: 1,
					doc: "Variable scaled decimal", fields: []cfield{{"scale", prim(tInt32)}, {"value", prim(tBytes)}}}
			}
		} else {
			decimalColumn(c, e.opts.Decimal, arg(args, 1, 0), args[0], true)
		}
	case "money":
		decimalColumn(c, e.opts.Decimal, e.opts.MoneyFractionDigits, 0, false)
		c.kind = kMoney
	case "json", "jsonb":
		str("io.debezium.data.Json")
	case "xml":
		str("io.debezium.data.Xml")
	case "uuid":
		str("io.debezium.data.Uuid")
	case "tsvector":
		str("io.debezium.data.Tsvector")
	case "bytea":
		c.kind, c.schema = kPgBytes, prim(tBytes)
	case "bit", "bit varying":
		n := arg(args, 0, 1)
		if name == "bit varying" && len(args) == 0 {
			n = 1<<31 - 1
		}
		if n == 1 {
			c.kind, c.schema = kBit1, prim(tBool)
		} else {
			c.kind = kPgBits
			c.schema = &cschema{typ: tBytes, name: "io.debezium.data.Bits", version: 1, params: [][2]string{{"length", strconv.Itoa(n)}}}
		}
	case "date":
		c.kind, c.schema = kDate, named(tInt32, "io.debezium.time.Date")
	case "time without time zone":
		c.kind = kTime
		if arg(args, 0, 6) <= 3 {
			c.schema = named(tInt32, "io.debezium.time.Time")
		} else {
			c.micro, c.schema = true, named(tInt64, "io.debezium.time.MicroTime")
		}
	case "time with time zone":
		c.kind, c.schema = kZonedTime, named(tString, "io.debezium.time.ZonedTime")
	case "timestamp without time zone":
		c.kind = kTimestamp
		if arg(args, 0, 6) <= 3 {
			c.schema = named(tInt64, "io.debezium.time.Timestamp")
		} else {
			c.micro, c.schema = true, named(tInt64, "io.debezium.time.MicroTimestamp")
		}
	case "timestamp with time zone":
		c.kind, c.width, c.schema = kZonedTimestamp, arg(args, 0, 6), named(tString, "io.debezium.time.ZonedTimestamp")
	case "point":
		c.kind, c.schema = kPgPoint, pointSchema()
	default:
		if strings.HasPrefix(name, "interval") {
			c.kind, c.schema = kInterval, named(tInt64, "io.debezium.time.MicroDuration")
			break
		}
		// text, character varying, character, "char", name, citext, inet,
		// cidr, macaddr, macaddr8, ranges, the other geometric types,
		// domains, types of extensions: PostgreSQL's text.
		str("")
	}
	c.schema = c.schema.opt(optional)
	return c
}

func pointSchema() *cschema {
	return &cschema{typ: tStruct, name: "io.debezium.data.geometry.Point", version: 1, doc: "Geometry (POINT)",
		fields: []cfield{{"x", prim(tFloat64)}, {"y", prim(tFloat64)}, {"wkb", prim(tBytes).opt(true)}, {"srid", prim(tInt32).opt(true)}}}
}

func geometrySchema() *cschema {
	return &cschema{typ: tStruct, name: "io.debezium.data.geometry.Geometry", version: 2, doc: "Geometry",
		fields: []cfield{{"wkb", prim(tBytes)}, {"srid", prim(tInt32).opt(true)},
			{"extensions", &cschema{typ: tMap, optional: true, keys: prim(tString), values: prim(tString)}}}}
}

// mysqlType is a MySQL COLUMN_TYPE taken apart.
type mysqlType struct {
	base     string
	args     []int
	unsigned bool
}

func parseMySQLType(s string) mysqlType {
	var t mysqlType
	s = strings.ToLower(strings.TrimSpace(s))
	if strings.HasPrefix(s, "enum(") || strings.HasPrefix(s, "set(") {
		t.base, _, _ = strings.Cut(s, "(")
		return t
	}
	words := strings.Fields(s)
	if len(words) == 0 {
		return t
	}
	for _, w := range words[1:] {
		if w == "unsigned" {
			t.unsigned = true
		}
	}
	name, args, _ := splitArgs(words[0])
	t.base, t.args = name, args
	return t
}

// mysqlColumn resolves a MySQL or MariaDB column by its COLUMN_TYPE text.
func (e *Encoder) mysqlColumn(col change.Column, optional bool) *column {
	c := &column{name: col.Name, typ: col.Type, dialect: change.MySQL, optional: optional}
	t := parseMySQLType(col.Type)
	intCol := func(k kind, typ string) { c.kind, c.schema = k, prim(typ) }
	switch t.base {
	case "tinyint", "bool", "boolean":
		if t.unsigned {
			intCol(kInt16, tInt16)
		} else {
			intCol(kInt8, tInt8)
		}
	case "smallint":
		if t.unsigned {
			intCol(kInt32, tInt32)
		} else {
			intCol(kInt16, tInt16)
		}
	case "mediumint":
		intCol(kInt32, tInt32)
	case "int", "integer":
		if t.unsigned {
			intCol(kInt64, tInt64)
		} else {
			intCol(kInt32, tInt32)
		}
	case "bigint":
		switch {
		case !t.unsigned:
			intCol(kInt64, tInt64)
		case e.opts.BigintUnsigned == BigintPrecise:
			// bigint.unsigned.handling.mode=precise: a Decimal whatever
			// decimal.handling.mode says
			decimalColumn(c, DecimalPrecise, 0, 20, true)
		default:
			intCol(kUint64, tInt64)
		}
	case "decimal", "numeric", "dec", "fixed":
		decimalColumn(c, e.opts.Decimal, arg(t.args, 1, 0), arg(t.args, 0, 10), true)
	case "float":
		intCol(kFloat32, tFloat32)
	case "double", "real":
		intCol(kFloat64, tFloat64)
	case "bit":
		n := arg(t.args, 0, 1)
		if n <= 1 {
			intCol(kBit1, tBool)
		} else {
			c.kind, c.bits = kMyBits, n
			c.schema = &cschema{typ: tBytes, name: "io.debezium.data.Bits", version: 1, params: [][2]string{{"length", strconv.Itoa(n)}}}
		}
	case "enum", "set":
		name := "io.debezium.data.Enum"
		if t.base == "set" {
			name = "io.debezium.data.EnumSet"
		}
		c.kind = kString
		c.schema = &cschema{typ: tString, name: name, version: 1, params: [][2]string{{"allowed", mysqlAllowed(col.Enum)}}}
	case "binary", "varbinary", "tinyblob", "blob", "mediumblob", "longblob":
		intCol(kRawBytes, tBytes)
	case "date":
		c.kind, c.schema = kDate, named(tInt32, "io.debezium.time.Date")
	case "datetime":
		c.kind = kTimestamp
		if arg(t.args, 0, 0) <= 3 {
			c.schema = named(tInt64, "io.debezium.time.Timestamp")
		} else {
			c.micro, c.schema = true, named(tInt64, "io.debezium.time.MicroTimestamp")
		}
	case "timestamp":
		c.kind, c.width, c.schema = kZonedTimestamp, arg(t.args, 0, 0), named(tString, "io.debezium.time.ZonedTimestamp")
	case "time":
		c.kind, c.micro, c.schema = kTime, true, named(tInt64, "io.debezium.time.MicroTime")
	case "year":
		c.kind, c.schema = kYear, named(tInt32, "io.debezium.time.Year")
	case "json":
		c.kind, c.schema = kString, named(tString, "io.debezium.data.Json")
	case "point":
		c.kind, c.schema = kMyPoint, pointSchema()
	case "geometry", "linestring", "polygon", "multipoint", "multilinestring", "multipolygon", "geometrycollection", "geomcollection":
		c.kind, c.schema = kMyGeometry, geometrySchema()
	default:
		// char, varchar, the text types, MariaDB uuid, inet4, inet6, and
		// anything newer: the value's text.
		intCol(kString, tString)
	}
	c.schema = c.schema.opt(optional)
	return c
}

// mysqlAllowed joins ENUM / SET labels as Debezium's MySQL connector does:
// commas and backslashes in a label are escaped with a backslash.
func mysqlAllowed(labels []string) string {
	var b strings.Builder
	for i, l := range labels {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strings.NewReplacer(`\`, `\\`, `,`, `\,`).Replace(l))
	}
	return b.String()
}
