// Package schemachange decides what a SQL sink does when a source column's
// type changes: which changes are widenings the target can follow by
// altering its column (integer widths, longer strings, more decimal
// digits, ...), and what sink.schema_changes says about the others. The
// dialects' statements stay in the sinks.
package schemachange

import (
	"errors"
	"fmt"
)

// Policy is sink.schema_changes.
type Policy uint8

const (
	// Follow applies widenings to the target column and stops at any
	// other type change with the statement to run by hand.
	Follow Policy = iota
	// Stop stops at any type change, naming it and the statement.
	Stop
	// Ignore keeps the target's columns; a value that does not fit stops
	// the pipeline when it is written.
	Ignore
)

func (p Policy) String() string {
	switch p {
	case Follow:
		return "follow"
	case Stop:
		return "stop"
	case Ignore:
		return "ignore"
	}
	return fmt.Sprintf("policy(%d)", uint8(p))
}

// ParsePolicy reads sink.schema_changes; "" is Follow.
func ParsePolicy(s string) (Policy, error) {
	switch s {
	case "follow", "":
		return Follow, nil
	case "stop":
		return Stop, nil
	case "ignore":
		return Ignore, nil
	}
	return 0, fmt.Errorf("sink.schema_changes: %q is not a known policy (use follow, stop or ignore)", s)
}

// ErrTypeChange is what a sink returns (wrapped in a *Error) when it stops
// at a column type change it may not or cannot apply.
var ErrTypeChange = errors.New("source column type changed")

// Error is a type change the sink stopped at: the target table and
// column, the target column's type, the source column's new type, and the
// statement that makes the target follow it.
type Error struct {
	Table     string // the target table
	Column    string
	Old, New  string // the target column's type; the type it would need
	Statement string // the SQL that makes the target column follow
	Policy    Policy
	Widening  bool // the change is a widening (only Stop stops at one)
}

func (e *Error) Error() string {
	what := "a change the target cannot follow without losing values (a narrowing or a change of kind)"
	if e.Widening {
		what = "a widening"
	}
	msg := fmt.Sprintf("target table %s column %s: the source column's type changed, %s: target type %s, new type %s; sink.schema_changes is %s, so Sluice stopped before writing any change that uses the new type. ",
		e.Table, e.Column, what, e.Old, e.New, e.Policy)
	if e.Widening {
		return msg + fmt.Sprintf("Run on the target: %s (or set sink.schema_changes: follow, which runs it), then start Sluice again", e.Statement)
	}
	return msg + fmt.Sprintf("To follow it, run on the target: %s; to keep the target's column, set sink.schema_changes: ignore. Then start Sluice again", e.Statement)
}

func (e *Error) Unwrap() error { return ErrTypeChange }

// Transient is false: the pipeline must not retry by itself.
func (e *Error) Transient() bool { return false }
