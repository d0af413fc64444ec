package mysql

import (
	"bytes"
	"fmt"
	"slices"
	"strconv"
	"strings"

	gomysql "github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"

	"github.com/sluicecdc/sluice/pkg/change"
)

// kind is a column's type family; together with the colDesc fields it
// determines both the type text and the value conversion.
type kind uint8

const (
	kTiny kind = iota + 1
	kShort
	kInt24
	kLong
	kLonglong
	kDecimal
	kFloat
	kDouble
	kBit
	kDate
	kDatetime
	kTimestamp
	kTime
	kYear
	kChar    // char / binary
	kVarchar // varchar / varbinary
	kBlob    // tinytext..longtext / tinyblob..longblob
	kEnum
	kSet
	kJSON // MySQL only: MariaDB's JSON is a longtext
	kGeometry
)

// colDesc describes one column however it was learnt (binlog table map or
// information_schema); change.Column and value conversion derive from it
// alone, so both paths agree by construction.
type colDesc struct {
	name     string
	kind     kind
	unsigned bool
	length   int // char/varchar: characters (bytes when binary); bit: bits
	blobSize int // length bytes of a blob/text: 1 tiny, 2, 3 medium, 4 long
	prec     int // decimal precision
	scale    int // decimal scale
	fsp      int // fractional seconds of datetime/timestamp/time
	charset  string
	labels   []string // enum/set labels, UTF-8
	notNull  bool
	geom     string // geometry type name

	dec *textDecoder // converts a text column's bytes to UTF-8; nil = already UTF-8 or binary
}

// binary tells whether a string column holds bytes (charset binary).
func (c *colDesc) binary() bool { return c.charset == "binary" }

// typeText is the column type as information_schema.COLUMN_TYPE writes it,
// lower case and without display widths.
func (c *colDesc) typeText() string {
	var s string
	switch c.kind {
	case kTiny:
		s = "tinyint"
	case kShort:
		s = "smallint"
	case kInt24:
		s = "mediumint"
	case kLong:
		s = "int"
	case kLonglong:
		s = "bigint"
	case kDecimal:
		s = fmt.Sprintf("decimal(%d,%d)", c.prec, c.scale)
	case kFloat:
		s = "float"
	case kDouble:
		s = "double"
	case kBit:
		return fmt.Sprintf("bit(%d)", c.length)
	case kDate:
		return "date"
	case kDatetime, kTimestamp, kTime:
		s = map[kind]string{kDatetime: "datetime", kTimestamp: "timestamp", kTime: "time"}[c.kind]
		if c.fsp > 0 {
			s += "(" + strconv.Itoa(c.fsp) + ")"
		}
		return s
	case kYear:
		return "year"
	case kChar:
		if c.binary() {
			return fmt.Sprintf("binary(%d)", c.length)
		}
		return fmt.Sprintf("char(%d)", c.length)
	case kVarchar:
		if c.binary() {
			return fmt.Sprintf("varbinary(%d)", c.length)
		}
		return fmt.Sprintf("varchar(%d)", c.length)
	case kBlob:
		size := [...]string{"", "tiny", "", "medium", "long"}[min(max(c.blobSize, 0), 4)]
		if c.binary() {
			return size + "blob"
		}
		return size + "text"
	case kEnum, kSet:
		s = "enum("
		if c.kind == kSet {
			s = "set("
		}
		for i, l := range c.labels {
			if i > 0 {
				s += ","
			}
			s += quoteLabel(l)
		}
		return s + ")"
	case kJSON:
		return "json"
	case kGeometry:
		return c.geom
	}
	if c.unsigned {
		s += " unsigned"
	}
	return s
}

// column is the change.Column of the description.
func (c *colDesc) column() change.Column {
	col := change.Column{Name: c.name, Type: c.typeText(), NotNull: c.notNull}
	switch c.kind {
	case kChar, kVarchar, kBlob, kEnum, kSet:
		col.Charset = c.charset
	}
	if c.kind == kEnum || c.kind == kSet {
		col.Enum = slices.Clone(c.labels)
	}
	return col
}

