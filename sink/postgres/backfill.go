package postgres

import (
	"context"
	"fmt"
	"strings"

	"github.com/sluicecdc/sluice/pkg/change"
	"github.com/sluicecdc/sluice/sink/mode"
)

// prune makes a merge target's key range of a back-fill chunk ready for
// the chunk's rows: before they are added, it deletes, in the open
// transaction and after what is pending, the target rows of the range
// except the chunk's Keep list (keys the stream changed after the chunk's
// snapshot, whose target rows are newer). The chunk's rows are then plain
// inserts (COPY), and rows the source no longer has are gone. Tables whose
// key order the target may compare differently (text keys, rows of another
// engine unless their key is made of integers) are not pruned: the source leaves Prune off, and the rows are
// upserted.
func (s *Sink) prune(ctx context.Context, txn *change.Txn) error {
	bf := txn.Backfill
	if bf == nil || !bf.Prune || bf.Table == nil || s.opts.Mode.Mode != mode.Merge || !bf.Table.HasKey() ||
		bf.Table.Dialect != change.Postgres && !change.IntegerKey(bf.Table) {
		return nil
	}
	t, err := s.conv.Table(bf.Table) // another engine's table, as add converts the chunk's rows
	if err != nil {
		return err
	}
	sh, err := s.shapeFor(t)
	if err != nil {
		return err
	}
	p, err := s.planFor(ctx, sh)
	if err != nil {
		return err
	}
	if err := s.execPlan(ctx, p); err != nil {
		return err
	}
	tg := s.targets[p.Table]
	if tg == nil || tg.softDel >= 0 {
		return nil // soft deletes keep rows: nothing to prune
	}
	keep := make([][]string, len(tg.key)) // per key column, the kept keys' texts
	for _, r := range bf.Keep {
		for i, k := range tg.key {
			keep[i] = append(keep[i], string(r[k].Data))
		}
	}
	var args []any
	keyCols := make([]string, len(tg.key))
	for i, k := range tg.key {
		keyCols[i] = tg.cols[k]
	}
	tuple := "(" + strings.Join(keyCols, ", ") + ")"
	var conds []string
	bound := func(op string, r change.Row) {
		vals := make([]string, len(tg.key))
		for i, k := range tg.key {
			vals[i] = param(&args, r[k], tg.types[k])
		}
		conds = append(conds, fmt.Sprintf("%s %s (%s)", tuple, op, strings.Join(vals, ", ")))
	}
	if bf.Lo != nil {
		bound(">", bf.Lo)
	}
	if bf.Hi != nil {
		bound("<=", bf.Hi)
	}
	if len(bf.Keep) > 0 {
		unnest := make([]string, len(tg.key))
		casts := make([]string, len(tg.key))
		names := make([]string, len(tg.key))
		for i, k := range tg.key {
			args = append(args, keep[i])
			unnest[i] = fmt.Sprintf("$%d::text[]", len(args))
			casts[i] = fmt.Sprintf("CAST(u.k%d AS %s)", i, tg.types[k])
			names[i] = fmt.Sprintf("k%d", i)
		}
		conds = append(conds, fmt.Sprintf("%s NOT IN (SELECT %s FROM unnest(%s) AS u(%s))",
			tuple, strings.Join(casts, ", "), strings.Join(unnest, ", "), strings.Join(names, ", ")))
	}
	q := "DELETE FROM " + tg.ident
	if len(conds) > 0 {
		q += " WHERE " + strings.Join(conds, " AND ")
	}
	if err := s.begin(ctx); err != nil {
		return err
	}
	tag, err := s.conn.Exec(ctx, q, args...)
	if err != nil {
		return fmt.Errorf("prune back-filled range of %s: %w", tg.id, err)
	}
	s.opts.Log.Debug().Str("table", tg.id.String()).Int64("deleted", tag.RowsAffected()).Int("rows", txn.Len()).
		Msg("back-fill emptied the chunk's key range for its rows")
	return nil
}
