package main

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/sluicecdc/sluice/examples/internal/crm"
)

// sourceCode is sink.metadata.source_code.value in both configs.
const sourceCode = "crm"

// dim is a table the history pipeline keeps every version of:
// public.<table> into dwh.<table>, keyed by id.
type dim struct {
	table string
	noun  string   // one row, in messages
	cols  []string // the source's columns
}

var dims = []dim{
	{"customers", "customer", []string{"id", "name", "email", "country", "birth_date", "updated_at"}},
	{"articles", "article", []string{"id", "name", "price"}},
}

// martTable is a table the merge pipeline writes, and the query on the
// source that says what it must hold.
type martTable struct {
	name   string   // in schema mart
	source string   // SQL on the source: the expected rows as text
	target string   // SQL on the target: the rows as text
	cols   []string // the target table's columns, in order
}

var martTables = []martTable{
	{"orders",
		"SELECT ROW(id, customer_id, ordered_at, status)::text FROM orders WHERE status IN ('paid', 'shipped')",
		"SELECT ROW(id, customer_id, ordered_at, status)::text FROM mart.orders",
		[]string{"id", "customer_id", "ordered_at", "status", "_source"}},
	{"order_lines",
		"SELECT ROW(order_id, line_no, article_id, qty)::text FROM order_lines",
		"SELECT ROW(order_id, line_no, article_id, qty)::text FROM mart.order_lines",
		[]string{"order_id", "line_no", "article_id", "qty", "_source"}},
	{"customer_mobiles",
		"SELECT ROW(customer_id, kind, number)::text FROM phone_numbers WHERE kind = 'mobile'",
		"SELECT ROW(customer_id, kind, mobile)::text FROM mart.customer_mobiles",
		[]string{"customer_id", "kind", "mobile", "_source"}},
}

// report is the result of one verification: what is wrong (nothing when
// problems is empty) and what the warehouse holds.
type report struct {
	problems []string
	dims     []dimStats
	mart     map[string]int // rows per mart table
	orders   int            // orders in the source
}

type dimStats struct {
	dim
	versions, keys, current int
	ops                     map[string]int // versions per _op
	most                    int64          // the key with the most versions
	deleted                 int64          // a key whose last version is a delete (0: none)
}

func (r *report) addf(format string, args ...any) {
	r.problems = append(r.problems, fmt.Sprintf(format, args...))
}

// brief is one line about what the warehouse holds.
func (r *report) brief() string {
	var parts []string
	for _, s := range r.dims {
		ops := make([]string, 0, len(s.ops))
		for _, op := range []string{"snapshot", "insert", "update", "delete"} {
			if n := s.ops[op]; n > 0 {
				ops = append(ops, fmt.Sprintf("%d %s", n, op))
			}
		}
		parts = append(parts, fmt.Sprintf("dwh.%s %d versions (%s) of %d %ss, %d current",
			s.table, s.versions, strings.Join(ops, ", "), s.keys, s.noun, s.current))
	}
	parts = append(parts, fmt.Sprintf("mart.orders %d of %d orders, mart.order_lines %d, mart.customer_mobiles %d",
		r.mart["orders"], r.orders, r.mart["order_lines"], r.mart["customer_mobiles"]))
	return strings.Join(parts, "; ")
}

// verify compares the warehouse with what the source says it must hold.
// An error is a failure to read the source or reach the target; what the
// target lacks or holds wrongly is in the report's problems.
func (w *warehouse) verify(ctx context.Context) (*report, error) {
	src, err := crm.Connect(ctx, w.src.DSN("crm"))
	if err != nil {
		return nil, fmt.Errorf("source: %w", err)
	}
	defer src.Close(context.Background())
	dst, err := crm.Connect(ctx, w.dst.DSN("dwh"))
	if err != nil {
		return nil, fmt.Errorf("target: %w", err)
	}
	defer dst.Close(context.Background())

	r := &report{mart: map[string]int{}}
	for _, schema := range []struct {
		name   string
		tables []string
	}{{"dwh", []string{"articles", "customers"}}, {"mart", []string{"customer_mobiles", "order_lines", "orders"}}} {
		got, err := crm.Rows(ctx, dst, "SELECT table_name::text FROM information_schema.tables WHERE table_schema = $1", schema.name)
		if err != nil {
			return nil, fmt.Errorf("target: %w", err)
		}
		if !slices.Equal(got, schema.tables) {
			r.addf("schema %s holds tables %v, want %v", schema.name, got, schema.tables)
		}
	}
	for _, d := range dims {
		if err := verifyDim(ctx, src, dst, d, r); err != nil {
			return nil, err
		}
	}
	for _, t := range martTables {
		if err := verifyMart(ctx, src, dst, t, r); err != nil {
			return nil, err
		}
	}
	if err := src.QueryRow(ctx, "SELECT count(*) FROM orders").Scan(&r.orders); err != nil {
		return nil, fmt.Errorf("source: %w", err)
	}
	return r, nil
}

