package mysql

import (
	"context"
	"fmt"
	"strings"

	"github.com/sluicecdc/sluice/pkg/change"
	"github.com/sluicecdc/sluice/sink/plan"
	"github.com/sluicecdc/sluice/sink/redact"
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
		set, args, err := tg.modeSet(a.After)
		if err == nil {
			_, err = s.exec(ctx, fmt.Sprintf("UPDATE %s SET %s WHERE %s", tg.ident, set, live), args...)
		}
		if err != nil {
			return fmt.Errorf("truncate: %w", err)
		}
		return nil
	case plan.RowDelete:
		pred, predArgs, err := tg.rowPredicate(a.Before)
		if err != nil {
			return err
		}
		set, args, err := tg.modeSet(a.Before)
		if err != nil {
			return err
		}
		res, err := s.exec(ctx, fmt.Sprintf("UPDATE %s SET %s WHERE %s LIMIT 1", tg.ident, set, pred), append(args, predArgs...)...)
		if err != nil {
			return fmt.Errorf("delete: %w", err)
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return fmt.Errorf("delete: no live target row matches the old row %s; the target has drifted from the source", redact.Row(tg.values, tg.sh.Table, a.Before))
		}
		return nil
	}
	for _, group := range tg.sh.GroupByExtras(a.Rows) {
		set, args, err := tg.modeSet(group[0])
		if err == nil {
			err = s.byKeys(ctx, tg, fmt.Sprintf("UPDATE %s SET %s WHERE %s AND ", tg.ident, set, live), args, group)
		}
		if err != nil {
			return fmt.Errorf("delete: %w", err)
		}
	}
	return nil
}

// modeSet is a SET list giving the mode's columns the values row r
// carries, with its parameters.
func (tg *target) modeSet(r change.Row) (string, []any, error) {
	var set []string
	var args []any
	for i := tg.nsrc; i < len(tg.cols) && i < len(r); i++ {
		a, err := tg.arg(i, r[i], false)
		if err != nil {
			return "", nil, err
		}
		set = append(set, tg.cols[i]+" = ?")
		args = append(args, a)
	}
	return strings.Join(set, ", "), args, nil
}
