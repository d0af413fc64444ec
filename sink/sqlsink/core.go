package sqlsink

import (
	"context"
	"fmt"
	"sync"

	"github.com/rs/zerolog"

	"github.com/sluicecdc/sluice/pkg/change"
	"github.com/sluicecdc/sluice/sink/mode"
	"github.com/sluicecdc/sluice/sink/plan"
)

// Config is what the core takes from a SQL sink's options.
type Config struct {
	// Mode says how changes are written (merge, history or append) and
	// which metadata columns rows get.
	Mode mode.Options
	// LogValues lets errors quote row values (log.values).
	LogValues bool
	// ChunkRows and ChunkBytes bound the changes held before they are
	// executed against the target (inside the open transaction); 0 takes
	// 20000 rows and 16 MiB.
	ChunkRows  int
	ChunkBytes int
	Log        zerolog.Logger
}

// Core holds the changes a SQL sink has taken but not yet executed, and the
// state that outlives one source transaction. Not safe for concurrent use,
// except ShapeFor and Shape, which a concurrent snapshot Load may call.
type Core struct {
	d   Dialect
	cfg Config

	mu     sync.Mutex                    // guards shapes
	shapes map[*change.Table]*mode.Shape // by (converted) source shape

	plans    map[change.TableID]*plan.Plan // merge mode
	logs     map[change.TableID]*mode.Log  // history and append modes
	replay   mode.Replay
	partOpen bool // parts of a running source transaction are applied: never commit early
	broken   error
	pending  int
	pendSize int
	lastPos  change.Position // of the last transaction applied
}

// New returns a core writing through d.
func New(d Dialect, cfg Config) *Core {
	if cfg.ChunkRows <= 0 {
		cfg.ChunkRows = 20000
	}
	if cfg.ChunkBytes <= 0 {
		cfg.ChunkBytes = 16 << 20
	}
	return &Core{d: d, cfg: cfg, shapes: map[*change.Table]*mode.Shape{},
		plans: map[change.TableID]*plan.Plan{}, logs: map[change.TableID]*mode.Log{}}
}

// Apply folds a transaction's changes into the open target transaction,
// executing them in chunks so memory stays bounded.
func (c *Core) Apply(ctx context.Context, txn *change.Txn) error {
	if c.broken != nil {
		return c.broken
	}
	if txn.Part != change.Whole && txn.Part != change.Done && c.cfg.Mode.NeedsCommit() {
		return c.Fail(fmt.Errorf("apply part of running transaction %s: sink.mode %s needs each change's commit, so parts cannot be applied (use ForPipeline)", txn.ID, c.cfg.Mode.Mode))
	}
	switch txn.Part {
	case change.Open:
		c.partOpen = true
	case change.Done:
		// Whole transactions that commit while a running one is applied
		// arrive between its parts, inside the same target transaction:
		// only its end (or Flush) ends the time when nothing may commit.
		c.partOpen = false
	}
	if err := c.d.BeforeTxn(ctx, txn); err != nil {
		return c.Fail(err)
	}
	m := mode.Meta{TxID: txn.ID, Commit: txn.Commit}
	if txn.Position != nil {
		m.Position = txn.Position.String()
	}
	if txn.Backfill != nil { // its rows are told apart from the stream's by the chunk, not the log position
		m.Position = txn.Backfill.Span
	}
	err := txn.Each(func(ch *change.Change) error {
		err := c.add(ctx, ch, &m)
		m.Index++
		if err != nil {
			return err
		}
		c.pending++
		c.pendSize += ch.Size()
		if c.pending >= c.cfg.ChunkRows || c.pendSize >= c.cfg.ChunkBytes {
			return c.ExecAll(ctx)
		}
		return nil
	})
	if err != nil {
		return c.Fail(err)
	}
	if txn.Position != nil {
		c.lastPos = txn.Position
	}
	if a, ok := c.d.(AfterTxner); ok {
		if err := a.AfterTxn(ctx, txn); err != nil {
			return c.Fail(err)
		}
	}
	return nil
}

// add folds one change into its table's plan (merge) or log (history,
// append).
func (c *Core) add(ctx context.Context, ch *change.Change, m *mode.Meta) error {
	if ch.Op == change.Rename {
		if c.cfg.Mode.Mode == mode.Append {
			return nil // the source's values are JSON documents: the next ones carry the new names
		}
		return c.d.Rename(ctx, ch)
	}
	ch, err := c.d.Change(ch)
	if err != nil {
		return err
	}
	sh, err := c.ShapeFor(ch.Table)
	if err != nil {
		return err
	}
	if c.cfg.Mode.Mode != mode.Merge {
		l, err := c.logFor(ctx, sh)
		if err != nil {
			return err
		}
		return l.Add(ch, *m)
	}
	if err := sh.CheckMeta(m); err != nil {
		return err
	}
	p, err := c.PlanFor(ctx, sh)
	if err != nil {
		return err
	}
	if ch.Op == change.Truncate && sh.Extra(mode.KindDeletedAt) >= 0 {
		// A soft truncate marks the rows written before it too: write them.
		if err := c.ExecPlan(ctx, p); err != nil {
			return err
		}
	}
	return p.Add(sh.Merge(ch, m))
}

