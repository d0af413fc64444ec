package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/sluicecdc/sluice/pkg/change"
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
	return wholeOnly{s, s, s, s}
}

// wholeOnly is the sink without its PartSink methods.
type wholeOnly struct {
	pipeline.Sink
	pipeline.Loader
	pipeline.PositionKeeper
	pipeline.Durability
}

// Savepoint executes what is pending and sets a savepoint.
func (s *Sink) Savepoint(ctx context.Context, name string) error {
	if err := s.core.Broken(); err != nil {
		return err
	}
	if !s.inTx {
		s.inTx, s.needBegin = true, true
	}
	if err := s.core.ExecAll(ctx); err != nil {
		return s.core.Fail(err)
	}
	if err := s.begin(ctx); err != nil {
		return s.core.Fail(err)
	}
	if _, err := s.conn.Exec(ctx, "SAVEPOINT "+pgx.Identifier{name}.Sanitize()); err != nil {
		return s.core.Fail(fmt.Errorf("set savepoint: %w", err))
	}
	return nil
}

// RollbackTo drops every change since the savepoint: pending ones are
// discarded, executed ones rolled back. Tables or staging tables created
// since may be gone too, so the table cache starts over.
func (s *Sink) RollbackTo(ctx context.Context, name string) error {
	if err := s.core.Broken(); err != nil {
		return err
	}
	s.core.Discard()
	s.targets = map[*change.Table]*target{}
	if _, err := s.conn.Exec(ctx, "ROLLBACK TO SAVEPOINT "+pgx.Identifier{name}.Sanitize()); err != nil {
		return s.core.Fail(fmt.Errorf("roll back to savepoint: %w", err))
	}
	return nil
}
