package sqlsink

import (
	"context"
	"errors"
	"fmt"

	"github.com/sluicecdc/sluice/pkg/pipeline"
)

// Savepointer sets and rolls back to savepoints inside the open target
// transaction: a Dialect that has it lets the sink apply the parts of a
// running source transaction (pipeline.PartSink).
type Savepointer interface {
	Savepoint(ctx context.Context, name string) error
	// RollbackTo rolls back to the savepoint and forgets what the dialect
	// learnt since (e.g. tables made since, whose DDL was rolled back).
	RollbackTo(ctx context.Context, name string) error
}

// Savepoint executes what is pending and sets a savepoint.
func (c *Core) Savepoint(ctx context.Context, name string) error {
	if c.broken != nil {
		return c.broken
	}
	sp, ok := c.d.(Savepointer)
	if !ok {
		return c.Fail(errors.New("set savepoint: the target's dialect has no savepoints"))
	}
	if err := c.ExecAll(ctx); err != nil {
		return c.Fail(err)
	}
	if err := sp.Savepoint(ctx, name); err != nil {
		return c.Fail(fmt.Errorf("set savepoint: %w", err))
	}
	return nil
}

// RollbackTo drops every change since the savepoint: pending ones are
// discarded, executed ones rolled back.
func (c *Core) RollbackTo(ctx context.Context, name string) error {
	if c.broken != nil {
		return c.broken
	}
	sp, ok := c.d.(Savepointer)
	if !ok {
		return c.Fail(errors.New("roll back to savepoint: the target's dialect has no savepoints"))
	}
	c.Discard()
	if err := sp.RollbackTo(ctx, name); err != nil {
		return c.Fail(fmt.Errorf("roll back to savepoint: %w", err))
	}
	return nil
}

// Full is a SQL sink with every ability the pipeline may ask for, but
// perhaps without PartSink's.
type Full interface {
	pipeline.Sink
	pipeline.Loader
	pipeline.PositionKeeper
}

// ForPipeline returns s as the pipeline should see it. When rows record
// their transaction's commit (history and append modes, soft deletes, the
// position and commit-time columns) it is no PartSink: the parts of a
// running transaction arrive before its commit is known, so the pipeline
// must deliver whole transactions only. A Durability it keeps.
func (c *Core) ForPipeline(s Full) pipeline.Sink {
	if !c.cfg.Mode.NeedsCommit() {
		return s
	}
	w := wholeOnly{s, s, s}
	if d, ok := s.(pipeline.Durability); ok {
		return wholeDurable{w, d}
	}
	return w
}

// wholeOnly is a sink without its PartSink methods.
type wholeOnly struct {
	pipeline.Sink
	pipeline.Loader
	pipeline.PositionKeeper
}

// wholeDurable is wholeOnly that tells what is on the target's disk.
type wholeDurable struct {
	wholeOnly
	pipeline.Durability
}
