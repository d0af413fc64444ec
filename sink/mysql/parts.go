package mysql

import (
	"context"

	"github.com/sluicecdc/sluice/pkg/mysqlconn"
	"github.com/sluicecdc/sluice/pkg/pipeline"
)

// ForPipeline returns the sink as the pipeline should see it: no PartSink
// when rows record their transaction's commit (see sqlsink.Core.ForPipeline).
func (s *Sink) ForPipeline() pipeline.Sink { return s.core.ForPipeline(s) }

// Savepoint and RollbackTo are the embedded sqlsink.Applier's; the dialect
// runs the statements.

// Savepoint sets a savepoint, after the core executed what is pending.
// From here until the running source transaction ends, nothing may
// commit early.
func (d dialect) Savepoint(ctx context.Context, name string) error {
	s := d.s
	if err := s.revive(ctx); err != nil {
		return err
	}
	s.inTx = true
	s.core.SetPartOpen(true)
	_, err := s.exec(ctx, "SAVEPOINT "+mysqlconn.QuoteIdent(name))
	return err
}

// RollbackTo rolls back to the savepoint. Target tables created meanwhile
// stay (MySQL DDL is not transactional), so the table cache stays valid.
func (d dialect) RollbackTo(ctx context.Context, name string) error {
	_, err := d.s.exec(ctx, "ROLLBACK TO SAVEPOINT "+mysqlconn.QuoteIdent(name))
	return err
}
