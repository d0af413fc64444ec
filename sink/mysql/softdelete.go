package mysql

import (
	"context"
	"fmt"
	"strings"

	"github.com/sluicecdc/sluice/pkg/change"
	"github.com/sluicecdc/sluice/sink/redact"
)

// SoftTruncate marks every live row deleted (see sqlsink.SoftDeleter).
func (w tableWriter) SoftTruncate(ctx context.Context, row change.Row) error {
	tg := w.tg
	set, args, err := tg.modeSet(row)
	if err == nil {
		_, err = w.s.exec(ctx, fmt.Sprintf("UPDATE %s SET %s WHERE %s IS NULL", tg.ident, set, tg.cols[tg.softDel]), args...)
	}
	if err != nil {
		return fmt.Errorf("truncate: %w", err)
	}
	return nil
}

// SoftDeleteRow marks one live row equal to before deleted.
func (w tableWriter) SoftDeleteRow(ctx context.Context, before change.Row) error {
	tg := w.tg
	pred, predArgs, err := tg.rowPredicate(before)
	if err != nil {
		return err
	}
	set, args, err := tg.modeSet(before)
	if err != nil {
		return err
	}
	res, err := w.s.exec(ctx, fmt.Sprintf("UPDATE %s SET %s WHERE %s LIMIT 1", tg.ident, set, pred), append(args, predArgs...)...)
	if err != nil {
		return fmt.Errorf("delete: %w", err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return fmt.Errorf("delete: no live target row matches the old row %s; the target has drifted from the source", redact.Row(tg.values, tg.sh.Table, before))
	}
	return nil
}

// SoftDeleteKeys marks the live rows with the keys of rows deleted, many
// keys a statement (see byKeys).
func (w tableWriter) SoftDeleteKeys(ctx context.Context, rows []change.Row) error {
	tg := w.tg
	for _, group := range tg.sh.GroupByExtras(rows) {
		set, args, err := tg.modeSet(group[0])
		if err == nil {
			err = w.s.byKeys(ctx, tg, fmt.Sprintf("UPDATE %s SET %s WHERE %s IS NULL AND ", tg.ident, set, tg.cols[tg.softDel]), args, group)
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
