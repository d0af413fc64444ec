package transform

import (
	"fmt"
	"strings"

	"github.com/sluicecdc/sluice/pkg/change"
)

// Txn returns in with its changes transformed: in itself when no change
// needs it; otherwise a new transaction with the same ID, Commit, Position,
// Part and Sub, whose Close also closes in. On an
// error in is left to the caller.
func (s *Set) Txn(in *change.Txn) (*change.Txn, error) {
	bf, err := s.backfill(in.Backfill)
	if err != nil {
		return nil, err
	}
	if bf != in.Backfill {
		in.Backfill = bf
	}
	if !in.Spilled() {
		untouched := true
		err := in.Each(func(c *change.Change) error {
			sh, err := s.shape(c.Table)
			if err != nil {
				return err
			}
			untouched = untouched && sh.passThrough()
			return nil
		})
		if err != nil {
			return nil, err
		}
		if untouched {
			return in, nil
		}
	}
	out := change.NewTxn(s.opts.SpillDir, 0)
	out.ID, out.Commit, out.Position, out.Part, out.Sub, out.Backfill, out.Signals = in.ID, in.Commit, in.Position, in.Part, in.Sub, in.Backfill, in.Signals
	err = in.Each(func(c *change.Change) error { return s.Change(c, out.Add) })
	if err != nil {
		out.Close()
		return nil, err
	}
	out.OnClose(func() { in.Close() })
	return out, nil
}

// Change transforms one change and passes what the target must receive to
// emit: nothing (a row outside the filter), the change reshaped, or a
// different operation (see update). The target holds filter(source):
//
//   - Insert, Read: sent when the new row matches.
//   - Delete: sent as is (a keyed delete of a row the target lacks is
//     harmless); for a table without a key only when the old row matched,
//     since the target must find exactly one such row.
//   - Update: see update.
//   - Truncate: sent, under the target name.
func (s *Set) Change(c *change.Change, emit func(change.Change) error) error {
	sh, err := s.shape(c.Table)
	if err != nil {
		return err
	}
	if sh.passThrough() {
		return emit(*c)
	}
	switch c.Op {
	case change.Rename:
		return s.rename(sh, c, emit)
	case change.Truncate:
		return emit(change.Change{Op: c.Op, Table: sh.out})
	case change.Insert, change.Read:
		v, lack, err := sh.test(c.After, nil)
		if err != nil {
			return err
		}
		if v == unknown {
			return sh.lackError(lack)
		}
		if v == no {
			return nil
		}
		return emit(sh.reshaped(c.Op, c.Before, c.After))
	case change.Delete:
		if !sh.src.HasKey() && len(sh.filters) > 0 {
			v, _, err := sh.test(c.Before, nil)
			if err != nil || v == no {
				return err
			}
		}
		return emit(sh.reshaped(c.Op, c.Before, nil))
	case change.Update:
		return sh.update(c, emit)
	}
	return fmt.Errorf("transform %s of %s: unexpected operation", c.Op, c.Table.ID)
}

// update decides what an update means for the filtered target:
//
//   - new row outside the filter: a Delete of the old key (the row leaves
//     the target, or was never there: harmless).
//   - new row matches, old row known to match: the Update as is (the
//     target holds the row, so values the source did not resend stay).
//   - new row matches, old row did not match or is not known (the source
//     sent only the old key): the row may be new to the target, so it goes
//     as an Update whose new row is complete; the SQL sinks apply updates as
//     upserts keyed on the primary key, so it is inserted when missing, and
//     a key change deletes the old key. A value the source did not resend
//     (PostgreSQL TOAST) is taken from the old row when that is full, and is
//     an error otherwise: only REPLICA IDENTITY FULL makes such a row whole.
//
// A table without a key needs the full old row (REPLICA IDENTITY FULL) for
// any update anyway; there the cases become a row update, a row delete, an
// insert, or nothing.
func (sh *shape) update(c *change.Change, emit func(change.Change) error) error {
	after, lack, err := sh.test(c.After, c.Before)
	if err != nil {
		return err
	}
	if after == unknown {
		return sh.lackError(lack)
	}
	// Without an old row the key did not change: the new row's key columns
	// are the old ones, enough for a filter on the key alone.
	old := c.Before
	if old == nil {
		old = sh.keyOnly(c.After)
	}
	keyed := sh.src.HasKey()
	if after == no && keyed {
		return emit(sh.reshaped(change.Delete, old, nil))
	}
	before, _, err := sh.test(old, nil)
	if err != nil {
		return err
	}
	if !keyed && before == unknown {
		return fmt.Errorf("transform update of %s: the table has no primary key and the source sent no full old row, so whether the row is in the target is unknown; "+
			"add a primary key or run ALTER TABLE %s REPLICA IDENTITY FULL on the source", sh.src.ID, sh.src.ID)
	}
	switch {
	case after == no: // a table without a key
		if before == no {
			return nil
		}
		return emit(sh.reshaped(change.Delete, c.Before, nil))
	case before == yes:
		return emit(sh.reshaped(change.Update, c.Before, c.After))
	}
	full, miss := complete(c.After, c.Before)
	if miss >= 0 {
		return fmt.Errorf("transform update of %s: the row enters the target, but the source did not send column %s (PostgreSQL leaves unchanged large values out); "+
			"run ALTER TABLE %s REPLICA IDENTITY FULL on the source so the old row carries it", sh.src.ID, sh.src.Columns[miss].Name, sh.src.ID)
	}
	if !keyed {
		return emit(sh.reshaped(change.Insert, nil, full))
	}
	return emit(sh.reshaped(change.Update, c.Before, full))
}

// complete returns after with its Unchanged values taken from before; lack
// is the first column neither holds, or -1.
func complete(after, before change.Row) (change.Row, int) {
	var out change.Row
	for i, v := range after {
		if v.State != change.Unchanged {
			continue
		}
		if i >= len(before) || (before[i].State != change.Present && before[i].State != change.Null) {
			return nil, i
		}
		if out == nil {
			out = append(change.Row(nil), after...)
		}
		out[i] = before[i]
	}
	if out == nil {
		return after, -1
	}
	return out, -1
}

func (sh *shape) reshaped(op change.Op, before, after change.Row) change.Change {
	return change.Change{Op: op, Table: sh.out, Before: sh.project(before), After: sh.project(after)}
}

// lackError is for a row image that lacks a column a filter reads.
func (sh *shape) lackError(col string) error {
	var ats []string
	for _, f := range sh.filters {
		ats = append(ats, f.at)
	}
	return fmt.Errorf("%s.where on %s: the source did not send column %s (PostgreSQL leaves unchanged large values out of updates); "+
		"run ALTER TABLE %s REPLICA IDENTITY FULL on the source so the old row carries it", strings.Join(ats, ", "), sh.src.ID, col, sh.src.ID)
}

// backfill describes a back-fill chunk as the target sees it: under the
// table's target name, and without pruning the target's rows when the
// rules reshape or filter them (the key range is the source's).
func (s *Set) backfill(in *change.Backfill) (*change.Backfill, error) {
	if in == nil || in.Table == nil || in.Table.Columns == nil {
		return in, nil
	}
	sh, err := s.shape(in.Table)
	if err != nil {
		return nil, err
	}
	if sh.passThrough() {
		return in, nil
	}
	out := *in
	out.Table = sh.out
	if sh.cols != nil || len(sh.filters) > 0 {
		out.Prune, out.Lo, out.Hi, out.Keep = false, nil, nil, nil
	}
	return &out, nil
}
