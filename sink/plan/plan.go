// Package plan reduces a batch of changes to one table into the fewest
// set-based actions with the same effect. Every SQL sink executes its actions.
package plan

import (
	"encoding/binary"
	"fmt"
	"sort"

	"github.com/sluicecdc/sluice/pkg/change"
)

// Kind is one set-based step the executor runs against the target.
type Kind uint8

const (
	Upsert     Kind = iota + 1 // rows (sharing one unchanged-mask) inserted or overwritten by key
	Insert                     // rows whose first change in the plan was an insert: likely new to the target
	Delete                     // rows deleted by key
	Append                     // rows appended (table without key)
	Truncate                   // table emptied
	MoveUpdate                 // one keyed row whose key changed while some columns were unchanged
	RowUpdate                  // one keyless row (identity FULL) updated: first row matching Before
	RowDelete                  // one keyless row (identity FULL) deleted: first row matching Before
)

// Action is one step of a plan.
type Action struct {
	Kind   Kind
	Rows   []change.Row // upsert/append: full rows; delete: key rows
	Before change.Row   // move/row actions: the old row (key or full image)
	After  change.Row   // move/row update: the new row; truncate: the change's After, if any
}

// Plan reduces an ordered run of changes to one table shape into the fewest
// set-based actions with the same final effect. For a keyed table, the net
// effect per key is computed (last write wins; a key change deletes the old
// key); deletes run before upserts, which is safe because each key ends in
// exactly one of the two sets. A keyless table keeps its order: appends are
// grouped, updates and deletes run one by one.
type Plan struct {
	Table *change.Table
	Rows  int // changes added since the last Take
	// SoftFrom, when above 0, makes deletes soft (merge mode with soft
	// deletes): a deleted row keeps its first SoftFrom columns (the
	// source's) and takes the others (deleted-at time, metadata) from the
	// delete's old row. A row written earlier in the plan is then upserted
	// so marked instead of dropped; Delete actions carry the old rows.
	SoftFrom int

	pending map[string]*entry
	actions []Action
}

type entry struct {
	fresh   bool // the key's first change in this plan was an insert
	deleted bool
	key     change.Row // the key row for a delete
	row     change.Row // the full row for an upsert (may hold Unchanged values)
}

// New starts an empty plan for table shape t.
func New(t *change.Table) *Plan {
	return &Plan{Table: t, pending: map[string]*entry{}}
}

// Add folds one change into the plan. The change must be of p.Table.
func (p *Plan) Add(c *change.Change) error {
	p.Rows++
	if c.Op == change.Truncate {
		p.pending = map[string]*entry{}
		p.actions = p.actions[:0]
		// After carries the truncate's values for a sink that writes them
		// (a soft delete's deleted-at and metadata columns).
		p.actions = append(p.actions, Action{Kind: Truncate, After: c.After})
		return nil
	}
	if !p.Table.HasKey() {
		return p.addKeyless(c)
	}
	switch c.Op {
	case change.Insert, change.Read:
		k := p.key(c.After)
		p.pending[k] = &entry{row: c.After, fresh: p.freshness(k, true)}
	case change.Delete:
		if err := p.checkKey(c.Before, c); err != nil {
			return err
		}
		k := p.key(c.Before)
		p.pending[k] = p.deleted(k, c.Before)
	case change.Update:
		oldRow := c.After
		if c.Before != nil && p.keyPresent(c.Before) {
			oldRow = c.Before
		}
		oldKey, newKey := p.key(oldRow), p.key(c.After)
		after := c.After
		if HasUnchanged(after) {
			if e := p.pending[oldKey]; e != nil && !e.deleted {
				after = fillUnchanged(after, e.row)
			}
		}
		if oldKey != newKey {
			if HasUnchanged(after) {
				// The target must carry the unchanged values over from the
				// old row itself: run everything so far, then move the row.
				p.drain()
				p.actions = append(p.actions, Action{Kind: MoveUpdate, Before: oldRow, After: after})
				return nil
			}
			p.pending[oldKey] = p.deleted(oldKey, oldRow)
		}
		// A key an update moves to did not exist before it.
		p.pending[newKey] = &entry{row: after, fresh: p.freshness(newKey, oldKey != newKey)}
	default:
		return fmt.Errorf("apply %s to %s: unexpected operation", c.Op, p.Table.ID)
	}
	return nil
}

// deleted is the entry for deleting key k, whose old row is old.
func (p *Plan) deleted(k string, old change.Row) *entry {
	fresh := p.freshness(k, false)
	if e := p.pending[k]; p.SoftFrom > 0 && e != nil && !e.deleted && len(e.row) == len(old) {
		row := make(change.Row, len(old))
		copy(row, e.row[:p.SoftFrom])
		copy(row[p.SoftFrom:], old[p.SoftFrom:])
		return &entry{row: row, fresh: fresh}
	}
	return &entry{deleted: true, key: old, fresh: fresh}
}

