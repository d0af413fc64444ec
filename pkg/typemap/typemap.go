// Package typemap converts table shapes and values from one SQL dialect into
// another, so that a sink only ever sees its own engine's types and value
// texts. Same-dialect conversion is the identity and costs nothing.
//
// The mapping, and the rule for every value a target type cannot hold
// exactly, is documented in the README ("Type mapping", also
// docs/type-mapping.md) and tested here.
package typemap

import (
	"fmt"
	"sync"
	"unicode/utf8"

	"github.com/sluicecdc/sluice/pkg/change"
)

// Converter turns tables and rows of any dialect into dialect To. It caches
// one converted *change.Table per source *change.Table, so pointer identity
// of shapes is kept (a sink may compare shapes by pointer). Safe for
// concurrent use.
type Converter struct {
	To change.Dialect

	// Warn, when set, is told about every value a rule changed instead of
	// failing on (e.g. a PostgreSQL NaN stored as NULL in a nullable MySQL
	// DOUBLE column). It may be called concurrently.
	Warn func(table change.TableID, column, msg string)

	// HideValues keeps values out of errors: they name the table, column,
	// types and rule only (the sinks set it unless log.values is true).
	HideValues bool

	cache sync.Map // *change.Table (source shape) → *tableConv
}

// New returns a converter into dialect to.
func New(to change.Dialect) *Converter { return &Converter{To: to} }

// Table returns t's shape in the target dialect: t itself when t.Dialect is
// already c.To. The result has Dialect c.To, the same ID, Key, Identity and
// column names; Type (and TypeOID 0, Enum, NotNull, Charset) as the mapping
// says. An error names the table and column when a type cannot be mapped.
func (c *Converter) Table(t *change.Table) (*change.Table, error) {
	if t == nil || t.Dialect == c.To {
		return t, nil
	}
	tc, err := c.conv(t)
	if err != nil {
		return nil, err
	}
	return tc.out, nil
}

// Row converts one row of source table t into the target dialect's value
// texts, returning a new row (r is not modified; Unchanged and Missing
// states are kept). An error names the table, column and value rule.
func (c *Converter) Row(t *change.Table, r change.Row) (change.Row, error) {
	if r == nil || t == nil || t.Dialect == c.To {
		return r, nil
	}
	tc, err := c.conv(t)
	if err != nil {
		return nil, err
	}
	return c.row(tc, r)
}

// Change converts a change: its Table (via Table) and its Before and After
// rows. The result shares nothing mutable with ch. Same dialect: ch itself.
func (c *Converter) Change(ch *change.Change) (*change.Change, error) {
	if ch == nil || ch.Table == nil || ch.Table.Dialect == c.To {
		return ch, nil
	}
	tc, err := c.conv(ch.Table)
	if err != nil {
		return nil, err
	}
	out := &change.Change{Op: ch.Op, Table: tc.out}
	if out.Before, err = c.row(tc, ch.Before); err != nil {
		return nil, err
	}
	if out.After, err = c.row(tc, ch.After); err != nil {
		return nil, err
	}
	return out, nil
}

// tableConv is one source shape's conversion: the target shape and one value
// converter per column.
type tableConv struct {
	out  *change.Table
	cols []colConv
}

// conv returns the cached conversion of t, building it on first use. When
// two goroutines race on a new shape, both build it and the first stored
// wins, so every caller sees the same *change.Table.
func (c *Converter) conv(t *change.Table) (*tableConv, error) {
	if v, ok := c.cache.Load(t); ok {
		return v.(*tableConv), nil
	}
	var tc *tableConv
	var err error
	switch {
	case t.Dialect == change.MySQL && c.To == change.Postgres:
		tc, err = mysqlToPostgres(t)
	case t.Dialect == change.Postgres && c.To == change.MySQL:
		tc, err = postgresToMySQL(t)
	default:
		return nil, fmt.Errorf("typemap: table %s: no conversion from dialect %s to %s", t.ID, t.Dialect, c.To)
	}
	if err != nil {
		return nil, err
	}
	v, _ := c.cache.LoadOrStore(t, tc)
	return v.(*tableConv), nil
}

