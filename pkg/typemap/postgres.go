package typemap

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/sluicecdc/sluice/pkg/change"
)

// MySQL limits the PostgreSQL → MySQL mapping works within.
const (
	keyBytes     = 3072  // InnoDB index key (DYNAMIC row format, MySQL 8 and MariaDB 10.11)
	rowBytes     = 65535 // MySQL row, counting each VARCHAR at its longest and each BLOB/TEXT as 12 bytes
	pageRowBytes = 8126  // InnoDB record in a 16 KiB page, VARCHARs of up to 255 bytes counted at their longest
	mb4          = 4     // bytes per character of utf8mb4
	maxVarchar   = 16383 // the longest utf8mb4 VARCHAR
	maxEnum      = 65535 // MySQL ENUM labels
)

// myCol is a MySQL column being planned, with what the size rules need.
type myCol struct {
	typ     string
	charset string
	conv    colConv
	key     bool

	// sizing: a column is fixed (bytes), a string of at most chars
	// characters (binary: bytes), or a LOB (longtext, longblob, json).
	fixed   int
	chars   int
	binary  bool
	lob     bool
	keyWant int // a LOB in the key: the characters (bytes) its bounded form wants
}

func (c *myCol) stringBytes() int {
	if c.binary {
		return c.chars
	}
	return c.chars * mb4
}

// rowSize is what the column counts toward MySQL's 65535-byte row limit.
func (c *myCol) rowSize() int {
	switch {
	case c.lob:
		return 12
	case c.chars > 0:
		b := c.stringBytes()
		if b > 255 {
			return b + 2
		}
		return b + 1
	}
	return c.fixed
}

// pageSize is what the column counts toward InnoDB's in-page record limit:
// strings of over 255 bytes and LOBs may live off-page (a 20-byte pointer).
func (c *myCol) pageSize() int {
	switch {
	case c.lob:
		return 20
	case c.chars > 0:
		if b := c.stringBytes(); b <= 255 {
			return b + 1
		}
		return 20
	}
	return c.fixed
}

// postgresToMySQL maps a PostgreSQL-dialect table to MySQL.
func postgresToMySQL(t *change.Table) (*tableConv, error) {
	cols := make([]myCol, len(t.Columns))
	for _, k := range t.Key {
		if k < 0 || k >= len(cols) {
			return nil, fmt.Errorf("typemap: table %s: key column index %d is out of range", t.ID, k)
		}
		cols[k].key = true
	}
	for i, col := range t.Columns {
		if err := mapPgColumn(col, &cols[i]); err != nil {
			return nil, fmt.Errorf("typemap: table %s column %s: %w", t.ID, col.Name, err)
		}
	}
	if err := boundKey(t, cols); err != nil {
		return nil, err
	}
	fitRow(cols)

	out := &change.Table{ID: t.ID, Key: append([]int(nil), t.Key...), Identity: t.Identity, Dialect: change.MySQL,
		Columns: make([]change.Column, len(t.Columns))}
	tc := &tableConv{out: out, cols: make([]colConv, len(t.Columns))}
	for i, col := range t.Columns {
		c := &cols[i]
		oc := change.Column{Name: col.Name, Type: c.typ, Charset: c.charset, NotNull: col.NotNull}
		if strings.HasPrefix(c.typ, "enum(") {
			oc.Enum = append([]string(nil), col.Enum...)
		}
		out.Columns[i] = oc
		c.conv.name, c.conv.from, c.conv.to, c.conv.notNull = col.Name, "PostgreSQL "+col.Type, "MySQL "+c.typ, col.NotNull
		tc.cols[i] = c.conv
	}
	return tc, nil
}

// pgTypeArgs splits "name(a,b) suffix" into name+suffix and the numbers.
func pgTypeArgs(s string) (name string, args []int, ok bool) {
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
	return s[:open] + s[open+end+1:], args, true
}

func (c *myCol) setString(typ string, chars int, kind valueKind) {
	c.typ, c.charset, c.chars, c.conv.kind = typ, "utf8mb4", chars, kind
}

func (c *myCol) setLob(typ string, kind valueKind, keyWant int) {
	c.typ, c.charset, c.lob, c.conv.kind, c.keyWant = typ, "utf8mb4", true, kind, keyWant
}

func (c *myCol) setFixed(typ string, bytes int, kind valueKind) {
	c.typ, c.fixed, c.conv.kind = typ, bytes, kind
}