// ShapeFor lays out the target of (converted) source shape t for the mode.
func (c *Core) ShapeFor(t *change.Table) (*mode.Shape, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if sh := c.shapes[t]; sh != nil {
		return sh, nil
	}
	if tc, ok := c.d.(TableChecker); ok {
		if err := tc.CheckTable(t); err != nil {
			return nil, err
		}
	}
	sh, err := c.cfg.Mode.Shape(t, c.d.ColumnType)
	if err != nil {
		return nil, err
	}
	c.shapes[t] = sh
	return sh, nil
}

// Shape is the target shape ShapeFor laid out for t, nil if none yet.
func (c *Core) Shape(t *change.Table) *mode.Shape {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.shapes[t]
}

// PlanFor returns the plan collecting changes of sh's table, executing the
// previous plan first when the table's shape changed.
func (c *Core) PlanFor(ctx context.Context, sh *mode.Shape) (*plan.Plan, error) {
	t := sh.Table
	p := c.plans[t.ID]
	if p != nil && p.Table == t {
		return p, nil
	}
	if p != nil && p.Table.SameShape(t) {
		c.reuse(t, p.Table)
		p.Table = t
		return p, nil
	}
	if p != nil {
		if err := c.ExecPlan(ctx, p); err != nil {
			return nil, err
		}
	}
	if err := c.d.Prepare(ctx, sh); err != nil {
		return nil, err
	}
	p = plan.New(t)
	if sh.Extra(mode.KindDeletedAt) >= 0 {
		p.SoftFrom = sh.N
	}
	c.plans[t.ID] = p
	return p, nil
}

// logFor returns the log collecting changes of sh's table (history and
// append modes), writing the previous one first when the source table's
// shape changed.
func (c *Core) logFor(ctx context.Context, sh *mode.Shape) (*mode.Log, error) {
	l := c.logs[sh.Table.ID]
	if l != nil && l.Shape == sh {
		return l, nil
	}
	if l != nil && l.Shape.Source.SameShape(sh.Source) {
		c.reuse(sh.Table, l.Shape.Table)
		l.Shape = sh
		return l, nil
	}
	if l != nil {
		if err := c.ExecLog(ctx, l); err != nil {
			return nil, err
		}
	}
	if err := c.d.Prepare(ctx, sh); err != nil {
		return nil, err
	}
	l = sh.NewLog()
	c.logs[sh.Table.ID] = l
	return l, nil
}

func (c *Core) reuse(t, old *change.Table) {
	if r, ok := c.d.(Reuser); ok {
		r.Reuse(t, old)
	}
}

// Plan is the merge plan collecting changes of table id, nil if none.
func (c *Core) Plan(id change.TableID) *plan.Plan { return c.plans[id] }

// Log is the history or append log collecting changes of table id, nil if
// none.
func (c *Core) Log(id change.TableID) *mode.Log { return c.logs[id] }

// Applier is the public face of a Core: a SQL sink embeds it for its
// Apply, Savepoint and RollbackTo methods (pipeline.Sink and
// pipeline.PartSink), which are the core's, without exposing the core's
// other methods.
type Applier struct{ core *Core }

// Applier returns c's public face.
func (c *Core) Applier() Applier { return Applier{c} }

// Apply folds a transaction's changes into the open target transaction,
// executing them in chunks so memory stays bounded.
func (a Applier) Apply(ctx context.Context, txn *change.Txn) error { return a.core.Apply(ctx, txn) }

// Savepoint executes what is pending and sets a savepoint.
func (a Applier) Savepoint(ctx context.Context, name string) error {
	return a.core.Savepoint(ctx, name)
}

// RollbackTo drops every change since the savepoint: pending ones are
// discarded, executed ones rolled back.
func (a Applier) RollbackTo(ctx context.Context, name string) error {
	return a.core.RollbackTo(ctx, name)
}

// Prunes returns the back-fill chunk of txn whose key range a merge target
// should hold only the chunk's rows of (see change.Backfill.Prune), nil
// when there is none. The dialect decides whether the table's key orders
// the same way on the target.
func (c *Core) Prunes(txn *change.Txn) *change.Backfill {
	bf := txn.Backfill
	if bf == nil || !bf.Prune || bf.Table == nil || c.cfg.Mode.Mode != mode.Merge {
		return nil
	}
	return bf
}
