// Package change holds the common change record every source produces and every
// sink consumes: operations, tables as the source saw them, rows of values, and
// the transactions that carry them.
package change

import (
	"fmt"
	"strings"
)

// Op is the kind of a change.
type Op uint8

const (
	Insert   Op = iota + 1
	Update      // Before holds the old key (all columns with a FULL identity), After the new row
	Delete      // Before holds the old key (all columns with a FULL identity)
	Truncate    // no rows; Table names the truncated table
	Read        // a row copied by the initial snapshot
	// Rename: columns of Table were renamed on the source (MySQL/MariaDB
	// DDL). Before holds the old names, After the new ones, pairwise, as
	// present values; all renames of one statement take effect at once.
	// Table is the table's last shape before the statement. Sinks with
	// columns rename them; others skip the change. Use Renames.
	Rename
)

func (o Op) String() string {
	switch o {
	case Insert:
		return "insert"
	case Update:
		return "update"
	case Delete:
		return "delete"
	case Truncate:
		return "truncate"
	case Read:
		return "read"
	case Rename:
		return "rename"
	}
	return fmt.Sprintf("op(%d)", uint8(o))
}

// TableID names a table: Schema is the PostgreSQL schema or the MySQL database.
type TableID struct {
	Schema string
	Name   string
}

func (t TableID) String() string { return t.Schema + "." + t.Name }

// ParseTableID splits "schema.table".
func ParseTableID(s string) (TableID, error) {
	schema, name, ok := strings.Cut(s, ".")
	if !ok || schema == "" || name == "" {
		return TableID{}, fmt.Errorf("parse table %q: want schema.table", s)
	}
	return TableID{Schema: schema, Name: name}, nil
}

// Column describes one column as the source saw it when the change was written.
type Column struct {
	Name    string
	Type    string // the source's SQL type, e.g. "numeric(12,2)", "timestamp with time zone", "public.mood"
	TypeOID uint32 // PostgreSQL type OID; 0 for other sources
	Charset string // MySQL: the character set of a text column ("utf8mb4", "latin1", "binary"); "" otherwise
	NotNull bool
	Enum    []string // labels when the type (or an array's element type) is an enum, so a target can create it
}

func (c Column) equal(o Column) bool {
	if c.Name != o.Name || c.Type != o.Type || c.TypeOID != o.TypeOID || c.Charset != o.Charset || c.NotNull != o.NotNull || len(c.Enum) != len(o.Enum) {
		return false
	}
	for i := range c.Enum {
		if c.Enum[i] != o.Enum[i] {
			return false
		}
	}
	return true
}

// Identity says which old values a source sends with updates and deletes.
type Identity uint8

const (
	IdentityKey     Identity = iota // old row carries the key columns only (PostgreSQL DEFAULT or USING INDEX)
	IdentityFull                    // old row carries every column (REPLICA IDENTITY FULL, binlog FULL image)
	IdentityNothing                 // no old values: updates and deletes cannot be matched
)

// Dialect names the SQL engine a table's column types and value texts
// belong to. A sink whose engine differs converts them (see pkg/typemap).
type Dialect uint8

const (
	// Postgres: Column.Type is PostgreSQL's format_type text and values are
	// PostgreSQL's text output (DateStyle ISO, TimeZone UTC, bytea hex,
	// extra_float_digits 3).
	Postgres Dialect = iota
	// MySQL (and MariaDB): Column.Type is the column type as
	// information_schema.COLUMN_TYPE writes it, lower case and without
	// display widths: "int", "bigint unsigned", "decimal(65,30)",
	// "varchar(255)", "datetime(6)", "enum('a','b')" (labels also in Enum),
	// "set('x','y')" (labels in Enum), "bit(8)", "longblob", "json", ...
	// Values are MySQL's text output with time_zone '+00:00':
	//   integers and decimals in base 10, exactly as MySQL prints them;
	//   float and double as Go's shortest round-trip text (strconv 'g', -1);
	//   bit(n) as n characters '0'/'1';
	//   enum as its label, set as its labels joined by ',' in definition order;
	//   char/varchar/text as UTF-8; binary/varbinary/blob as the raw bytes;
	//   date "2024-01-31", datetime and timestamp "2024-01-31 13:45:00" plus
	//   "." and exactly fsp digits when the type has fsp > 0 (timestamp in
	//   UTC), zero dates as "0000-00-00" / "0000-00-00 00:00:00";
	//   time "-838:59:59.000000" style (sign, at least 2 hour digits, fsp
	//   digits); year "2024"; json as the text MySQL prints.
	MySQL
)

