package postgres

import (
	"context"
	"fmt"
	"strings"

	"github.com/sluicecdc/sluice/pkg/change"
	"github.com/sluicecdc/sluice/sink/redact"
	"github.com/sluicecdc/sluice/sink/sqlsink"
)

// SoftTruncate marks every live row deleted (see sqlsink.SoftDeleter).
func (w tableWriter) SoftTruncate(ctx context.Context, row change.Row) error {
	s, tg := w.s, w.tg
	var args []any
	set := modeSet(&args, tg, row)
	_, err := s.exec(ctx, fmt.Sprintf("UPDATE %s SET %s WHERE %s IS NULL", tg.ident, set, tg.cols[tg.softDel]), args...)
	if err != nil {
		return fmt.Errorf("truncate: %w", err)
	}
	return nil
}

// SoftDeleteRow marks the first live row equal to before deleted.
func (w tableWriter) SoftDeleteRow(ctx context.Context, before change.Row) error {
	s, tg := w.s, w.tg
	pred, args := firstMatch(tg, before)
	set := modeSet(&args, tg, before)
	tag, err := s.exec(ctx, fmt.Sprintf("UPDATE %s SET %s WHERE %s", tg.ident, set, pred), args...)
	if err == nil && tag.RowsAffected() != 1 {
		return fmt.Errorf("delete: no live target row matches the old row %s; the target has drifted from the source", redact.Row(s.opts.LogValues, tg.sh.Table, before))
	}
	return err
}

// SoftDeleteKeys marks the live rows with the keys of rows deleted, a
// thousand keys a statement.
func (w tableWriter) SoftDeleteKeys(ctx context.Context, rows []change.Row) error {
	s, tg := w.s, w.tg
	live := tg.cols[tg.softDel] + " IS NULL"
	for _, group := range tg.sh.GroupByExtras(rows) {
		for len(group) > 0 {
			n := min(len(group), 1000)
			var args []any
			set := modeSet(&args, tg, group[0])
			var tuples []string
			for _, r := range group[:n] {
				var vals []string
				for _, k := range tg.key {
					vals = append(vals, param(&args, r[k], tg.types[k]))
				}
				tuples = append(tuples, "("+strings.Join(vals, ", ")+")")
			}
			sql := fmt.Sprintf("UPDATE %s SET %s WHERE %s AND (%s) IN (%s)", tg.ident, set, live,
				strings.Join(sqlsink.Pick(tg.cols, tg.key), ", "), strings.Join(tuples, ", "))
			if _, err := s.exec(ctx, sql, args...); err != nil {
				return fmt.Errorf("delete: %w", err)
			}
			group = group[n:]
		}
	}
	return nil
}

// modeSet is a SET list giving the mode's columns the values row r carries
// (and the synced-at column the target's time).
func modeSet(args *[]any, tg *target, r change.Row) string {
	var set []string
	for i := tg.nsrc; i < len(tg.cols) && i < len(r); i++ {
		set = append(set, tg.cols[i]+" = "+param(args, r[i], tg.types[i]))
	}
	if tg.set != "" {
		set = append(set, tg.set)
	}
	return strings.Join(set, ", ")
}
