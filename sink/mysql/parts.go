package mysql

import (
	"context"
	"fmt"

	"github.com/sluicecdc/sluice/pkg/change"
	"github.com/sluicecdc/sluice/pkg/mysqlconn"
	"github.com/sluicecdc/sluice/pkg/pipeline"
	"github.com/sluicecdc/sluice/sink/plan"
)

var _ pipeline.PartSink = (*Sink)(nil)

// Savepoint executes what is pending and sets a savepoint. From here until
// the running source transaction ends, nothing may commit early.
func (s *Sink) Savepoint(ctx context.Context, name string) error {
	if s.broken != nil {
		return s.broken
	}
	if err := s.revive(ctx); err != nil {
		return s.fail(err)
	}
	s.inTx, s.partOpen = true, true
	if err := s.execAll(ctx); err != nil {
		return s.fail(err)
	}
	if _, err := s.exec(ctx, "SAVEPOINT "+mysqlconn.QuoteIdent(name)); err != nil {
		return s.fail(fmt.Errorf("set savepoint: %w", err))
	}
	return nil
}

// RollbackTo drops every change since the savepoint: pending ones are
// discarded, executed ones rolled back. Target tables created meanwhile stay
// (MySQL DDL is not transactional), so the table cache stays valid.
func (s *Sink) RollbackTo(ctx context.Context, name string) error {
	if s.broken != nil {
		return s.broken
	}
	s.plans = map[change.TableID]*plan.Plan{}
	s.pending, s.pendSize = 0, 0
	if _, err := s.exec(ctx, "ROLLBACK TO SAVEPOINT "+mysqlconn.QuoteIdent(name)); err != nil {
		return s.fail(fmt.Errorf("roll back to savepoint: %w", err))
	}
	return nil
}
