package postgres

import (
	"context"
	"fmt"
	"strings"

	"github.com/sluicecdc/sluice/pkg/change"
	"github.com/sluicecdc/sluice/sink/mode"
)

// prune makes a merge target's key range of a back-fill chunk hold only
// the chunk's rows: it deletes, in the open transaction and after the
// chunk's rows are written, the target rows of the range whose key is
// neither among them nor in the chunk's Keep list (keys the stream changed
// after the chunk's snapshot). Those are rows the source no longer has.
// Tables whose key order the target may compare differently (text keys,
// rows of another engine) are not pruned: the source leaves Prune off.
func (s *Sink) prune(ctx context.Context, txn *change.Txn) error {
	bf := txn.Backfill
	if bf == nil || !bf.Prune || bf.Table == nil || s.opts.Mode.Mode != mode.Merge || bf.Table.Dialect != change.Postgres || !bf.Table.HasKey() {
		return nil
	}
	sh, err := s.shapeFor(bf.Table)
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
	addKeep := func(r change.Row) {
		for i, k := range tg.key {
			keep[i] = append(keep[i], string(r[k].Data))
		}
	}
	err = txn.Each(func(c *change.Change) error {
		if c.Op == change.Read && c.Table.ID == bf.Table.ID {
			addKeep(c.After)
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, r := range bf.Keep {
		addKeep(r)
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
	unnest := make([]string, len(tg.key))
	casts := make([]string, len(tg.key))
	for i, k := range tg.key {
		args = append(args, keep[i])
		unnest[i] = fmt.Sprintf("$%d::text[]", len(args))
		casts[i] = fmt.Sprintf("CAST(u.k%d AS %s)", i, tg.types[k])
	}
	names := make([]string, len(tg.key))
	for i := range names {
		names[i] = fmt.Sprintf("k%d", i)
	}
	conds = append(conds, fmt.Sprintf("%s NOT IN (SELECT %s FROM unnest(%s) AS u(%s))",
		tuple, strings.Join(casts, ", "), strings.Join(unnest, ", "), strings.Join(names, ", ")))
	tag, err := s.exec(ctx, "DELETE FROM "+tg.ident+" WHERE "+strings.Join(conds, " AND "), args...)
	if err != nil {
		return fmt.Errorf("prune back-filled range of %s: %w", tg.id, err)
	}
	if n := tag.RowsAffected(); n > 0 {
		s.opts.Log.Info().Str("table", tg.id.String()).Int64("rows", n).Msg("back-fill removed target rows the source no longer has")
	}
	return nil
}