// mapPgColumn plans the MySQL column of a PostgreSQL column (unbounded; the
// key and row rules come later).
func mapPgColumn(col change.Column, c *myCol) error {
	typ := col.Type
	if strings.HasSuffix(typ, "[]") {
		elem := strings.TrimSuffix(typ, "[]")
		for strings.HasSuffix(elem, "[]") {
			elem = strings.TrimSuffix(elem, "[]")
		}
		c.setLob("json", vPgArray, 768)
		c.conv.elem, c.conv.delim = arrayElemKind(elem), ','
		if elem == "box" {
			c.conv.delim = ';'
		}
		return nil
	}
	if len(col.Enum) > 0 {
		mapPgEnum(col.Enum, c)
		return nil
	}
	name, args, ok := pgTypeArgs(typ)
	if !ok {
		name, args = "", nil // an odd type name: kept as text below
	}
	arg := func(i, def int) int {
		if i < len(args) {
			return args[i]
		}
		return def
	}
	switch name {
	case "boolean":
		c.setFixed("tinyint", 1, vPgBool)
	case "smallint":
		c.setFixed("smallint", 2, vCopy)
	case "integer":
		c.setFixed("int", 4, vCopy)
	case "bigint":
		c.setFixed("bigint", 8, vCopy)
	case "real":
		c.setFixed("float", 4, vPgFloat)
		c.conv.n = 32
	case "double precision":
		c.setFixed("double", 8, vPgFloat)
		c.conv.n = 64
	case "numeric":
		p, s := arg(0, 0), arg(1, 0)
		if len(args) == 2 && p >= 1 && p <= 65 && s >= 0 && s <= 30 && s <= p {
			c.setFixed(fmt.Sprintf("decimal(%d,%d)", p, s), 4*(p/9)+8, vPgNumeric)
		} else {
			c.setLob("longtext", vPgText, 255)
		}
	case "money":
		c.setString("varchar(64)", 64, vPgText)
	case "character varying", "character":
		// character(n) maps to varchar(n) too: PostgreSQL prints its
		// padding spaces, and a MySQL CHAR would drop them on read.
		if n := arg(0, 0); n >= 1 && n <= maxVarchar {
			c.setString(fmt.Sprintf("varchar(%d)", n), n, vPgText)
		} else if n > maxVarchar {
			c.setLob("longtext", vPgText, n)
		} else {
			c.setLob("longtext", vPgText, 768)
		}
	case "text":
		c.setLob("longtext", vPgText, 768)
	case "bytea":
		c.typ, c.charset, c.lob, c.binary, c.conv.kind, c.keyWant = "longblob", "binary", true, true, vPgBytea, keyBytes
		c.conv.binary = true
	case "date":
		c.setFixed("date", 3, vPgDate)
	case "timestamp without time zone", "timestamp with time zone":
		fsp := min(arg(0, 6), 6)
		kind := vPgTimestamp
		if strings.HasSuffix(name, "with time zone") {
			kind = vPgTimestamptz
		}
		c.setFixed(withFsp("datetime", fsp), 8, kind)
		c.conv.n = fsp
	case "time without time zone":
		fsp := min(arg(0, 6), 6)
		c.setFixed(withFsp("time", fsp), 6, vPgTime)
		c.conv.n = fsp
	case "time with time zone":
		c.setString("varchar(32)", 32, vPgText)
	case "interval", "interval year", "interval month", "interval day", "interval hour", "interval minute", "interval second",
		"interval year to month", "interval day to hour", "interval day to minute", "interval day to second",
		"interval hour to minute", "interval hour to second", "interval minute to second":
		c.setString("varchar(255)", 255, vPgText)
	case "uuid":
		c.setString("char(36)", 36, vPgText)
	case "json", "jsonb":
		c.setLob("json", vPgText, 768)
	case "bit":
		n := arg(0, 0)
		switch {
		case n >= 1 && n <= 64:
			c.setFixed(fmt.Sprintf("bit(%d)", n), 8, vCopy)
		case n > 64 && n <= maxVarchar:
			c.setString(fmt.Sprintf("varchar(%d)", n), n, vPgText)
		default:
			c.setLob("longtext", vPgText, 768)
		}
	default:
		// xml, tsvector, inet, cidr, macaddr, geometric types, ranges,
		// bit varying, domains, ...: PostgreSQL's text, kept exactly.
		c.setLob("longtext", vPgText, 768)
	}
	return nil
}

func withFsp(typ string, fsp int) string {
	if fsp == 0 {
		return typ
	}
	return fmt.Sprintf("%s(%d)", typ, fsp)
}