func (p *Plan) addKeyless(c *change.Change) error {
	switch c.Op {
	case change.Insert, change.Read:
		if n := len(p.actions); n > 0 && p.actions[n-1].Kind == Append {
			p.actions[n-1].Rows = append(p.actions[n-1].Rows, c.After)
		} else {
			p.actions = append(p.actions, Action{Kind: Append, Rows: []change.Row{c.After}})
		}
		return nil
	case change.Update, change.Delete:
		if p.Table.Identity != change.IdentityFull || c.Before == nil {
			return fmt.Errorf("apply %s to %s: the table has no primary key and the source sent no full old row, so the target row cannot be found; "+
				"add a primary key or run ALTER TABLE %s REPLICA IDENTITY FULL on the source", c.Op, p.Table.ID, p.Table.ID)
		}
		if c.Op == change.Delete {
			p.actions = append(p.actions, Action{Kind: RowDelete, Before: c.Before})
		} else {
			p.actions = append(p.actions, Action{Kind: RowUpdate, Before: c.Before, After: c.After})
		}
		return nil
	}
	return fmt.Errorf("apply %s to %s: unexpected operation", c.Op, p.Table.ID)
}

func (p *Plan) checkKey(r change.Row, c *change.Change) error {
	if r == nil || !p.keyPresent(r) {
		return fmt.Errorf("apply %s to %s: the source sent no old key", c.Op, p.Table.ID)
	}
	return nil
}

// keyPresent tells whether every key column of r holds a value.
func (p *Plan) keyPresent(r change.Row) bool {
	for _, k := range p.Table.Key {
		if k >= len(r) || (r[k].State != change.Present && r[k].State != change.Null) {
			return false
		}
	}
	return true
}

// key encodes the key columns of r into a map key.
func (p *Plan) key(r change.Row) string {
	var b []byte
	for _, k := range p.Table.Key {
		if k >= len(r) {
			b = append(b, 0xff)
			continue
		}
		b = append(b, byte(r[k].State))
		b = binary.AppendUvarint(b, uint64(len(r[k].Data)))
		b = append(b, r[k].Data...)
	}
	return string(b)
}

// drain turns the pending net effects into actions: deletes, then upserts
// grouped by which columns are unchanged.
func (p *Plan) drain() {
	if len(p.pending) == 0 {
		return
	}
	var dels, inserts []change.Row
	byMask := map[string][]change.Row{}
	for _, e := range p.pending {
		if e.deleted {
			dels = append(dels, e.key)
			continue
		}
		m := unchangedMask(e.row)
		if e.fresh && m == "" {
			inserts = append(inserts, e.row)
			continue
		}
		byMask[m] = append(byMask[m], e.row)
	}
	if len(dels) > 0 {
		p.actions = append(p.actions, Action{Kind: Delete, Rows: dels})
	}
	if len(inserts) > 0 {
		p.actions = append(p.actions, Action{Kind: Insert, Rows: inserts})
	}
	masks := make([]string, 0, len(byMask))
	for m := range byMask {
		masks = append(masks, m)
	}
	sort.Strings(masks) // deterministic order for tests and logs
	for _, m := range masks {
		p.actions = append(p.actions, Action{Kind: Upsert, Rows: byMask[m]})
	}
	p.pending = map[string]*entry{}
}

// Take drains and returns all actions, leaving the plan empty.
func (p *Plan) Take() []Action {
	p.drain()
	a := p.actions
	p.actions = nil
	p.Rows = 0
	return a
}

// freshness is whether key k counts as new to the target: decided by the
// first change to k in this plan; later changes inherit it.
func (p *Plan) freshness(k string, first bool) bool {
	if e := p.pending[k]; e != nil {
		return e.fresh
	}
	return first
}

func HasUnchanged(r change.Row) bool {
	for _, v := range r {
		if v.State == change.Unchanged {
			return true
		}
	}
	return false
}

// fillUnchanged returns r with its Unchanged values taken from prev.
func fillUnchanged(r, prev change.Row) change.Row {
	out := make(change.Row, len(r))
	copy(out, r)
	for i, v := range out {
		if v.State == change.Unchanged && i < len(prev) {
			out[i] = prev[i]
		}
	}
	return out
}

// unchangedMask names which columns of r are Unchanged ("" when none).
func unchangedMask(r change.Row) string {
	var m []byte
	for i, v := range r {
		if v.State == change.Unchanged {
			m = binary.AppendUvarint(m, uint64(i))
		}
	}
	return string(m)
}