func (d Dialect) String() string {
	switch d {
	case Postgres:
		return "postgres"
	case MySQL:
		return "mysql"
	}
	return fmt.Sprintf("dialect(%d)", uint8(d))
}

// Table is the shape of a source table at the position of a change. A new
// *Table is made whenever the shape changes, so a pointer compare tells whether
// two changes share one shape.
type Table struct {
	ID       TableID
	Columns  []Column
	Key      []int // indexes into Columns of the primary key (or unique replica-identity index); empty when none
	Identity Identity
	Dialect  Dialect // the engine of Columns[].Type and of the values
}

// ColumnIndex returns the index of the named column, or -1.
func (t *Table) ColumnIndex(name string) int {
	for i, c := range t.Columns {
		if c.Name == name {
			return i
		}
	}
	return -1
}

// HasKey tells whether the table has a primary key (or a unique identity index).
func (t *Table) HasKey() bool { return len(t.Key) > 0 }

// SameShape tells whether two tables have the same columns, types and key.
func (t *Table) SameShape(o *Table) bool {
	if t == o {
		return true
	}
	if t == nil || o == nil || t.ID != o.ID || t.Identity != o.Identity || t.Dialect != o.Dialect ||
		len(t.Columns) != len(o.Columns) || len(t.Key) != len(o.Key) {
		return false
	}
	for i := range t.Columns {
		if !t.Columns[i].equal(o.Columns[i]) {
			return false
		}
	}
	for i := range t.Key {
		if t.Key[i] != o.Key[i] {
			return false
		}
	}
	return true
}

// State tells what a Value holds.
type State uint8

const (
	Null      State = iota // SQL NULL
	Present                // Data holds the value
	Unchanged              // not sent by the source (PostgreSQL TOAST): the target keeps its value
	Missing                // not part of this image (non-key column of a key-only old row)
)

// Value is one column's value in the canonical text form of its table's
// Dialect (exact for every type), so no precision is lost on the way.
type Value struct {
	State State
	Data  []byte
}

// Text makes a present value from a string.
func Text(s string) Value { return Value{State: Present, Data: []byte(s)} }

// NullValue is SQL NULL.
var NullValue = Value{State: Null}

// String renders a value for messages and tests.
func (v Value) String() string {
	switch v.State {
	case Null:
		return "NULL"
	case Unchanged:
		return "<unchanged>"
	case Missing:
		return "<missing>"
	}
	return string(v.Data)
}

// Row holds one value per column of the change's Table, in column order.
type Row []Value

// Size is the approximate memory a row takes, used to bound batches.
func (r Row) Size() int {
	n := 24 * len(r)
	for _, v := range r {
		n += len(v.Data)
	}
	return n
}

// Change is one row-level change (or a truncate) inside a transaction.
type Change struct {
	Op     Op
	Table  *Table
	Before Row // nil when the source sent no old row
	After  Row // nil for Delete and Truncate
}

// ColumnRename is one column renamed by a Rename change.
type ColumnRename struct{ From, To string }

// NewRename is the Rename change of table t's columns.
func NewRename(t *Table, renames []ColumnRename) Change {
	c := Change{Op: Rename, Table: t}
	for _, r := range renames {
		c.Before = append(c.Before, Text(r.From))
		c.After = append(c.After, Text(r.To))
	}
	return c
}

// Renames returns the column renames of a Rename change (nil for others).
func (c *Change) Renames() []ColumnRename {
	if c.Op != Rename || len(c.Before) != len(c.After) {
		return nil
	}
	out := make([]ColumnRename, len(c.Before))
	for i := range c.Before {
		out[i] = ColumnRename{From: string(c.Before[i].Data), To: string(c.After[i].Data)}
	}
	return out
}

// Size is the approximate memory a change takes.
func (c *Change) Size() int { return 48 + c.Before.Size() + c.After.Size() }

// KeyRow returns the row that identifies the changed row before the change:
// Before when the source sent it, else After (key unchanged).
func (c *Change) KeyRow() Row {
	if c.Before != nil {
		return c.Before
	}
	return c.After
}

// Position is where a transaction commits in a source's log. Each source has
// its own type; String gives the text the checkpoint stores and the source's
// parser reads back.
type Position interface {
	String() string
	// Compare orders two positions of the same source: -1, 0 or +1.
	Compare(other Position) int
}
