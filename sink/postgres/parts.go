package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/sluicecdc/sluice/pkg/change"
	"github.com/sluicecdc/sluice/pkg/pipeline"
)

// ForPipeline returns the sink as the pipeline should see it: no PartSink
// when rows record their transaction's commit (see sqlsink.Core.ForPipeline).
func (s *Sink) ForPipeline() pipeline.Sink { return s.core.ForPipeline(s) }

// Savepoint and RollbackTo are the embedded sqlsink.Applier's; the dialect
// runs the statements.

// Savepoint sets a savepoint, after the core executed what is pending.
func (d dialect) Savepoint(ctx context.Context, name string) error {
	s := d.s
	if !s.inTx {
		s.inTx, s.needBegin = true, true
	}
	if err := s.begin(ctx); err != nil {
		return err
	}
	_, err := s.conn.Exec(ctx, "SAVEPOINT "+pgx.Identifier{name}.Sanitize())
	return err
}

// RollbackTo rolls back to the savepoint. Tables or staging tables created
// since may be gone too, so the table cache starts over.
func (d dialect) RollbackTo(ctx context.Context, name string) error {
	d.s.targets = map[*change.Table]*target{}
	_, err := d.s.conn.Exec(ctx, "ROLLBACK TO SAVEPOINT "+pgx.Identifier{name}.Sanitize())
	return err
}
