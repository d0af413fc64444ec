package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/sluicecdc/sluice/pkg/change"
	"github.com/sluicecdc/sluice/sink/plan"
	"github.com/sluicecdc/sluice/sink/redact"
	"github.com/sluicecdc/sluice/sink/sqlsink"
)

// Exec runs one plan action (soft deletes: see SoftDelete).
func (w tableWriter) Exec(ctx context.Context, a plan.Action) error {
	s, tg := w.s, w.tg
	small := len(a.Rows) <= smallSet
	switch {
	case small && (a.Kind == plan.Insert || a.Kind == plan.Upsert):
		return s.upsertValues(ctx, tg, a.Rows)
	case small && a.Kind == plan.Delete:
		return s.deleteValues(ctx, tg, a.Rows)
	}
	if err := s.begin(ctx); err != nil { // the other paths send BEGIN on its own
		return err
	}
	switch {
	case a.Kind == plan.Insert && tg.recopy:
		return s.upsertChanged(ctx, tg, a.Rows)
	}
	switch a.Kind {
	case plan.Insert:
		return s.insertFast(ctx, tg, a.Rows)
	case plan.Upsert:
		return s.upsert(ctx, tg, a.Rows)
	case plan.Delete:
		return s.deleteKeys(ctx, tg, a.Rows)
	case plan.Append:
		return s.copyRows(ctx, tg.ident, tg.cols, tg.all, a.Rows)
	case plan.Truncate:
		_, err := s.conn.Exec(ctx, "TRUNCATE "+tg.ident)
		return err
	case plan.MoveUpdate:
		pred, args := keyPredicate(tg, a.Before)
		return s.updateWhere(ctx, tg, a.After, pred, args)
	case plan.RowUpdate:
		pred, args := firstMatch(tg, a.Before)
		return s.updateWhere(ctx, tg, a.After, pred, args)
	case plan.RowDelete:
		pred, args := firstMatch(tg, a.Before)
		tag, err := s.conn.Exec(ctx, "DELETE FROM "+tg.ident+" WHERE "+pred, args...)
		if err == nil && tag.RowsAffected() != 1 {
			return fmt.Errorf("delete: no target row matches the old row %s; the target has drifted from the source", redact.Row(s.opts.LogValues, tg.sh.Table, a.Before))
		}
		return err
	}
	return fmt.Errorf("unknown action %d", a.Kind)
}

// smallSet is the most rows applied with one parameterised statement
// (one round trip) instead of COPY through a staging table.
const smallSet = 16

// insertFast copies rows straight into the target table: the fastest path,
// right whenever the rows are new there. A replay after a crash (or any row
// already present) fails the COPY with a unique violation; then the COPY is
// undone and the rows go through the upsert path, so the result is the same.
func (s *Sink) insertFast(ctx context.Context, tg *target, rows []change.Row) error {
	if _, err := s.conn.Exec(ctx, "SAVEPOINT sluice_fast"); err != nil {
		return fmt.Errorf("insert: %w", err)
	}
	err := s.copyRows(ctx, tg.ident, tg.cols, tg.all, rows)
	if pgCode(err) == "23505" {
		if _, err := s.conn.Exec(ctx, "ROLLBACK TO SAVEPOINT sluice_fast; RELEASE SAVEPOINT sluice_fast"); err != nil {
			return fmt.Errorf("insert: %w", err)
		}
		return s.upsert(ctx, tg, rows)
	}
	if err != nil {
		return fmt.Errorf("insert: %w", err)
	}
	if _, err := s.conn.Exec(ctx, "RELEASE SAVEPOINT sluice_fast"); err != nil {
		return fmt.Errorf("insert: %w", err)
	}
	return nil
}

// upsertValues upserts a few rows with one statement. All rows share one
// unchanged-mask.
func (s *Sink) upsertValues(ctx context.Context, tg *target, rows []change.Row) error {
	cols := sqlsink.SentColumns(rows[0])
	var b strings.Builder
	args := make([]any, 0, len(rows)*len(cols))
	fmt.Fprintf(&b, "INSERT INTO %s (%s) VALUES ", tg.ident, strings.Join(sqlsink.Pick(tg.cols, cols), ", "))
	for r, row := range rows {
		if r > 0 {
			b.WriteString(", ")
		}
		b.WriteByte('(')
		for i, c := range cols {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(param(&args, row[c], tg.types[c]))
		}
		b.WriteByte(')')
	}
	b.WriteString(onConflict(tg, cols))
	if _, err := s.exec(ctx, b.String(), args...); err != nil {
		return upsertErr(tg, err)
	}
	return nil
}

