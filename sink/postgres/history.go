package postgres

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/sluicecdc/sluice/pkg/change"
	"github.com/sluicecdc/sluice/sink/mode"
	"github.com/sluicecdc/sluice/sink/sqlsink"
)

func (w tableWriter) Held(ctx context.Context, positions []string) (map[string]bool, error) {
	// Found through the unique key: on the position's hash, or on the
	// position itself in an old table.
	pos := pgx.Identifier{mode.Position}.Sanitize()
	where := fmt.Sprintf("%s IN (SELECT %s FROM unnest($1::text[]) p)", pgx.Identifier{positionHash}.Sanitize(), positionHashExpr("p"))
	if w.tg.oldPositions {
		where = pos + " = ANY($1::text[])"
	}
	rows, err := w.s.conn.Query(ctx, fmt.Sprintf("SELECT DISTINCT %s FROM %s WHERE %s", pos, w.tg.ident, where), positions)
	if err != nil {
		return nil, err
	}
	held, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, err
	}
	set := map[string]bool{}
	for _, p := range held {
		set[p] = true
	}
	return set, nil
}

func (w tableWriter) Insert(ctx context.Context, rows []change.Row) error {
	return w.s.insertRows(ctx, w.tg, rows)
}

func (w tableWriter) Current(ctx context.Context, keys []change.Row) (map[string]change.Row, error) {
	return w.s.currentVersions(ctx, w.tg, keys)
}

func (w tableWriter) EndAll(ctx context.Context, at change.Value) error {
	tg := w.tg
	var args []any
	sql := fmt.Sprintf("UPDATE %s SET %s = %s, %s = false%s WHERE %s", tg.ident, pgx.Identifier{mode.ValidTo}.Sanitize(),
		param(&args, at, "timestamptz"), pgx.Identifier{mode.Current}.Sanitize(), setTail(tg), pgx.Identifier{mode.Current}.Sanitize())
	_, err := w.s.conn.Exec(ctx, sql, args...)
	return err
}

func (w tableWriter) End(ctx context.Context, closes []mode.Close) error {
	for len(closes) > 0 {
		n := min(len(closes), 1000)
		if err := w.s.closeVersions(ctx, w.tg, closes[:n]); err != nil {
			return err
		}
		closes = closes[n:]
	}
	return nil
}

// insertRows inserts rows, skipping any the target holds already.
func (s *Sink) insertRows(ctx context.Context, tg *target, rows []change.Row) error {
	if len(rows) == 0 {
		return nil
	}
	if len(rows) <= smallSet {
		return s.upsertValues(ctx, tg, rows)
	}
	return s.insertFast(ctx, tg, rows)
}

// closeVersions ends the current versions of the given keys, each at its
// time, with one statement.
func (s *Sink) closeVersions(ctx context.Context, tg *target, closes []mode.Close) error {
	var b strings.Builder
	var args []any
	b.WriteString("UPDATE " + tg.ident + " t SET ")
	fmt.Fprintf(&b, "%s = v.at_, %s = false%s FROM (VALUES ", pgx.Identifier{mode.ValidTo}.Sanitize(), pgx.Identifier{mode.Current}.Sanitize(), setTail(tg))
	for i, c := range closes {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteByte('(')
		for _, k := range tg.key {
			b.WriteString(param(&args, c.Key[k], tg.types[k]) + ", ")
		}
		b.WriteString(param(&args, c.At, "timestamptz") + ")")
	}
	b.WriteString(") AS v(")
	var on []string
	for i, k := range tg.key {
		fmt.Fprintf(&b, "k%d_, ", i)
		on = append(on, fmt.Sprintf("t.%s = v.k%d_", tg.cols[k], i))
	}
	fmt.Fprintf(&b, "at_) WHERE %s AND t.%s", strings.Join(on, " AND "), pgx.Identifier{mode.Current}.Sanitize())
	_, err := s.conn.Exec(ctx, b.String(), args...)
	return err
}

// currentVersions reads the current versions of the given keys, as rows of
// the source's columns in PostgreSQL's text form, by mode.Shape.KeyString.
func (s *Sink) currentVersions(ctx context.Context, tg *target, keys []change.Row) (map[string]change.Row, error) {
	out := map[string]change.Row{}
	cols := make([]string, tg.nsrc)
	for i := range cols {
		cols[i] = tg.cols[i] + "::text"
	}
	for len(keys) > 0 {
		n := min(len(keys), 1000)
		var args []any
		var tuples []string
		for _, key := range keys[:n] {
			var vals []string
			for _, k := range tg.key {
				vals = append(vals, param(&args, key[k], tg.types[k]))
			}
			tuples = append(tuples, "("+strings.Join(vals, ", ")+")")
		}
		sql := fmt.Sprintf("SELECT %s FROM %s WHERE %s AND (%s) IN (%s)", strings.Join(cols, ", "), tg.ident,
			pgx.Identifier{mode.Current}.Sanitize(), strings.Join(sqlsink.Pick(tg.cols, tg.key), ", "), strings.Join(tuples, ", "))
		rows, err := s.conn.Query(ctx, sql, args...)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			raw := rows.RawValues() // text: the same bytes in either wire format
			r := make(change.Row, len(raw))
			for i, v := range raw {
				if v == nil {
					r[i] = change.NullValue
				} else {
					r[i] = change.Value{State: change.Present, Data: append([]byte{}, v...)}
				}
			}
			out[tg.sh.KeyString(r)] = r
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
		keys = keys[n:]
	}
	return out, nil
}

// setTail is tg.set as the tail of a SET list.
func setTail(tg *target) string {
	if tg.set == "" {
		return ""
	}
	return ", " + tg.set
}
