package mysql

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/sluicecdc/sluice/pkg/change"
	"github.com/sluicecdc/sluice/pkg/mysqlconn"
	"github.com/sluicecdc/sluice/sink/mode"
	"github.com/sluicecdc/sluice/sink/plan"
	"github.com/sluicecdc/sluice/sink/redact"
	"github.com/sluicecdc/sluice/sink/sqlsink"
)

// Exec runs one plan action (soft deletes: see SoftDelete).
func (w tableWriter) Exec(ctx context.Context, a plan.Action) error {
	s, tg := w.s, w.tg
	switch a.Kind {
	case plan.Insert, plan.Upsert:
		cols := sqlsink.SentColumns(a.Rows[0])
		if a.Kind == plan.Insert && len(cols) == len(tg.all) && s.bulk(ctx, a.Rows) {
			return s.applyInfile(ctx, tg, a.Rows, true)
		}
		return s.insert(ctx, tg, cols, onDuplicate(tg, cols), a.Rows)
	case plan.Append:
		if s.bulk(ctx, a.Rows) {
			return s.applyInfile(ctx, tg, a.Rows, false)
		}
		return s.insert(ctx, tg, tg.all, "", a.Rows)
	case plan.Delete:
		return s.deleteKeys(ctx, tg, a.Rows)
	case plan.Truncate:
		// TRUNCATE would commit the open transaction.
		if _, err := s.exec(ctx, "DELETE FROM "+tg.ident); err != nil {
			return fmt.Errorf("truncate: %w", err)
		}
		return nil
	case plan.MoveUpdate:
		// The new key is free at the source, so it is in the target, except
		// in a replay over a newer state: free it, so replays stay harmless.
		if err := s.deleteKeys(ctx, tg, []change.Row{a.After}); err != nil {
			return err
		}
		pred, args, err := tg.keyPredicate(a.Before)
		if err != nil {
			return err
		}
		return s.updateWhere(ctx, tg, a.Before, a.After, pred, args)
	case plan.RowUpdate:
		pred, args, err := tg.rowPredicate(a.Before)
		if err != nil {
			return err
		}
		return s.updateWhere(ctx, tg, a.Before, a.After, pred+" LIMIT 1", args)
	case plan.RowDelete:
		pred, args, err := tg.rowPredicate(a.Before)
		if err != nil {
			return err
		}
		res, err := s.exec(ctx, "DELETE FROM "+tg.ident+" WHERE "+pred+" LIMIT 1", args...)
		if err != nil {
			return fmt.Errorf("delete: %w", err)
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return fmt.Errorf("delete: no target row matches the old row %s; the target has drifted from the source", redact.Row(tg.values, tg.sh.Table, a.Before))
		}
		return nil
	}
	return fmt.Errorf("unknown action %d", a.Kind)
}

// insert writes rows with multi-row INSERTs (plus tail, the upsert clause)
// inside the open transaction.
func (s *Sink) insert(ctx context.Context, tg *target, cols []int, tail string, rows []change.Row) error {
	w := newInserter(tg, cols, tail, s.srv.maxStmt, false, func(q string, args []any) error {
		_, err := s.exec(ctx, q, args...)
		return err
	})
	for _, r := range rows {
		if err := w.add(r); err != nil {
			return err
		}
	}
	return w.flush()
}

// deleteKeys deletes the rows with the given keys, many per statement.
func (s *Sink) deleteKeys(ctx context.Context, tg *target, keys []change.Row) error {
	if err := s.byKeys(ctx, tg, "DELETE FROM "+tg.ident+" WHERE ", nil, keys); err != nil {
		return fmt.Errorf("delete: %w", err)
	}
	return nil
}

// byKeys runs head (a statement ending in WHERE or AND, with parameters
// headArgs) with the condition that the key is one of keys, many per
// statement.
func (s *Sink) byKeys(ctx context.Context, tg *target, head string, headArgs []any, keys []change.Row) error {
	per := 1000
	if len(tg.key) == 1 {
		per = 5000
	}
	for len(keys) > 0 {
		n, size := 0, 0
		for ; n < len(keys) && n < per && size < s.srv.maxStmt/2; n++ {
			for _, k := range tg.key {
				size += len(keys[n][k].Data) + 10
			}
		}
		q, args, err := tg.keysIn(head, headArgs, keys[:n])
		if err != nil {
			return err
		}
		if _, err := s.exec(ctx, q, args...); err != nil {
			return err
		}
		keys = keys[n:]
	}
	return nil
}