// targetProblem tells a query the target refused (a table or column not
// there yet) from a failure to talk to it.
func targetProblem(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr)
}

// version is one row of a history table, or one expected version.
type version struct {
	op        string
	row       string // the source columns as a row's text
	validFrom time.Time
	validTo   *time.Time
	current   bool
}

func rowExpr(prefix string, cols []string) string {
	parts := make([]string, len(cols))
	for i, c := range cols {
		parts[i] = prefix + c
	}
	return "ROW(" + strings.Join(parts, ", ") + ")::text"
}

// verifyDim checks one history table.
func verifyDim(ctx context.Context, src, dst *pgx.Conn, d dim, r *report) error {
	target := "dwh." + d.table
	row := rowExpr("", d.cols)

	// The current versions equal the source rows.
	want, err := crm.Rows(ctx, src, "SELECT "+row+" FROM "+d.table)
	if err != nil {
		return fmt.Errorf("source %s: %w", d.table, err)
	}
	got, err := crm.Rows(ctx, dst, "SELECT "+row+" FROM "+target+" WHERE _current")
	if targetProblem(err) {
		r.addf("%s: %v", target, err)
		return nil
	} else if err != nil {
		return fmt.Errorf("target: %w", err)
	}
	if diff := crm.DiffRows(want, got); diff != "" {
		r.addf("%s current versions (WHERE _current) against the source's %s: %s", target, d.table, diff)
	}

	// Every row carries the source code; no source transaction's change is
	// there twice.
	var noCode, doubled int
	err = dst.QueryRow(ctx, "SELECT count(*) FILTER (WHERE _source IS DISTINCT FROM $1) FROM "+target, sourceCode).Scan(&noCode)
	if err == nil {
		err = dst.QueryRow(ctx, `SELECT count(*) FROM (SELECT 1 FROM `+target+` WHERE _source_position IS NOT NULL
			GROUP BY _source_position, _change_index HAVING count(*) > 1) x`).Scan(&doubled)
	}
	if targetProblem(err) {
		r.addf("%s: %v", target, err)
		return nil
	} else if err != nil {
		return fmt.Errorf("target: %w", err)
	}
	if noCode > 0 {
		r.addf("%s: %d rows lack _source = '%s'", target, noCode, sourceCode)
	}
	if doubled > 0 {
		r.addf("%s: %d source changes (_source_position, _change_index) have more than one version: duplicates", target, doubled)
	}

	// All versions, per key in write order.
	actual := map[int64][]version{}
	rows, err := dst.Query(ctx, "SELECT id, _op, "+row+", _valid_from, _valid_to, _current FROM "+target+" ORDER BY _seq")
	if targetProblem(err) {
		r.addf("%s: %v", target, err)
		return nil
	} else if err != nil {
		return fmt.Errorf("target: %w", err)
	}
	var nullKeys, total int
	for rows.Next() {
		var id *int64
		var op *string
		var v version
		var from *time.Time
		var cur *bool
		if err := rows.Scan(&id, &op, &v.row, &from, &v.validTo, &cur); err != nil {
			rows.Close()
			return fmt.Errorf("target %s: %w", target, err)
		}
		total++
		if id == nil || op == nil || from == nil || cur == nil {
			nullKeys++
			continue
		}
		v.op, v.validFrom, v.current = *op, *from, *cur
		actual[*id] = append(actual[*id], v)
	}
	if err := rows.Err(); err != nil {
		if targetProblem(err) {
			r.addf("%s: %v", target, err)
			return nil
		}
		return fmt.Errorf("target %s: %w", target, err)
	}
	if nullKeys > 0 {
		r.addf("%s: %d versions without id, _op, _valid_from or _current", target, nullKeys)
	}

	expected, err := expectedVersions(ctx, src, d)
	if err != nil {
		return err
	}
	st := dimStats{dim: d, versions: total, keys: len(actual), ops: map[string]int{}}
	var wrong, unchained []string
	mostN := 0
	for _, id := range slices.Sorted(maps.Keys(actual)) {
		vs := actual[id]
		for _, v := range vs {
			st.ops[v.op]++
			if v.current {
				st.current++
			}
		}
		if len(vs) > mostN {
			mostN, st.most = len(vs), id
		}
		if vs[len(vs)-1].op == "delete" && st.deleted == 0 {
			st.deleted = id
		}
		if msg := chainProblem(vs); msg != "" {
			unchained = append(unchained, fmt.Sprintf("%s %d: %s", d.noun, id, msg))
		}
	}
	for _, id := range slices.Sorted(maps.Keys(expected)) {
		if msg := versionsDiffer(expected[id], actual[id]); msg != "" {
			wrong = append(wrong, fmt.Sprintf("%s %d: %s", d.noun, id, msg))
		}
	}
	for _, id := range slices.Sorted(maps.Keys(actual)) {
		if _, ok := expected[id]; !ok {
			wrong = append(wrong, fmt.Sprintf("%s %d: %d versions, but the source never had this key", d.noun, id, len(actual[id])))
		}
	}
	if len(wrong) > 0 {
		r.addf("%s: the versions of %d %ss are not the snapshot row followed by one version per source change, e.g. %s",
			target, len(wrong), d.noun, strings.Join(wrong[:min(3, len(wrong))], "; "))
	}
	if len(unchained) > 0 {
		r.addf("%s: the versions of %d %ss do not chain (each _valid_to the next _valid_from, only the last current), e.g. %s",
			target, len(unchained), d.noun, strings.Join(unchained[:min(3, len(unchained))], "; "))
	}
	r.dims = append(r.dims, st)
	return nil
}

