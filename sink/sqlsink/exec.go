package sqlsink

import (
	"context"
	"errors"
	"fmt"

	"github.com/sluicecdc/sluice/pkg/change"
	"github.com/sluicecdc/sluice/sink/mode"
	"github.com/sluicecdc/sluice/sink/plan"
	"github.com/sluicecdc/sluice/sink/redact"
)

// ExecAll executes every pending plan and log inside the open target
// transaction.
func (c *Core) ExecAll(ctx context.Context) error {
	for _, p := range c.plans {
		if err := c.ExecPlan(ctx, p); err != nil {
			return err
		}
	}
	for _, l := range c.logs {
		if err := c.ExecLog(ctx, l); err != nil {
			return err
		}
	}
	c.pending, c.pendSize = 0, 0
	return nil
}

// ExecPlan runs a plan's actions inside the open target transaction.
func (c *Core) ExecPlan(ctx context.Context, p *plan.Plan) error {
	acts := p.Take()
	if len(acts) == 0 {
		return nil
	}
	tb := c.d.Table(p.Table)
	if tb == nil {
		return fmt.Errorf("apply changes to %s: no target table prepared for its shape", p.Table.ID)
	}
	soft := p.SoftFrom > 0 // see PlanFor
	for _, a := range acts {
		var err error
		if soft && (a.Kind == plan.Delete || a.Kind == plan.RowDelete || a.Kind == plan.Truncate) {
			err = softDelete(ctx, tb, a)
		} else {
			err = tb.Exec(ctx, a)
		}
		if err != nil {
			return fmt.Errorf("apply changes to %s: %w", tb.ID(), err)
		}
	}
	return nil
}

// softDelete marks the rows a delete or truncate action removes deleted.
func softDelete(ctx context.Context, d SoftDeleter, a plan.Action) error {
	switch a.Kind {
	case plan.Truncate:
		if a.After == nil {
			return errors.New("truncate: the change carries no values for the deleted rows")
		}
		return d.SoftTruncate(ctx, a.After)
	case plan.RowDelete:
		return d.SoftDeleteRow(ctx, a.Before)
	}
	return d.SoftDeleteKeys(ctx, a.Rows)
}

// ExecLog writes a log's changes inside the open target transaction (see
// mode.Log.Write).
func (c *Core) ExecLog(ctx context.Context, l *mode.Log) error {
	if l.Len() == 0 {
		return nil
	}
	tb := c.d.Table(l.Shape.Table)
	if tb == nil {
		return fmt.Errorf("write changes to %s: no target table prepared for its shape", l.Shape.Table.ID)
	}
	if err := c.d.Begin(ctx); err != nil {
		return err
	}
	return l.Write(ctx, tb, &c.replay, c.cfg.Log)
}

// Pending tells whether changes wait to be executed.
func (c *Core) Pending() bool { return c.pending > 0 }

// Discard drops the changes not executed yet (a rollback to a savepoint).
func (c *Core) Discard() {
	c.plans = map[change.TableID]*plan.Plan{}
	c.logs = map[change.TableID]*mode.Log{}
	c.pending, c.pendSize = 0, 0
}

// Fail marks the sink unusable: the open target transaction is lost, so the
// pipeline must restart from its checkpoint. It keeps row values out of
// err unless log.values allows them.
func (c *Core) Fail(err error) error {
	err = redact.Error(err, c.cfg.LogValues)
	if c.broken == nil {
		c.broken = err
	}
	return err
}

// Broken is the error that made the sink unusable, nil while it is not.
func (c *Core) Broken() error { return c.broken }

// LastPos is the position of the last transaction applied, nil if none.
func (c *Core) LastPos() change.Position { return c.lastPos }

// Replay says whether written history and append rows may be replays.
func (c *Core) Replay() *mode.Replay { return &c.replay }

// PartOpen tells whether parts of a running source transaction are applied
// in the open target transaction: then nothing may commit early.
func (c *Core) PartOpen() bool { return c.partOpen }

// SetPartOpen records that a running source transaction's parts begin
// (a savepoint) or that the target transaction ended (a commit).
func (c *Core) SetPartOpen(open bool) { c.partOpen = open }
