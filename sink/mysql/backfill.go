package mysql

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/sluicecdc/sluice/pkg/change"
	"github.com/sluicecdc/sluice/sink/sqlsink"
)

// prune makes a merge target's key range of a back-fill chunk hold only
// the chunk's rows: after the chunk's rows are written, it reads the keys
// the target has in the range and deletes those that are neither among
// the chunk's rows nor in its Keep list (keys the stream changed after the
// chunk's snapshot): rows the source no longer has. Only integer keys
// (of either source), whose order and text are the same on both engines.
func (s *Sink) prune(ctx context.Context, txn *change.Txn) error {
	bf := s.core.Prunes(txn)
	if bf == nil || !integerKey(bf.Table) {
		return nil
	}
	sh, err := s.sourceShape(bf.Table)
	if err != nil {
		return err
	}
	tg := s.target(sh.Table)
	if tg == nil || tg.softDel >= 0 {
		return nil // no table yet (so nothing to prune), or soft deletes keep rows
	}
	if p := s.core.Plan(sh.Table.ID); p != nil {
		if err := s.core.ExecPlan(ctx, p); err != nil {
			return err
		}
	}
	keep := map[string]bool{}
	keyOf := func(r change.Row) string {
		parts := make([]string, len(tg.key))
		for i, k := range tg.key {
			parts[i] = string(r[k].Data)
		}
		return strings.Join(parts, "\x00")
	}
	err = txn.Each(func(c *change.Change) error {
		if c.Op == change.Read && c.Table.ID == bf.Table.ID {
			keep[keyOf(c.After)] = true
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, r := range bf.Keep {
		keep[keyOf(r)] = true
	}
	cols := sqlsink.Pick(tg.cols, tg.key)
	tuple := "(" + strings.Join(cols, ", ") + ")"
	var conds []string
	var args []any
	bound := func(op string, r change.Row) {
		marks := make([]string, len(tg.key))
		for i, k := range tg.key {
			marks[i] = "?"
			args = append(args, string(r[k].Data))
		}
		conds = append(conds, fmt.Sprintf("%s %s (%s)", tuple, op, strings.Join(marks, ", ")))
	}
	if bf.Lo != nil {
		bound(">", bf.Lo)
	}
	if bf.Hi != nil {
		bound("<=", bf.Hi)
	}
	casts := make([]string, len(cols))
	for i, c := range cols {
		casts[i] = "CAST(" + c + " AS CHAR)"
	}
	q := "SELECT " + strings.Join(casts, ", ") + " FROM " + tg.ident
	if len(conds) > 0 {
		q += " WHERE " + strings.Join(conds, " AND ")
	}
	if err := s.begin(ctx); err != nil {
		return err
	}
	rows, err := s.conn.QueryContext(ctx, q, args...)
	if err != nil {
		return fmt.Errorf("prune back-filled range of %s: %w", tg.id, err)
	}
	var gone []change.Row
	vals := make([]sql.NullString, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			rows.Close()
			return fmt.Errorf("prune back-filled range of %s: %w", tg.id, err)
		}
		r := make(change.Row, len(bf.Table.Columns))
		for i, k := range tg.key {
			r[k] = change.Text(vals[i].String)
		}
		if !keep[keyOf(r)] {
			gone = append(gone, r)
		}
	}
	if err := rows.Close(); err != nil {
		return err
	}
	if len(gone) == 0 {
		return nil
	}
	if err := s.deleteKeys(ctx, tg, gone); err != nil {
		return fmt.Errorf("prune back-filled range of %s: %w", tg.id, err)
	}
	s.opts.Log.Info().Str("table", tg.id.String()).Int("rows", len(gone)).Msg("back-fill removed target rows the source no longer has")
	return nil
}

// integerKey tells whether every key column is an integer.
func integerKey(t *change.Table) bool { return change.IntegerKey(t) }
