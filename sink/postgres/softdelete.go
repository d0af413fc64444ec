package postgres

import (
	"context"
	"fmt"
	"strings"

	"github.com/sluicecdc/sluice/pkg/change"
	"github.com/sluicecdc/sluice/sink/plan"
	"github.com/sluicecdc/sluice/sink/redact"
	"github.com/sluicecdc/sluice/sink/sqlsink"
)

// SoftDelete marks rows deleted instead of removing them (merge mode with
// sink.soft_delete): it sets the mode's columns (the deleted-at time and
// the metadata) from the delete's row, on the live rows with the deleted
// keys, on the first live row matching a keyless delete, or on every live
// row for a truncate. A row deleted already keeps its first deletion.
func (w tableWriter) SoftDelete(ctx context.Context, a plan.Action) error {
	s, tg := w.s, w.tg
	live := tg.cols[tg.softDel] + " IS NULL"
	switch a.Kind {
	case plan.Truncate:
		var args []any
		set := modeSet(&args, tg, a.After)
		_, err := s.exec(ctx, fmt.Sprintf("UPDATE %s SET %s WHERE %s", tg.ident, set, live), args...)
		if err != nil {
			return fmt.Errorf("truncate: %w", err)
		}
		return nil
	case plan.RowDelete:
		pred, args := firstMatch(tg, a.Before)
		set := modeSet(&args, tg, a.Before)
		tag, err := s.exec(ctx, fmt.Sprintf("UPDATE %s SET %s WHERE %s", tg.ident, set, pred), args...)
		if err == nil && tag.RowsAffected() != 1 {
			return fmt.Errorf("delete: no live target row matches the old row %s; the target has drifted from the source", redact.Row(s.opts.LogValues, tg.sh.Table, a.Before))
		}
		return err
	}
	for _, group := range tg.sh.GroupByExtras(a.Rows) {
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