// mapPgEnum maps an enum to MySQL ENUM when its labels are safe there:
// printable ASCII without backslashes (so no collation can fold two labels
// together and no sql_mode changes how they are quoted), no trailing spaces
// (MySQL drops them), no two equal ignoring case. Otherwise varchar, which
// keeps any label exactly.
func mapPgEnum(labels []string, c *myCol) {
	safe := len(labels) <= maxEnum
	longest := 1
	seen := make(map[string]bool, len(labels))
	for _, l := range labels {
		longest = max(longest, len([]rune(l)))
		if !safe {
			continue
		}
		if strings.HasSuffix(l, " ") || seen[strings.ToLower(l)] {
			safe = false
		}
		for i := 0; i < len(l); i++ {
			if l[i] < 0x20 || l[i] > 0x7e || l[i] == '\\' {
				safe = false
			}
		}
		seen[strings.ToLower(l)] = true
	}
	if !safe {
		c.setString(fmt.Sprintf("varchar(%d)", longest), longest, vPgText)
		return
	}
	var b strings.Builder
	b.WriteString("enum(")
	for i, l := range labels {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString("'" + strings.ReplaceAll(l, "'", "''") + "'")
	}
	b.WriteByte(')')
	c.typ, c.charset, c.fixed, c.conv.kind = b.String(), "utf8mb4", 2, vCopy
}

// boundKey gives key columns that MySQL cannot index whole (LOBs, and
// strings too long for the key) bounded types that together fit InnoDB's
// 3072-byte key: each gets its fair share of what the fixed-size key
// columns leave, up to what it wants (768 characters for text, 3072 bytes
// for bytea, 255 for numeric, n for varchar(n)). Values longer than the
// bound fail with an error naming this rule.
func boundKey(t *change.Table, cols []myCol) error {
	budget := keyBytes
	var vars []*myCol
	for _, k := range t.Key {
		c := &cols[k]
		switch {
		case c.lob:
			vars = append(vars, c)
		case c.chars > 0:
			vars = append(vars, c)
		default:
			budget -= c.fixed
		}
	}
	want := func(c *myCol) int {
		if c.lob {
			return c.keyWant
		}
		return c.chars
	}
	bpc := func(c *myCol) int {
		if c.binary {
			return 1
		}
		return mb4
	}
	sort.SliceStable(vars, func(i, j int) bool { return want(vars[i])*bpc(vars[i]) < want(vars[j])*bpc(vars[j]) })
	for i, c := range vars {
		share := budget / (len(vars) - i)
		chars := min(want(c), share/bpc(c))
		if chars < 1 {
			return fmt.Errorf("typemap: table %s: its primary key is too wide for MySQL (InnoDB keys are limited to %d bytes); fix: replicate the table into a target table you create with a narrower key", t.ID, keyBytes)
		}
		budget -= chars * bpc(c)
		if !c.lob && chars == c.chars {
			continue // fits as it is
		}
		if c.binary {
			c.typ = fmt.Sprintf("varbinary(%d)", chars)
		} else {
			c.typ, c.charset = fmt.Sprintf("varchar(%d)", chars), "utf8mb4"
		}
		c.lob, c.chars, c.conv.limit = false, chars, chars
	}
	return nil
}

// fitRow turns the widest non-key varchar columns into longtext until the
// row fits MySQL's 65535-byte row limit and InnoDB's in-page record limit,
// which CREATE TABLE enforces.
func fitRow(cols []myCol) {
	// overhead: record header, transaction id, roll pointer, hidden row
	// id, NULL bitmap, variable-length headers
	over := 5 + 6 + 7 + 6 + (len(cols)+7)/8 + 2*len(cols)
	row, page := over, over
	for i := range cols {
		row += cols[i].rowSize()
		page += cols[i].pageSize()
	}
	for row > rowBytes || page > pageRowBytes {
		pick, gain := -1, 0
		for i := range cols {
			c := &cols[i]
			if c.key || c.lob || c.chars == 0 || c.binary {
				continue
			}
			g := c.pageSize() - 20
			if row > rowBytes {
				g = c.rowSize() - 12
			}
			if g > gain {
				pick, gain = i, g
			}
		}
		if pick < 0 {
			return // nothing left to move off-page; CREATE TABLE will say why
		}
		c := &cols[pick]
		row -= c.rowSize()
		page -= c.pageSize()
		c.typ, c.charset, c.lob, c.chars = "longtext", "utf8mb4", true, 0
		row += c.rowSize()
		page += c.pageSize()
	}
}