// quoteLabel quotes an enum/set label the way information_schema does
// (MySQL's append_unescaped).
func quoteLabel(l string) string {
	var b strings.Builder
	b.WriteByte('\'')
	for i := 0; i < len(l); i++ {
		switch c := l[i]; c {
		case 0:
			b.WriteString(`\0`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\\':
			b.WriteString(`\\`)
		case '\'':
			b.WriteString(`''`)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('\'')
	return b.String()
}

// parseLabels reads the labels of an information_schema COLUMN_TYPE like
// "enum('a','it”s')" or "set('x','y')".
func parseLabels(columnType string) ([]string, error) {
	open := strings.IndexByte(columnType, '(')
	if open < 0 || !strings.HasSuffix(columnType, ")") {
		return nil, fmt.Errorf("column type %q: no label list", columnType)
	}
	s := columnType[open+1 : len(columnType)-1]
	var labels []string
	for i := 0; i < len(s); {
		if s[i] != '\'' {
			return nil, fmt.Errorf("column type %q: label not quoted at %d", columnType, i)
		}
		var b strings.Builder
		i++
		for {
			if i >= len(s) {
				return nil, fmt.Errorf("column type %q: unterminated label", columnType)
			}
			c := s[i]
			if c == '\'' {
				if i+1 < len(s) && s[i+1] == '\'' {
					b.WriteByte('\'')
					i += 2
					continue
				}
				i++
				break
			}
			if c == '\\' && i+1 < len(s) {
				switch e := s[i+1]; e {
				case '0':
					b.WriteByte(0)
				case 'n':
					b.WriteByte('\n')
				case 'r':
					b.WriteByte('\r')
				case 'Z':
					b.WriteByte(26)
				default:
					b.WriteByte(e)
				}
				i += 2
				continue
			}
			b.WriteByte(c)
			i++
		}
		labels = append(labels, b.String())
		if i < len(s) {
			if s[i] != ',' {
				return nil, fmt.Errorf("column type %q: want ',' at %d", columnType, i)
			}
			i++
			if i == len(s) {
				return nil, fmt.Errorf("column type %q: trailing ','", columnType)
			}
		}
	}
	return labels, nil
}

var geometryNames = [...]string{"geometry", "point", "linestring", "polygon", "multipoint", "multilinestring", "multipolygon", "geometrycollection"}

// shape is a table as one table map describes it: the change.Table plus
// the column descriptions used to convert values.
type shape struct {
	table *change.Table
	cols  []colDesc
	tm    *replication.TableMapEvent // the table map it was built from (to spot unchanged ones)
}

// errMetadata says the binlog lacks what binlog_row_metadata=FULL provides.
func errMetadata(id change.TableID) error {
	return permanentf("the binlog table map of %s carries no column names: binlog_row_metadata is not FULL; "+
		"set binlog_row_metadata=FULL in my.cnf ([mysqld] binlog_row_metadata = FULL) and run SET GLOBAL binlog_row_metadata = 'FULL' "+
		"(events written before the change cannot be decoded: run `sluice run --resnapshot` afterwards)", id)
}

// fromTableMap builds the shape a table map describes. Only the table map is
// used, never the live schema, so old events decode with their own shape.
func fromTableMap(tm *replication.TableMapEvent, cs *charsets) (*shape, error) {
	id := change.TableID{Schema: string(tm.Schema), Name: string(tm.Table)}
	n := int(tm.ColumnCount)
	if len(tm.ColumnName) != n || n == 0 {
		return nil, errMetadata(id)
	}
	if len(tm.ColumnType) != n || len(tm.ColumnMeta) != n {
		return nil, permanentf("table map of %s is malformed", id)
	}
	m, err := readMeta(tm)
	if err != nil {
		return nil, permanentf("the binlog table map of %s has inconsistent metadata: %v", id, err)
	}
	unsigned, colls, enumColls, enums, sets, geoms := m.unsigned, m.colls, m.enumColls, m.enums, m.sets, m.geoms
	cols := make([]colDesc, n)
	for i := range cols {
		c := &cols[i]
		c.name = string(tm.ColumnName[i])
		if m.nullable[i] != 0 {
			c.notNull = m.nullable[i] < 0
		}
		c.unsigned = unsigned[i]
		meta := tm.ColumnMeta[i]
		typ := tm.ColumnType[i]
		if typ == gomysql.MYSQL_TYPE_STRING && meta >= 256 {
			// The real type hides in the high byte (with two bits of the length).
			b0, b1 := byte(meta>>8), byte(meta)
			if b0&0x30 != 0x30 {
				c.length = int(b1) | int((b0&0x30)^0x30)<<4
				typ = b0 | 0x30
			} else {
				c.length = int(b1)
				typ = b0
			}
		} else if typ == gomysql.MYSQL_TYPE_STRING {
			c.length = int(meta)
		}
		textCharset := func(coll uint64, ok bool) error {
			if !ok {
				return permanentf("the binlog table map of %s gives no character set for column %s; set binlog_row_metadata=FULL", id, c.name)
			}
			name, maxLen, known := cs.byCollation(coll)
			if !known {
				return permanentf("table %s column %s: unknown collation id %d", id, c.name, coll)
			}
			c.charset = name
			if name != "binary" {
				d, err := decoderFor(name)
				if err != nil {
					return permanentf("table %s column %s: %v", id, c.name, err)
				}
				c.dec = d
				if c.kind == kChar || c.kind == kVarchar {
					c.length /= max(maxLen, 1)
				}
			}
			return nil
		}
		switch typ {
		case gomysql.MYSQL_TYPE_TINY:
			c.kind = kTiny
		case gomysql.MYSQL_TYPE_SHORT:
			c.kind = kShort
		case gomysql.MYSQL_TYPE_INT24:
			c.kind = kInt24
		case gomysql.MYSQL_TYPE_LONG:
			c.kind = kLong
		case gomysql.MYSQL_TYPE_LONGLONG:
			c.kind = kLonglong
		case gomysql.MYSQL_TYPE_NEWDECIMAL:
			c.kind, c.prec, c.scale = kDecimal, int(meta>>8), int(meta&0xff)
		case gomysql.MYSQL_TYPE_FLOAT:
			c.kind = kFloat
		case gomysql.MYSQL_TYPE_DOUBLE:
			c.kind = kDouble
		case gomysql.MYSQL_TYPE_BIT:
			c.kind, c.length = kBit, int(meta>>8)*8+int(meta&0xff)
		case gomysql.MYSQL_TYPE_DATE, gomysql.MYSQL_TYPE_NEWDATE:
			c.kind = kDate
		case gomysql.MYSQL_TYPE_DATETIME:
			c.kind = kDatetime
		case gomysql.MYSQL_TYPE_DATETIME2:
			c.kind, c.fsp = kDatetime, int(meta)
		case gomysql.MYSQL_TYPE_TIMESTAMP:
			c.kind = kTimestamp
		case gomysql.MYSQL_TYPE_TIMESTAMP2:
			c.kind, c.fsp = kTimestamp, int(meta)
		case gomysql.MYSQL_TYPE_TIME:
			c.kind = kTime
		case gomysql.MYSQL_TYPE_TIME2:
			c.kind, c.fsp = kTime, int(meta)
		case gomysql.MYSQL_TYPE_YEAR:
			c.kind = kYear
		case gomysql.MYSQL_TYPE_STRING:
			c.kind = kChar
			coll, ok := colls[i]
			err = textCharset(coll, ok)
		case gomysql.MYSQL_TYPE_VARCHAR, gomysql.MYSQL_TYPE_VAR_STRING:
			c.kind, c.length = kVarchar, int(meta)
			coll, ok := colls[i]
			err = textCharset(coll, ok)
		case gomysql.MYSQL_TYPE_BLOB:
			c.kind, c.blobSize = kBlob, int(meta)
			coll, ok := colls[i]
			err = textCharset(coll, ok)
		case gomysql.MYSQL_TYPE_ENUM, gomysql.MYSQL_TYPE_SET:
			c.kind = kEnum
			labels, ok := enums[i]
			if typ == gomysql.MYSQL_TYPE_SET {
				c.kind = kSet
				labels, ok = sets[i]
			}
			if !ok {
				return nil, errMetadata(id)
			}
			coll, ok := enumColls[i]
			if err = textCharset(coll, ok); err == nil {
				c.labels, err = c.dec.labels(labels)
			}
		case gomysql.MYSQL_TYPE_JSON:
			c.kind = kJSON
		case gomysql.MYSQL_TYPE_GEOMETRY:
			c.kind, c.geom = kGeometry, "geometry"
			if g, ok := geoms[i]; ok && g < uint64(len(geometryNames)) {
				c.geom = geometryNames[g]
			}
		default:
			return nil, permanentf("table %s column %s: binlog column type %d is not supported", id, c.name, typ)
		}
		if err != nil {
			return nil, err
		}
		if c.kind == kBlob && (c.blobSize < 1 || c.blobSize > 4) {
			return nil, permanentf("table %s column %s: bad blob length size %d", id, c.name, c.blobSize)
		}
		c.normalize()
	}
	t := &change.Table{ID: id, Columns: make([]change.Column, n), Identity: change.IdentityFull, Dialect: change.MySQL}
	for i := range cols {
		t.Columns[i] = cols[i].column()
	}
	for _, k := range tm.PrimaryKey {
		if k >= uint64(n) {
			return nil, permanentf("table map of %s names primary key column %d of %d", id, k, n)
		}
		t.Key = append(t.Key, int(k))
	}
	return &shape{table: t, cols: cols, tm: tm}, nil
}

// tableMeta is the optional metadata of a table map, per column.
type tableMeta struct {
	unsigned         map[int]bool
	colls, enumColls map[int]uint64
	enums, sets      map[int][]string
	geoms            map[int]uint64
	nullable         []int8 // 1 nullable, -1 NOT NULL, 0 not told
}

// readMeta reads the table map's optional metadata through go-mysql's
// helpers, which index their lists without checking them: a panic there
// is an error about this table map, and only there.
func readMeta(tm *replication.TableMapEvent) (m tableMeta, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%v", r)
		}
	}()
	m.unsigned, m.colls, m.enumColls = tm.UnsignedMap(), tm.CollationMap(), tm.EnumSetCollationMap()
	m.enums, m.sets, m.geoms = tm.EnumStrValueMap(), tm.SetStrValueMap(), tm.GeometryTypeMap()
	m.nullable = make([]int8, tm.ColumnCount)
	for i := range m.nullable {
		if avail, nullable := tm.Nullable(i); avail {
			m.nullable[i] = -1
			if nullable {
				m.nullable[i] = 1
			}
		}
	}
	return m, nil
}

// sameTableMap tells whether two table maps describe the same shape, without
// building it again.
func sameTableMap(a, b *replication.TableMapEvent) bool {
	return bytes.Equal(a.Schema, b.Schema) && bytes.Equal(a.Table, b.Table) && a.ColumnCount == b.ColumnCount &&
		bytes.Equal(a.ColumnType, b.ColumnType) && slices.Equal(a.ColumnMeta, b.ColumnMeta) &&
		bytes.Equal(a.NullBitmap, b.NullBitmap) && bytes.Equal(a.SignednessBitmap, b.SignednessBitmap) &&
		slices.Equal(a.DefaultCharset, b.DefaultCharset) && slices.Equal(a.ColumnCharset, b.ColumnCharset) &&
		slices.EqualFunc(a.ColumnName, b.ColumnName, bytes.Equal) &&
		slices.EqualFunc(a.SetStrValue, b.SetStrValue, eqBytesList) && slices.EqualFunc(a.EnumStrValue, b.EnumStrValue, eqBytesList) &&
		slices.Equal(a.GeometryType, b.GeometryType) && slices.Equal(a.PrimaryKey, b.PrimaryKey) &&
		slices.Equal(a.EnumSetDefaultCharset, b.EnumSetDefaultCharset) && slices.Equal(a.EnumSetColumnCharset, b.EnumSetColumnCharset)
}

func eqBytesList(a, b [][]byte) bool { return slices.EqualFunc(a, b, bytes.Equal) }

// infoColumn is one row of information_schema.COLUMNS.
type infoColumn struct {
	name, dataType, columnType, nullable string
	charset                              *string
	charLen, prec, scale, fsp            *int64
}

// fromInfoSchema describes a column from information_schema the way
// fromTableMap describes it from the binlog.
func fromInfoSchema(id change.TableID, ic infoColumn) (colDesc, error) {
	c := colDesc{name: ic.name, notNull: ic.nullable == "NO"}
	ct := strings.ToLower(ic.columnType)
	c.unsigned = strings.Contains(ct, " unsigned")
	num := func(p *int64) int {
		if p == nil {
			return 0
		}
		return int(*p)
	}
	text := func() error {
		c.charset = "binary"
		if ic.charset != nil {
			c.charset = *ic.charset
			d, err := decoderFor(c.charset)
			if err != nil {
				return fmt.Errorf("table %s column %s: %v", id, c.name, err)
			}
			c.dec = d
		}
		return nil
	}
	var err error
	switch dt := strings.ToLower(ic.dataType); dt {
	case "tinyint":
		c.kind = kTiny
	case "smallint":
		c.kind = kShort
	case "mediumint":
		c.kind = kInt24
	case "int", "integer":
		c.kind = kLong
	case "bigint":
		c.kind = kLonglong
	case "decimal", "numeric":
		c.kind, c.prec, c.scale = kDecimal, num(ic.prec), num(ic.scale)
	case "float":
		c.kind = kFloat
	case "double", "double precision", "real":
		c.kind = kDouble
	case "bit":
		c.kind, c.length = kBit, num(ic.prec)
	case "date":
		c.kind = kDate
	case "datetime":
		c.kind, c.fsp = kDatetime, num(ic.fsp)
	case "timestamp":
		c.kind, c.fsp = kTimestamp, num(ic.fsp)
	case "time":
		c.kind, c.fsp = kTime, num(ic.fsp)
	case "year":
		c.kind = kYear
	case "char", "binary":
		c.kind, c.length = kChar, num(ic.charLen)
		err = text()
	case "varchar", "varbinary":
		c.kind, c.length = kVarchar, num(ic.charLen)
		err = text()
	case "tinytext", "tinyblob", "text", "blob", "mediumtext", "mediumblob", "longtext", "longblob":
		c.kind = kBlob
		c.blobSize = map[string]int{"tiny": 1, "": 2, "medium": 3, "long": 4}[strings.TrimSuffix(strings.TrimSuffix(dt, "text"), "blob")]
		err = text()
	case "enum", "set":
		c.kind = kEnum
		if dt == "set" {
			c.kind = kSet
		}
		if err = text(); err == nil {
			c.labels, err = parseLabels(ic.columnType)
		}
	case "json":
		c.kind = kJSON
	default:
		if slices.Contains(geometryNames[:], dt) {
			c.kind, c.geom = kGeometry, dt
			break
		}
		return c, fmt.Errorf("table %s column %s: type %s is not supported", id, c.name, ic.columnType)
	}
	c.normalize()
	return c, err
}

// normalize clears what only numeric types carry (MariaDB flags YEAR unsigned).
func (c *colDesc) normalize() {
	switch c.kind {
	case kYear, kBit, kDate, kDatetime, kTimestamp, kTime, kChar, kVarchar, kBlob, kEnum, kSet, kJSON, kGeometry:
		c.unsigned = false
	}
}