// deleteValues deletes a few rows by key with one statement.
func (s *Sink) deleteValues(ctx context.Context, tg *target, keys []change.Row) error {
	var b strings.Builder
	args := make([]any, 0, len(keys)*len(tg.key))
	fmt.Fprintf(&b, "DELETE FROM %s WHERE (%s) IN (", tg.ident, strings.Join(sqlsink.Pick(tg.cols, tg.key), ", "))
	for r, row := range keys {
		if r > 0 {
			b.WriteString(", ")
		}
		b.WriteByte('(')
		for i, k := range tg.key {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(param(&args, row[k], tg.types[k]))
		}
		b.WriteByte(')')
	}
	b.WriteByte(')')
	if _, err := s.exec(ctx, b.String(), args...); err != nil {
		return fmt.Errorf("delete: %w", err)
	}
	return nil
}

// onConflict is the upsert clause: the key decides, present columns win.
// History and append rows are never overwritten: a row there already is
// the same change written before.
func onConflict(tg *target, cols []int) string {
	if tg.conflict != "" {
		return tg.conflict
	}
	var set []string
	for _, c := range cols {
		if !contains(tg.key, c) {
			set = append(set, fmt.Sprintf("%s = EXCLUDED.%s", tg.cols[c], tg.cols[c]))
		}
	}
	if len(set) > 0 && tg.set != "" {
		set = append(set, tg.set)
	}
	conflict := " ON CONFLICT (" + strings.Join(sqlsink.Pick(tg.cols, tg.key), ", ") + ") DO NOTHING"
	if len(set) > 0 {
		conflict = " ON CONFLICT (" + strings.Join(sqlsink.Pick(tg.cols, tg.key), ", ") + ") DO UPDATE SET " + strings.Join(set, ", ")
	}
	return conflict
}

// upsertErr names the fix when the target has no unique index for ON
// CONFLICT (SQLSTATE 42P10: someone dropped it after Sluice checked).
func upsertErr(tg *target, err error) error {
	if pgCode(err) == "42P10" {
		return fmt.Errorf("upsert: the target table needs a primary key or unique index on (%s) like the source: %w",
			strings.Join(sqlsink.Pick(tg.cols, tg.key), ", "), err)
	}
	return fmt.Errorf("upsert: %w", err)
}

// upsert stages the rows with COPY, then merges them set-based. All rows
// share one unchanged-mask; unchanged columns are left out so the target
// keeps its values.
func (s *Sink) upsert(ctx context.Context, tg *target, rows []change.Row) error {
	cols := sqlsink.SentColumns(rows[0])
	stage, err := s.stageFor(ctx, tg, false)
	if err != nil {
		return err
	}
	names := sqlsink.Pick(tg.cols, cols)
	if err := s.copyRows(ctx, stage, tg.cols, cols, rows); err != nil {
		return err
	}
	list := strings.Join(names, ", ")
	sql := fmt.Sprintf("INSERT INTO %s (%s) SELECT %s FROM %s%s; TRUNCATE %s",
		tg.ident, list, list, stage, onConflict(tg, cols), stage)
	if _, err := s.conn.PgConn().Exec(ctx, sql).ReadAll(); err != nil {
		return upsertErr(tg, err)
	}
	return nil
}

// deleteKeys stages the keys with COPY and deletes the matching rows.
func (s *Sink) deleteKeys(ctx context.Context, tg *target, keys []change.Row) error {
	stage, err := s.stageFor(ctx, tg, true)
	if err != nil {
		return err
	}
	if err := s.copyRows(ctx, stage, tg.cols, tg.key, keys); err != nil {
		return err
	}
	var on []string
	for _, k := range tg.key {
		on = append(on, fmt.Sprintf("t.%s = k.%s", tg.cols[k], tg.cols[k]))
	}
	sql := fmt.Sprintf("DELETE FROM %s t USING %s k WHERE %s; TRUNCATE %s", tg.ident, stage, strings.Join(on, " AND "), stage)
	if _, err := s.conn.PgConn().Exec(ctx, sql).ReadAll(); err != nil {
		return fmt.Errorf("delete: %w", err)
	}
	return nil
}

