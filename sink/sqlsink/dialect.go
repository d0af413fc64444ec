// Package sqlsink is the control flow both SQL sinks share: it folds
// source transactions into one open target transaction, batches their
// changes per target table (a merge plan, see sink/plan, or a history or
// append log, see sink/mode) until a chunk is full, and executes them
// through a Dialect, which knows the engine: its statements, types, bulk
// loads, DDL and errors. A fix to the flow is then made once for every
// engine, and a third engine is one more Dialect.
//
// The engine packages (sink/postgres, sink/mysql) keep what differs: when
// target tables are made (PostgreSQL inside the open transaction, MySQL
// only between source transactions, since its DDL commits), how a commit
// stores the position, and connections.
package sqlsink

import (
	"context"

	"github.com/sluicecdc/sluice/pkg/change"
	"github.com/sluicecdc/sluice/sink/mode"
	"github.com/sluicecdc/sluice/sink/plan"
)

// Dialect is what a SQL engine package gives the core. Its methods run on
// the sink's apply connection, inside the open target transaction unless
// they say otherwise.
type Dialect interface {
	// ColumnType is the target's SQL type of a mode column.
	ColumnType(k mode.Kind) string
	// Change returns c as the target takes it: in the target's types
	// (except in append mode, whose rows hold the source's own texts), and
	// checked to fit its table.
	Change(c *change.Change) (*change.Change, error)
	// BeforeTxn readies the target for txn's changes before any of them
	// is added (type changes, target tables, a back-fill range).
	BeforeTxn(ctx context.Context, txn *change.Txn) error
	// Rename renames target columns for a Rename change (never in append
	// mode, whose rows are documents). The table's pending changes go out
	// under the old names first (see Core.Plan and Core.Log).
	Rename(ctx context.Context, c *change.Change) error
	// Prepare makes sure the target table for shape sh is there before a
	// plan or log of sh collects changes.
	Prepare(ctx context.Context, sh *mode.Shape) error
	// Table is the target table prepared for target shape t, nil when
	// none is.
	Table(t *change.Table) Table
	// Begin opens the target transaction unless it is open.
	Begin(ctx context.Context) error
}

// Table writes into one prepared target table. The mode.Writer methods
// write history and append logs.
type Table interface {
	mode.Writer
	// ID names the target table, for errors.
	ID() change.TableID
	// Exec runs one plan action; deletes of a table with soft deletes go
	// to its SoftDeleter instead.
	Exec(ctx context.Context, a plan.Action) error
	SoftDeleter
}

// SoftDeleter marks rows deleted instead of removing them (merge mode with
// sink.soft_delete): it sets the mode's columns (the deleted-at time and
// the metadata) from the values a row carries, on live rows only, so that a
// row deleted already keeps its first deletion.
type SoftDeleter interface {
	// SoftDeleteKeys marks the live rows with the keys of rows (a Delete
	// action's old rows, whose mode values may differ: see
	// mode.Shape.GroupByExtras).
	SoftDeleteKeys(ctx context.Context, rows []change.Row) error
	// SoftDeleteRow marks the first live row equal to before (a keyless
	// table's delete).
	SoftDeleteRow(ctx context.Context, before change.Row) error
	// SoftTruncate marks every live row, with the mode values of row.
	SoftTruncate(ctx context.Context, row change.Row) error
}

// Optional abilities of a Dialect, found by type assertion.
type (
	// TableChecker refuses a target shape the engine cannot hold (e.g.
	// names it would cut), once per shape, before any change of it.
	TableChecker interface {
		CheckTable(t *change.Table) error
	}
	// Reuser learns that the table prepared for old serves t as well:
	// the source sent a new shape object with the same columns.
	Reuser interface {
		Reuse(t, old *change.Table)
	}
	// AfterTxner runs after a transaction's changes are added and its
	// position noted (a back-fill range pruned after its rows, a commit
	// a rename asks for).
	AfterTxner interface {
		AfterTxn(ctx context.Context, txn *change.Txn) error
	}
)
