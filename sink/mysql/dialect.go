package mysql

import (
	"context"
	"errors"
	"fmt"

	"github.com/sluicecdc/sluice/pkg/change"
	"github.com/sluicecdc/sluice/sink/mode"
	"github.com/sluicecdc/sluice/sink/schemachange"
	"github.com/sluicecdc/sluice/sink/sqlsink"
)

// dialect is the sink as sqlsink.Core drives it. MySQL commits before every
// DDL statement, so target tables are made before a transaction's changes
// are added (BeforeTxn, see prepare), never when a plan needs one.
type dialect struct{ s *Sink }

var (
	_ sqlsink.Savepointer = dialect{}
	_ sqlsink.Dialect     = dialect{}
	_ sqlsink.AfterTxner  = dialect{}
	_ sqlsink.Table       = tableWriter{}
)

func (d dialect) ColumnType(k mode.Kind) string   { return columnTypeOf(k) }
func (d dialect) Begin(ctx context.Context) error { return d.s.begin(ctx) }
func (d dialect) Rename(ctx context.Context, c *change.Change) error {
	return d.s.renameColumns(ctx, c)
}

func (d dialect) Change(c *change.Change) (*change.Change, error) {
	if d.s.opts.Mode.Mode != mode.Append { // append rows hold the source's own texts
		var err error
		if c, err = d.s.change(c); err != nil {
			return nil, err
		}
	}
	return c, checkRows(c)
}

// BeforeTxn replaces a connection closed while idle and prepares the
// target tables of txn's shapes.
func (d dialect) BeforeTxn(ctx context.Context, txn *change.Txn) error {
	s := d.s
	if err := s.revive(ctx); err != nil {
		return err
	}
	if err := s.prepare(ctx, txn); err != nil {
		// Stopping at a type change: commit the whole transactions before
		// this one, so a restart resumes here and does not replay older
		// shapes into a target column narrowed by hand as the error says.
		var tc *schemachange.Error
		if errors.As(err, &tc) && txn.Part == change.Whole && !s.core.PartOpen() && (s.begun || s.core.Pending()) {
			if cerr := s.commit(ctx); cerr != nil {
				return cerr
			}
		}
		return err
	}
	s.inTx = true
	return nil
}

// AfterTxn prunes a back-fill chunk's range (after its rows are written),
// and commits at once after a rename, whose DDL committed already.
func (d dialect) AfterTxn(ctx context.Context, txn *change.Txn) error {
	s := d.s
	if err := s.prune(ctx, txn); err != nil {
		return err
	}
	if s.renamed && !s.core.PartOpen() { // never commit inside a running source transaction's parts
		s.renamed = false
		return s.commit(ctx)
	}
	return nil
}

// Prepare only checks: BeforeTxn made the table.
func (d dialect) Prepare(ctx context.Context, sh *mode.Shape) error {
	if d.s.target(sh.Table) == nil {
		return fmt.Errorf("apply changes to %s: no target table prepared for its shape", sh.Table.ID)
	}
	return nil
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
	tg := d.s.target(t)
	if tg == nil {
		return nil
	}
	return tableWriter{d.s, tg}
}