// keysIn is head followed by the condition that the key is one of keys,
// with the parameters.
func (tg *target) keysIn(head string, headArgs []any, keys []change.Row) (string, []any, error) {
	single := len(tg.key) == 1
	var b strings.Builder
	b.WriteString(head)
	if single {
		fmt.Fprintf(&b, "%s IN (", tg.cols[tg.key[0]])
	} else {
		fmt.Fprintf(&b, "(%s) IN (", strings.Join(sqlsink.Pick(tg.cols, tg.key), ", "))
	}
	args := append([]any(nil), headArgs...)
	for n, key := range keys {
		if n > 0 {
			b.WriteString(", ")
		}
		if !single {
			b.WriteByte('(')
		}
		for i, k := range tg.key {
			if i > 0 {
				b.WriteString(", ")
			}
			a, err := tg.arg(k, key[k], false)
			if err != nil {
				return "", nil, err
			}
			args = append(args, a)
			b.WriteString(tg.match[k])
		}
		if !single {
			b.WriteByte(')')
		}
	}
	b.WriteByte(')')
	return b.String(), args, nil
}

// updateWhere sets every sent column of after on the row pred selects, which
// must be exactly one (the connection reports matched rows, not changed ones).
func (s *Sink) updateWhere(ctx context.Context, tg *target, before, after change.Row, pred string, predArgs []any) error {
	var set []string
	var args []any
	for i, v := range after {
		if v.State == change.Unchanged || v.State == change.Missing {
			continue
		}
		a, err := tg.arg(i, v, false)
		if err != nil {
			return fmt.Errorf("update: %w", err)
		}
		set = append(set, tg.cols[i]+" = ?")
		args = append(args, a)
	}
	if len(set) == 0 {
		return nil
	}
	q := fmt.Sprintf("UPDATE %s SET %s WHERE %s", tg.ident, strings.Join(set, ", "), pred)
	res, err := s.exec(ctx, q, append(args, predArgs...)...)
	if err != nil {
		return fmt.Errorf("update: %w", err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return fmt.Errorf("update: %d target rows match the old row %s, want 1; the target has drifted from the source", n, redact.Row(tg.values, tg.sh.Table, before))
	}
	return nil
}

// keyPredicate matches the row with before's key.
func (tg *target) keyPredicate(before change.Row) (string, []any, error) {
	var conds []string
	var args []any
	for _, k := range tg.key {
		a, err := tg.arg(k, before[k], false)
		if err != nil {
			return "", nil, err
		}
		conds = append(conds, tg.cols[k]+" = "+tg.match[k])
		args = append(args, a)
	}
	return strings.Join(conds, " AND "), args, nil
}

// rowPredicate matches rows equal to before in every source column it
// carries (keyless tables: duplicates are legal, and one change touches one
// row); with soft deletes, only live rows.
func (tg *target) rowPredicate(before change.Row) (string, []any, error) {
	var args []any
	conds, err := sqlsink.RowConds(tg.cols, tg.nsrc, tg.softDel, before, func(i int, v change.Value) (string, error) {
		a, err := tg.arg(i, v, false)
		args = append(args, a)
		return tg.cols[i] + " = " + tg.match[i], err
	})
	if err != nil {
		return "", nil, err
	}
	if len(conds) == 0 {
		conds = append(conds, "TRUE")
	}
	return strings.Join(conds, " AND "), args, nil
}

// onDuplicate is the upsert clause: the key decides, sent columns win.
// History and append rows are never overwritten: a row there already is
// the same change written before.
func onDuplicate(tg *target, cols []int) string {
	if tg.sh.Mode != mode.Merge {
		c := mysqlconn.QuoteIdent(mode.ChangeIndex)
		return " ON DUPLICATE KEY UPDATE " + c + " = " + c
	}
	var set []string
	for _, c := range cols {
		if !slices.Contains(tg.key, c) {
			set = append(set, fmt.Sprintf("%s = VALUES(%s)", tg.cols[c], tg.cols[c]))
		}
	}
	if len(set) == 0 { // every column is in the key: nothing to overwrite
		k := tg.cols[tg.key[0]]
		set = append(set, k+" = "+k)
	}
	return " ON DUPLICATE KEY UPDATE " + strings.Join(set, ", ")
}

// arg is the statement parameter for value v of column c. Rows a Loader is
// given may be reused, so copyBytes copies binary values.
func (tg *target) arg(c int, v change.Value, copyBytes bool) (any, error) {
	if v.State != change.Present {
		return nil, nil
	}
	switch tg.kinds[c] {
	case kindInt:
		// An integer literal, so comparisons are exact even for huge values.
		if n, err := strconv.ParseInt(string(v.Data), 10, 64); err == nil {
			return n, nil
		}
		if n, err := strconv.ParseUint(string(v.Data), 10, 64); err == nil {
			return n, nil
		}
	case kindBit:
		n, err := strconv.ParseUint(string(v.Data), 2, 64)
		if err != nil || len(v.Data) == 0 {
			return nil, fmt.Errorf("column %s: bit value %s is not 1 to 64 binary digits", tg.cols[c], redact.Value(tg.values, v.Data))
		}
		return n, nil
	case kindFloat:
		// The float the text names, widened exactly: the server reads the
		// text as a double first, and e.g. "3.4028235e+38" (the largest
		// float) is out of range as a double rounded to a float.
		if f, err := strconv.ParseFloat(string(v.Data), 32); err == nil {
			return float64(float32(f)), nil
		}
	case kindBinary:
		if copyBytes || v.Data == nil { // a nil []byte would be NULL
			return append([]byte{}, v.Data...), nil
		}
		return v.Data, nil
	}
	return string(v.Data), nil // the server parses it as the column's type
}

// maxParams is the most placeholders one statement may have when the driver
// has to fall back to a server-side prepared statement.
const maxParams = 65535

// inserter builds multi-row INSERT statements of at most max bytes and runs
// each through run when full.
type inserter struct {
	tg        *target
	cols      []int
	head      string // INSERT INTO t (cols) VALUES
	tuple     string // (?, ?, ?)
	tail      string
	max       int
	copyBytes bool
	run       func(q string, args []any) error

	b    strings.Builder
	args []any
	size int // estimated bytes of the interpolated statement
	rows int
}

func newInserter(tg *target, cols []int, tail string, max int, copyBytes bool, run func(string, []any) error) *inserter {
	marks := strings.TrimSuffix(strings.Repeat("?, ", len(cols)), ", ")
	return &inserter{tg: tg, cols: cols, tail: tail, max: max, copyBytes: copyBytes, run: run,
		head:  fmt.Sprintf("INSERT INTO %s (%s) VALUES ", tg.ident, strings.Join(sqlsink.Pick(tg.cols, cols), ", ")),
		tuple: "(" + marks + ")"}
}

// add appends one row, running the statement first if r would not fit.
// The size estimate allows for quoting; escapes can at most double a value,
// and max is at most half of max_allowed_packet.
func (w *inserter) add(r change.Row) error {
	if len(r) != len(w.tg.cols) {
		return fmt.Errorf("row has %d values, the table %d columns", len(r), len(w.tg.cols))
	}
	est := len(w.tuple) + 2
	for _, c := range w.cols {
		est += len(r[c].Data) + 10
	}
	if w.rows > 0 && (w.size+est > w.max || len(w.args)+len(w.cols) > maxParams) {
		if err := w.flush(); err != nil {
			return err
		}
	}
	if w.rows == 0 {
		w.b.WriteString(w.head)
		w.size = len(w.head) + len(w.tail)
	} else {
		w.b.WriteString(", ")
	}
	w.b.WriteString(w.tuple)
	for _, c := range w.cols {
		a, err := w.tg.arg(c, r[c], w.copyBytes)
		if err != nil {
			return err
		}
		w.args = append(w.args, a)
	}
	w.size += est
	w.rows++
	return nil
}

// flush runs the statement built so far.
func (w *inserter) flush() error {
	if w.rows == 0 {
		return nil
	}
	w.b.WriteString(w.tail)
	err := w.run(w.b.String(), w.args)
	w.b.Reset()
	w.args = w.args[:0]
	w.rows, w.size = 0, 0
	if err != nil {
		return fmt.Errorf("insert: %w", err)
	}
	return nil
}
