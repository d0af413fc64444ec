// Package typemap converts table shapes and values from one SQL dialect into
// another, so that a sink only ever sees its own engine's types and value
// texts. Same-dialect conversion is the identity and costs nothing.
//
// The mapping, and the rule for every value a target type cannot hold
// exactly, is documented in the README ("Type mapping") and tested here.
package typemap

import (
	"github.com/sluicecdc/sluice/pkg/change"
)

// Converter turns tables and rows of any dialect into dialect To. It caches
// one converted *change.Table per source *change.Table, so pointer identity
// of shapes is kept (a sink may compare shapes by pointer). Safe for
// concurrent use.
type Converter struct {
	To change.Dialect
}

// New returns a converter into dialect to.
func New(to change.Dialect) *Converter { return &Converter{To: to} }

// Table returns t's shape in the target dialect: t itself when t.Dialect is
// already c.To. The result has Dialect c.To, the same ID, Key, Identity and
// column names; Type (and TypeOID 0, Enum, NotNull, Charset) as the mapping
// says. An error names the table and column when a type cannot be mapped.
func (c *Converter) Table(t *change.Table) (*change.Table, error) { panic("TODO") }

// Row converts one row of source table t into the target dialect's value
// texts, returning a new row (r is not modified; Unchanged and Missing
// states are kept). An error names the table, column and value rule.
func (c *Converter) Row(t *change.Table, r change.Row) (change.Row, error) { panic("TODO") }

// Change converts a change: its Table (via Table) and its Before and After
// rows. The result shares nothing mutable with ch. Same dialect: ch itself.
func (c *Converter) Change(ch *change.Change) (*change.Change, error) { panic("TODO") }