// stageFor returns the session's temp table for staging rows (or keys) of tg.
func (s *Sink) stageFor(ctx context.Context, tg *target, keys bool) (string, error) {
	name, cols := &tg.stage, tg.all
	if keys {
		name, cols = &tg.kstage, tg.key
	}
	if *name != "" {
		return *name, nil
	}
	s.stageSeq++
	n := fmt.Sprintf("sluice_stage_%d", s.stageSeq)
	// No constraints: rows may leave unchanged NOT NULL columns out.
	sql := fmt.Sprintf("CREATE TEMP TABLE %s ON COMMIT DELETE ROWS AS SELECT %s FROM %s WITH NO DATA",
		n, strings.Join(sqlsink.Pick(tg.cols, cols), ", "), tg.ident)
	if _, err := s.conn.Exec(ctx, sql); err != nil {
		return "", fmt.Errorf("create staging table: %w", err)
	}
	*name = n
	return n, nil
}

// copyRows writes the given columns of rows into table with COPY.
func (s *Sink) copyRows(ctx context.Context, table string, names []string, cols []int, rows []change.Row) error {
	sql := fmt.Sprintf("COPY %s (%s) FROM STDIN", table, strings.Join(sqlsink.Pick(names, cols), ", "))
	if _, err := s.conn.PgConn().CopyFrom(ctx, &copyReader{rows: rows, cols: cols}, sql); err != nil {
		return fmt.Errorf("copy into %s: %w", table, err)
	}
	return nil
}

// updateWhere sets every present column of after on the row pred selects,
// which must be exactly one. args holds pred's parameters ($1...); the SET
// parameters are numbered after them.
func (s *Sink) updateWhere(ctx context.Context, tg *target, after change.Row, pred string, args []any) error {
	var set []string
	for i, v := range after {
		if v.State == change.Unchanged || v.State == change.Missing {
			continue
		}
		set = append(set, tg.cols[i]+" = "+param(&args, v, tg.types[i]))
	}
	if tg.set != "" {
		set = append(set, tg.set)
	}
	sql := fmt.Sprintf("UPDATE %s SET %s WHERE %s", tg.ident, strings.Join(set, ", "), pred)
	tag, err := s.conn.Exec(ctx, sql, args...)
	if err != nil {
		return fmt.Errorf("update: %w", err)
	}
	if tag.RowsAffected() != 1 {
		return fmt.Errorf("update: %d target rows match the old row, want 1; the target has drifted from the source", tag.RowsAffected())
	}
	return nil
}

// keyPredicate matches the row with before's key.
func keyPredicate(tg *target, before change.Row) (string, []any) {
	var conds []string
	var args []any
	for _, k := range tg.key {
		conds = append(conds, tg.cols[k]+" = "+param(&args, before[k], tg.types[k]))
	}
	return strings.Join(conds, " AND "), args
}

// firstMatch matches the first row equal to before in every sent source
// column (keyless tables: duplicates are legal, and one change touches one
// row); with soft deletes, only live rows.
func firstMatch(tg *target, before change.Row) (string, []any) {
	var args []any
	conds, _ := sqlsink.RowConds(tg.cols, tg.nsrc, tg.softDel, before, func(i int, v change.Value) (string, error) {
		if noEquality(tg.types[i]) {
			return tg.cols[i] + "::text = " + param(&args, v, "text"), nil
		}
		return tg.cols[i] + " = " + param(&args, v, tg.types[i]), nil
	})
	if len(conds) == 0 {
		conds = append(conds, "true")
	}
	return fmt.Sprintf("ctid = (SELECT ctid FROM %s WHERE %s LIMIT 1)", tg.ident, strings.Join(conds, " AND ")), args
}

// noEquality lists types without an = operator; they are compared as text.
func noEquality(typ string) bool {
	switch strings.TrimSuffix(typ, "[]") {
	case "json", "xml", "point", "line", "lseg", "box", "path", "polygon", "circle":
		return true
	}
	return false
}

// param adds v to args as text and returns the placeholder cast to typ:
// every value travels in its text form and the target parses it.
func param(args *[]any, v change.Value, typ string) string {
	*args = append(*args, textArg(v))
	return fmt.Sprintf("CAST($%d::text AS %s)", len(*args), typ)
}

func textArg(v change.Value) any {
	if v.State != change.Present {
		return nil
	}
	return string(v.Data)
}

// pgCode is the SQLSTATE of a server error in err's chain, "" when none.
func pgCode(err error) string {
	var pg *pgconn.PgError
	if errors.As(err, &pg) {
		return pg.Code
	}
	return ""
}

func contains(xs []int, x int) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}
