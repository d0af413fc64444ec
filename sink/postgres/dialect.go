package postgres

import (
	"context"

	"github.com/sluicecdc/sluice/pkg/change"
	"github.com/sluicecdc/sluice/sink/mode"
	"github.com/sluicecdc/sluice/sink/sqlsink"
)

// dialect is the sink as sqlsink.Core drives it. PostgreSQL DDL is
// transactional, so target tables are made when a plan or log first needs
// them, inside the open target transaction (Prepare).
type dialect struct{ s *Sink }

var (
	_ sqlsink.Savepointer  = dialect{}
	_ sqlsink.Dialect      = dialect{}
	_ sqlsink.TableChecker = dialect{}
	_ sqlsink.Reuser       = dialect{}
	_ sqlsink.Table        = tableWriter{}
)

func (d dialect) ColumnType(k mode.Kind) string    { return columnType(k) }
func (d dialect) CheckTable(t *change.Table) error { return d.s.checkNames(t) }
func (d dialect) Begin(ctx context.Context) error  { return d.s.begin(ctx) }
func (d dialect) Reuse(t, old *change.Table)       { d.s.targets[t] = d.s.targets[old] }
func (d dialect) Rename(ctx context.Context, c *change.Change) error {
	return d.s.renameColumns(ctx, c)
}

func (d dialect) Change(c *change.Change) (*change.Change, error) {
	if d.s.opts.Mode.Mode == mode.Append { // append rows hold the source's own texts
		return c, nil
	}
	return d.s.conv.Change(c)
}

// BeforeTxn stops at a type change the policy does not follow, opens the
// target transaction (BEGIN goes out with the first statement) and empties
// a back-fill chunk's range first (see prune).
func (d dialect) BeforeTxn(ctx context.Context, txn *change.Txn) error {
	s := d.s
	if err := s.checkTypes(ctx, txn); err != nil {
		return err
	}
	if !s.inTx {
		s.inTx, s.needBegin = true, true
	}
	return s.prune(ctx, txn)
}

// Prepare makes or completes the target table inside the open transaction.
func (d dialect) Prepare(ctx context.Context, sh *mode.Shape) error {
	if err := d.s.begin(ctx); err != nil {
		return err
	}
	_, err := d.s.targetFor(ctx, d.s.conn, sh)
	return err
}

// tableWriter writes into one target table for sqlsink.Core: plan actions
// (Exec in exec.go, the soft deletes in softdelete.go) and history and append
// logs (the mode.Writer methods here).
type tableWriter struct {
	s  *Sink
	tg *target
}

func (w tableWriter) ID() change.TableID { return w.tg.id }

func (d dialect) Table(t *change.Table) sqlsink.Table {
	tg := d.s.targets[t]
	if tg == nil {
		return nil
	}
	return tableWriter{d.s, tg}
}
