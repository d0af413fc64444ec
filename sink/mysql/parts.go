package mysql

import (
	"context"
	"fmt"

	"github.com/sluicecdc/sluice/pkg/mysqlconn"
	"github.com/sluicecdc/sluice/pkg/pipeline"
)

var _ pipeline.PartSink = (*Sink)(nil)

// ForPipeline returns the sink as the pipeline should see it. When rows
// record their transaction's commit (history and append modes, soft
// deletes, the position and commit-time columns) it is no PartSink: the
// parts of a running transaction arrive before its commit is known, so the
// pipeline must deliver whole transactions only.
func (s *Sink) ForPipeline() pipeline.Sink {
	if !s.opts.Mode.NeedsCommit() {
		return s
	}
	return wholeOnly{s, s, s}
}

// wholeOnly is the sink without its PartSink methods.
type wholeOnly struct {
	pipeline.Sink
	pipeline.Loader
	pipeline.PositionKeeper
}

// Savepoint executes what is pending and sets a savepoint. From here until
// the running source transaction ends, nothing may commit early.
func (s *Sink) Savepoint(ctx context.Context, name string) error {
	if err := s.core.Broken(); err != nil {
		return err
	}
	if err := s.revive(ctx); err != nil {
		return s.core.Fail(err)
	}
	s.inTx = true
	s.core.SetPartOpen(true)
	if err := s.core.ExecAll(ctx); err != nil {
		return s.core.Fail(err)
	}
	if _, err := s.exec(ctx, "SAVEPOINT "+mysqlconn.QuoteIdent(name)); err != nil {
		return s.core.Fail(fmt.Errorf("set savepoint: %w", err))
	}
	return nil
}

// RollbackTo drops every change since the savepoint: pending ones are
// discarded, executed ones rolled back. Target tables created meanwhile stay
// (MySQL DDL is not transactional), so the table cache stays valid.
func (s *Sink) RollbackTo(ctx context.Context, name string) error {
	if err := s.core.Broken(); err != nil {
		return err
	}
	s.core.Discard()
	if _, err := s.exec(ctx, "ROLLBACK TO SAVEPOINT "+mysqlconn.QuoteIdent(name)); err != nil {
		return s.core.Fail(fmt.Errorf("roll back to savepoint: %w", err))
	}
	return nil
}