// row converts r with tc. All converted values share one new backing array
// (each value's slice is capped, so appending to one cannot clobber another).
func (c *Converter) row(tc *tableConv, r change.Row) (change.Row, error) {
	if r == nil {
		return nil, nil
	}
	if len(r) != len(tc.cols) {
		return nil, fmt.Errorf("typemap: table %s: row has %d values, the table has %d columns", tc.out.ID, len(r), len(tc.cols))
	}
	out := make(change.Row, len(r))
	size := 0
	for _, v := range r {
		size += len(v.Data)
	}
	buf := make([]byte, 0, size+size/2+8*len(r))
	var endsArr [64]int
	ends := endsArr[:0]
	if len(r) > len(endsArr) {
		ends = make([]int, 0, len(r))
	}
	for i, v := range r {
		if v.State != change.Present {
			out[i] = change.Value{State: v.State}
			ends = append(ends, len(buf))
			continue
		}
		cc := &tc.cols[i]
		start := len(buf)
		var null bool
		var err error
		buf, null, err = cc.convert(buf, v.Data)
		if err == nil && cc.limit > 0 {
			err = cc.checkLimit(buf[start:])
		}
		if err != nil {
			buf = buf[:start]
			return nil, cc.valueError(tc.out.ID, v.Data, err, !c.HideValues)
		}
		if null {
			buf = buf[:start]
			out[i] = change.Value{State: change.Null}
			if c.Warn != nil {
				c.Warn(tc.out.ID, cc.name, fmt.Sprintf("value %s cannot be stored in %s; stored NULL", shortValue(v.Data), cc.to))
			}
		} else {
			out[i] = change.Value{State: change.Present}
		}
		ends = append(ends, len(buf))
	}
	start := 0
	for i := range out {
		end := ends[i]
		if out[i].State == change.Present {
			out[i].Data = buf[start:end:end]
		}
		start = end
	}
	return out, nil
}

// colConv converts the values of one column.
type colConv struct {
	name     string
	from, to string // source and target SQL types, for messages
	kind     valueKind
	notNull  bool
	n        int      // float bits, bit(n) length, fractional-second digits
	limit    int      // bounded key form: most characters (bytes when binary) a value may have; 0 = no limit
	binary   bool     // limit counts bytes
	elem     elemKind // arrays: how elements become JSON
	delim    byte     // arrays: element delimiter
}

// ruleError is a value a rule cannot convert: what the rule says and how to
// fix it. Row wraps it with the table, column and value.
type ruleError struct{ rule, fix string }

func (e *ruleError) Error() string { return e.rule + "; fix: " + e.fix }

func (cc *colConv) valueError(table change.TableID, v []byte, err error, show bool) error {
	if !show {
		return fmt.Errorf("typemap: table %s column %s (%s → %s): a value (%d bytes; log.values: true shows it): %w", table, cc.name, cc.from, cc.to, len(v), err)
	}
	return fmt.Errorf("typemap: table %s column %s (%s → %s): value %s: %w", table, cc.name, cc.from, cc.to, shortValue(v), err)
}

func (cc *colConv) checkLimit(v []byte) error {
	n, unit := len(v), "bytes"
	if !cc.binary {
		n, unit = utf8.RuneCount(v), "characters"
	}
	if n <= cc.limit {
		return nil
	}
	return &ruleError{
		rule: fmt.Sprintf("is %d %s, but the MySQL key column %s holds at most %d (InnoDB keys are limited to 3072 bytes)", n, unit, cc.to, cc.limit),
		fix:  "shorten the value in the source, or replicate the table into a target table you create with a different primary key",
	}
}

// shortValue quotes a value for a message, cut to a readable length.
func shortValue(v []byte) string {
	const max = 64
	if len(v) > max {
		cut := max
		for cut > 0 && !utf8.RuneStart(v[cut]) {
			cut--
		}
		return fmt.Sprintf("%q... (%d bytes)", v[:cut], len(v))
	}
	return fmt.Sprintf("%q", v)
}

// WarnOnce wraps fn so it is called for the first changed value of each
// table column only: one log line per column, not one per row.
func WarnOnce(fn func(table change.TableID, column, msg string)) func(table change.TableID, column, msg string) {
	var seen sync.Map
	return func(table change.TableID, column, msg string) {
		if _, dup := seen.LoadOrStore(table.String()+"\x00"+column, true); !dup {
			fn(table, column, msg)
		}
	}
}
