package postgres

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/sluicecdc/sluice/pkg/change"
	"github.com/sluicecdc/sluice/sink/sqlsink"
)

// prune makes a merge target's key range of a back-fill chunk ready for
// the chunk's rows: before they are added, it deletes, in the open
// transaction and after what is pending, the target rows of the range
// that the chunk does not hold, except the chunk's Keep list (keys the
// stream changed after the chunk's snapshot, whose target rows are newer).
// Rows the source no longer has are thus gone, and the chunk's rows end
// as the range's rows.
//
// How the rows go in depends on what the range holds. An empty range (a
// new table, a table emptied) takes them as plain inserts (COPY). A range
// with rows (a re-copy) takes them as an upsert that leaves a row alone
// when it holds the same values already (see upsertChanged): re-copying a
// table that is mostly right then writes only what differs, instead of
// deleting and inserting every row (dead rows, index entries and WAL for
// all of them). Tables whose key order the target may compare differently
// (text keys, rows of another engine unless their key is made of integers)
// are not pruned: the source leaves Prune off, and the rows are upserted.
func (s *Sink) prune(ctx context.Context, txn *change.Txn) error {
	bf := s.core.Prunes(txn)
	if bf == nil || !bf.Table.HasKey() || bf.Table.Dialect != change.Postgres && !change.IntegerKey(bf.Table) {
		return nil
	}
	t, err := s.conv.Table(bf.Table) // another engine's table, as add converts the chunk's rows
	if err != nil {
		return err
	}
	sh, err := s.core.ShapeFor(t)
	if err != nil {
		return err
	}
	p, err := s.core.PlanFor(ctx, sh)
	if err != nil {
		return err
	}
	if err := s.core.ExecPlan(ctx, p); err != nil {
		return err
	}
	tg := s.targets[p.Table]
	if tg == nil || tg.softDel >= 0 {
		return nil // soft deletes keep rows: nothing to prune
	}
	var args []any
	keyCols := make([]string, len(tg.key))
	for i, k := range tg.key {
		keyCols[i] = tg.cols[k]
	}
	tuple := "(" + strings.Join(keyCols, ", ") + ")"
	var rng []string
	bound := func(op string, r change.Row) {
		vals := make([]string, len(tg.key))
		for i, k := range tg.key {
			vals[i] = param(&args, r[k], tg.types[k])
		}
		rng = append(rng, fmt.Sprintf("%s %s (%s)", tuple, op, strings.Join(vals, ", ")))
	}
	if bf.Lo != nil {
		bound(">", bf.Lo)
	}
	if bf.Hi != nil {
		bound("<=", bf.Hi)
	}
	where := ""
	if len(rng) > 0 {
		where = " WHERE " + strings.Join(rng, " AND ")
	}
	if err := s.begin(ctx); err != nil {
		return err
	}
	var full bool
	if err := s.conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM "+tg.ident+where+")", args...).Scan(&full); err != nil {
		return fmt.Errorf("prune back-filled range of %s: %w", tg.id, err)
	}
	if !full {
		s.opts.Log.Debug().Str("table", tg.id.String()).Int("rows", txn.Len()).Msg("back-fill chunk's key range is empty on the target: rows copied in")
		return nil
	}
	// Keys to keep: the chunk's own (upserted next) and the Keep list.
	var keys []change.Row
	err = txn.Each(func(c *change.Change) error {
		if c.Op == change.Read && c.Table == bf.Table {
			keys = append(keys, c.After)
		}
		return nil
	})
	if err != nil {
		return err
	}
	keys = append(keys, bf.Keep...)
	conds := slices.Clone(rng)
	if len(keys) > 0 {
		texts := make([][]string, len(tg.key)) // per key column, the kept keys' texts
		for _, r := range keys {
			for i, k := range tg.key {
				texts[i] = append(texts[i], string(r[k].Data))
			}
		}
		unnest := make([]string, len(tg.key))
		match := make([]string, len(tg.key))
		names := make([]string, len(tg.key))
		for i, k := range tg.key {
			args = append(args, texts[i])
			unnest[i] = fmt.Sprintf("$%d::text[]", len(args))
			match[i] = fmt.Sprintf("CAST(u.k%d AS %s) = %s.%s", i, tg.types[k], tg.ident, tg.cols[k])
			names[i] = fmt.Sprintf("k%d", i)
		}
		// NOT EXISTS, planned as a hash anti join: NOT IN over a list
		// larger than work_mem is not hashed, and compares every row
		// with the whole list.
		conds = append(conds, fmt.Sprintf("NOT EXISTS (SELECT 1 FROM unnest(%s) AS u(%s) WHERE %s)",
			strings.Join(unnest, ", "), strings.Join(names, ", "), strings.Join(match, " AND ")))
	}
	q := "DELETE FROM " + tg.ident
	if len(conds) > 0 {
		q += " WHERE " + strings.Join(conds, " AND ")
	}
	tag, err := s.conn.Exec(ctx, q, args...)
	if err != nil {
		return fmt.Errorf("prune back-filled range of %s: %w", tg.id, err)
	}
	tg.recopy = true // until the commit: inserts are upserts that skip equal rows
	s.opts.Log.Debug().Str("table", tg.id.String()).Int64("deleted", tag.RowsAffected()).Int("rows", txn.Len()).
		Msg("back-fill deleted the target rows of the chunk's key range that the source no longer has")
	return nil
}

// upsertChanged is upsert for the rows of a re-copied key range: a row
// whose target row holds the same values already (compared as text, so
// that every type compares; a value written differently is merely
// written again) is left alone, so no dead row, index entry or WAL is
// made for it. With a synced-at column every row is written (its time
// must move), through upsert.
func (s *Sink) upsertChanged(ctx context.Context, tg *target, rows []change.Row) error {
	cols := sqlsink.SentColumns(rows[0])
	var set, old, neu []string
	for _, c := range cols {
		if contains(tg.key, c) {
			continue
		}
		set = append(set, fmt.Sprintf("%s = EXCLUDED.%s", tg.cols[c], tg.cols[c]))
		old = append(old, fmt.Sprintf("sluice_t.%s::text", tg.cols[c]))
		neu = append(neu, fmt.Sprintf("EXCLUDED.%s::text", tg.cols[c]))
	}
	if tg.set != "" || tg.conflict != "" || len(set) == 0 {
		return s.upsert(ctx, tg, rows)
	}
	stage, err := s.stageFor(ctx, tg, false)
	if err != nil {
		return err
	}
	if err := s.copyRows(ctx, stage, tg.cols, cols, rows); err != nil {
		return err
	}
	list := strings.Join(sqlsink.Pick(tg.cols, cols), ", ")
	sql := fmt.Sprintf("INSERT INTO %s AS sluice_t (%s) SELECT %s FROM %s ON CONFLICT (%s) DO UPDATE SET %s WHERE (%s) IS DISTINCT FROM (%s); TRUNCATE %s",
		tg.ident, list, list, stage, strings.Join(sqlsink.Pick(tg.cols, tg.key), ", "), strings.Join(set, ", "),
		strings.Join(old, ", "), strings.Join(neu, ", "), stage)
	if _, err := s.conn.PgConn().Exec(ctx, sql).ReadAll(); err != nil {
		return upsertErr(tg, err)
	}
	return nil
}
