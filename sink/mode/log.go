package mode

import (
	"fmt"

	"github.com/sluicecdc/sluice/pkg/change"
)

// Log collects the changes to one table shape of a history or append
// target, in commit order, until the sink writes them.
//
// Every change becomes exactly one row, identified by its transaction's
// position and its index within the transaction; a target transaction holds
// whole source transactions. So after a crash, a replayed transaction is
// recognised by its position alone: Positions asks the target which ones it
// holds, and Drop removes them before anything is written (and a unique
// index on position and index makes doubling impossible anyway).
type Log struct {
	Shape *Shape
	items []item
}

type item struct {
	c change.Change
	m Meta
}

// NewLog starts an empty log for the shape's table.
func (sh *Shape) NewLog() *Log { return &Log{Shape: sh} }

// Len is the number of changes held.
func (l *Log) Len() int { return len(l.items) }

// Add appends change c (of the log's source table) made as m says.
func (l *Log) Add(c *change.Change, m Meta) error {
	sh := l.Shape
	n := len(sh.Source.Columns)
	if (c.Before != nil && len(c.Before) != n) || (c.After != nil && len(c.After) != n) {
		return fmt.Errorf("write %s to %s: the change's rows do not have the table's %d columns", c.Op, sh.Source.ID, n)
	}
	if err := sh.CheckMeta(&m); err != nil {
		return err
	}
	switch c.Op {
	case change.Insert, change.Read, change.Update:
		if c.After == nil {
			return fmt.Errorf("write %s to %s: the change has no new row", c.Op, sh.Source.ID)
		}
	case change.Delete:
		if sh.Mode == History && !sh.keyPresent(c.Before) {
			return fmt.Errorf("write %s to %s: the source sent no old key", c.Op, sh.Source.ID)
		}
	case change.Truncate:
	default:
		return fmt.Errorf("write %s to %s: unexpected operation", c.Op, sh.Source.ID)
	}
	l.items = append(l.items, item{c: *c, m: m})
	return nil
}

// Positions are the distinct transaction positions of the changes held, in
// order.
func (l *Log) Positions() []string {
	var out []string
	last := ""
	seen := map[string]bool{}
	for _, it := range l.items {
		p := it.m.Position
		if p == last || seen[p] {
			continue
		}
		last, seen[p] = p, true
		out = append(out, p)
	}
	return out
}

// Drop removes the changes of the transactions the target already holds,
// and returns how many it removed.
func (l *Log) Drop(applied map[string]bool) int {
	kept := l.items[:0]
	for _, it := range l.items {
		if !applied[it.m.Position] {
			kept = append(kept, it)
		}
	}
	n := len(l.items) - len(kept)
	clear(l.items[len(kept):])
	l.items = kept
	return n
}

// Reset empties the log.
func (l *Log) Reset() { l.items = nil }

// AuditRows are the append-mode rows of the changes held, in order.
func (l *Log) AuditRows() ([]change.Row, error) {
	rows := make([]change.Row, 0, len(l.items))
	for i := range l.items {
		r, err := l.Shape.AuditRow(&l.items[i].c, &l.items[i].m)
		if err != nil {
			return nil, err
		}
		rows = append(rows, r)
	}
	return rows, nil
}

// Replay tells a sink whether the target may hold some of the transactions
// it is writing (a replay after a crash). Target transactions hold whole
// source transactions in order, so once one that wrote a transaction the
// target did not hold has committed, everything after is new: logs stop
// asking the target which positions it holds.
type Replay struct {
	caughtUp bool // every transaction from here on is new to the target
	fresh    bool // the open target transaction writes one the target did not hold
}

// Check tells whether a log must ask the target which of its positions it
// holds before writing.
func (r *Replay) Check() bool { return !r.caughtUp }

// Found records the answer: of asked positions, the target held held.
func (r *Replay) Found(asked, held int) {
	if held < asked {
		r.fresh = true
	}
}

// Committed is called after each target commit.
func (r *Replay) Committed() {
	if r.fresh {
		r.caughtUp = true
	}
}

// New says everything from here on is new to the target (after a snapshot).
func (r *Replay) New() { r.caughtUp = true }