// expectedVersions computes each key's versions from the source alone: the
// row the snapshot copied, then one version per recorded change (an update
// that changes the key adds the version to the new key; the old key's
// versions end).
func expectedVersions(ctx context.Context, src *pgx.Conn, d dim) (map[int64][]version, error) {
	out := map[int64][]version{}
	rows, err := src.Query(ctx, "SELECT id, "+rowExpr("", d.cols)+" FROM audit."+d.table+"_start")
	if err != nil {
		return nil, fmt.Errorf("source audit.%s_start: %w", d.table, err)
	}
	var id int64
	var row string
	_, err = pgx.ForEachRow(rows, []any{&id, &row}, func() error {
		out[id] = append(out[id], version{op: "snapshot", row: row})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("source audit.%s_start: %w", d.table, err)
	}
	rows, err = src.Query(ctx, "SELECT op, old_id, (r).id, "+rowExpr("(r).", d.cols)+" FROM audit."+d.table+"_log ORDER BY seq")
	if err != nil {
		return nil, fmt.Errorf("source audit.%s_log: %w", d.table, err)
	}
	var op string
	var oldID *int64
	_, err = pgx.ForEachRow(rows, []any{&op, &oldID, &id, &row}, func() error {
		if op == "delete" && oldID != nil {
			id = *oldID
		}
		out[id] = append(out[id], version{op: op, row: row})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("source audit.%s_log: %w", d.table, err)
	}
	return out, nil
}

// versionsDiffer describes how a key's versions differ from the expected
// ones ("" when they are the same operations with the same values, in
// order).
func versionsDiffer(want, got []version) string {
	for i := range max(len(want), len(got)) {
		switch {
		case i >= len(got):
			return fmt.Sprintf("%d versions, want %d: missing %s %s", len(got), len(want), want[i].op, want[i].row)
		case i >= len(want):
			return fmt.Sprintf("%d versions, want %d: extra %s %s", len(got), len(want), got[i].op, got[i].row)
		case want[i].op != got[i].op || want[i].row != got[i].row:
			return fmt.Sprintf("version %d is %s %s, want %s %s", i+1, got[i].op, got[i].row, want[i].op, want[i].row)
		}
	}
	return ""
}

// chainProblem checks one key's versions in write order: each ends where
// the next begins, only the last may be current (exactly when it has no
// _valid_to), and a delete's version is closed at its own time.
func chainProblem(vs []version) string {
	for i, v := range vs {
		last := i == len(vs)-1
		switch {
		case v.validTo != nil && v.validTo.Before(v.validFrom):
			return fmt.Sprintf("version %d ends (%s) before it begins (%s)", i+1, stamp(v.validTo), stamp(&v.validFrom))
		case !last && v.validTo == nil:
			return fmt.Sprintf("version %d of %d has no _valid_to", i+1, len(vs))
		case !last && !v.validTo.Equal(vs[i+1].validFrom):
			return fmt.Sprintf("version %d ends at %s but version %d begins at %s", i+1, stamp(v.validTo), i+2, stamp(&vs[i+1].validFrom))
		case v.current != (v.validTo == nil):
			return fmt.Sprintf("version %d has _current %t and _valid_to %s", i+1, v.current, stamp(v.validTo))
		case v.op == "delete" && (v.validTo == nil || !v.validTo.Equal(v.validFrom)):
			return fmt.Sprintf("version %d (delete) is not closed at its own time: %s to %s", i+1, stamp(&v.validFrom), stamp(v.validTo))
		}
	}
	return ""
}

func stamp(t *time.Time) string {
	if t == nil {
		return "NULL"
	}
	return t.UTC().Format("15:04:05.000000")
}

// verifyMart checks one table of the merge pipeline.
func verifyMart(ctx context.Context, src, dst *pgx.Conn, t martTable, r *report) error {
	target := "mart." + t.name
	want, err := crm.Rows(ctx, src, t.source)
	if err != nil {
		return fmt.Errorf("source (%s): %w", t.source, err)
	}
	cols, err := crm.Rows(ctx, dst, `SELECT format('%s:%s', to_char(ordinal_position, 'FM000'), column_name)
		FROM information_schema.columns WHERE table_schema = 'mart' AND table_name = $1`, t.name)
	if err != nil {
		return fmt.Errorf("target: %w", err)
	}
	for i, c := range cols {
		_, cols[i], _ = strings.Cut(c, ":")
	}
	if !slices.Equal(cols, t.cols) {
		r.addf("%s has columns %v, want %v", target, cols, t.cols)
		return nil
	}
	got, err := crm.Rows(ctx, dst, t.target)
	if targetProblem(err) {
		r.addf("%s: %v", target, err)
		return nil
	} else if err != nil {
		return fmt.Errorf("target: %w", err)
	}
	r.mart[t.name] = len(got)
	if diff := crm.DiffRows(want, got); diff != "" {
		r.addf("%s against the source (%s): %s", target, t.source, diff)
	}
	var noCode int
	if err := dst.QueryRow(ctx, "SELECT count(*) FROM "+target+" WHERE _source IS DISTINCT FROM $1", sourceCode).Scan(&noCode); err != nil {
		if targetProblem(err) {
			r.addf("%s: %v", target, err)
			return nil
		}
		return fmt.Errorf("target: %w", err)
	}
	if noCode > 0 {
		r.addf("%s: %d rows lack _source = '%s'", target, noCode, sourceCode)
	}
	return nil
}

// summary prints a few versions of the customer with the most versions and
// of a deleted customer: what a history table looks like.
func (w *warehouse) summary(ctx context.Context, r *report) error {
	dst, err := crm.Connect(ctx, w.dst.DSN("dwh"))
	if err != nil {
		return fmt.Errorf("target: %w", err)
	}
	defer dst.Close(context.Background())
	for _, s := range r.dims {
		if s.table != "customers" {
			continue
		}
		for _, c := range []struct {
			what string
			id   int64
		}{{"the customer with the most versions", s.most}, {"a deleted customer", s.deleted}} {
			if c.id == 0 {
				continue
			}
			const q = `SELECT _seq, _op, to_char(_valid_from, 'HH24:MI:SS.US'), coalesce(to_char(_valid_to, 'HH24:MI:SS.US'), '-'),
				_current, coalesce(email, '-'), coalesce(country, '-'), _source
				FROM dwh.customers WHERE id = $1 ORDER BY _seq`
			rows, err := dst.Query(ctx, q, c.id)
			if err != nil {
				return fmt.Errorf("target: %w", err)
			}
			w.say("%s, %d: SELECT _seq, _op, _valid_from, _valid_to, _current, email, country, _source FROM dwh.customers WHERE id = %d ORDER BY _seq", c.what, c.id, c.id)
			w.say("    %6s  %-8s  %-15s  %-15s  %-8s  %-36s  %-7s  %s", "_seq", "_op", "_valid_from", "_valid_to", "_current", "email", "country", "_source")
			var seq int64
			var op, from, to, email, country, code string
			var cur bool
			_, err = pgx.ForEachRow(rows, []any{&seq, &op, &from, &to, &cur, &email, &country, &code}, func() error {
				w.say("    %6d  %-8s  %-15s  %-15s  %-8t  %-36s  %-7s  %s", seq, op, from, to, cur, email, country, code)
				return nil
			})
			if err != nil {
				return fmt.Errorf("target: %w", err)
			}
		}
	}
	w.say("mart.orders holds the %d paid or shipped orders of %d (%s); mart.customer_mobiles %d mobile numbers",
		r.mart["orders"], r.orders, w.extra.summary(), r.mart["customer_mobiles"])
	return nil
}
