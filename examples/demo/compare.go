package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// tables are the crm tables, in the source's public schema and the target's
// crm schema.
var tables = []string{"customers", "articles", "orders", "order_lines", "phone_numbers"}

const targetSchema = "crm"

// counts are row counts in the order of tables; -1 is a table that does not
// exist (yet).
type counts []int64

func (c counts) format(skip string) string {
	var b strings.Builder
	for i, t := range tables {
		if t == skip {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		if c == nil || c[i] < 0 {
			fmt.Fprintf(&b, "%s=-", t)
		} else {
			fmt.Fprintf(&b, "%s=%d", t, c[i])
		}
	}
	return b.String()
}

func (c counts) all() string { return c.format("") }

// short leaves out articles, whose count never changes (only prices do).
func (c counts) short() string { return c.format("articles") }

// countRows counts the rows of every table in schema; a missing table
// counts -1.
func countRows(ctx context.Context, dsn, schema string) (counts, error) {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.Background())
	c := make(counts, len(tables))
	for i, t := range tables {
		err := conn.QueryRow(ctx, "SELECT count(*) FROM "+pgx.Identifier{schema, t}.Sanitize()).Scan(&c[i])
		var pgErr *pgconn.PgError
		switch {
		case errors.As(err, &pgErr) && (pgErr.Code == "42P01" || pgErr.Code == "3F000"): // undefined table or schema
			c[i] = -1
		case err != nil:
			return nil, err
		}
	}
	return c, nil
}

// tableRows returns every row of a table as its text form, sorted: the
// row-by-row comparison is of these lists. The query is the one to run by
// hand: SELECT t::text FROM crm.orders t ORDER BY 1.
func tableRows(ctx context.Context, conn *pgx.Conn, schema, table string) ([]string, error) {
	rows, err := conn.Query(ctx, fmt.Sprintf("SELECT t::text FROM %s t ORDER BY 1", pgx.Identifier{schema, table}.Sanitize()))
	if err != nil {
		return nil, err
	}
	list, err := pgx.CollectRows(rows, pgx.RowTo[string])
	slices.Sort(list) // byte order, whatever the databases' collations
	return list, err
}

// connect opens a session whose text output does not depend on the
// server's settings (timestamptz in UTC).
func connect(ctx context.Context, dsn string) (*pgx.Conn, error) {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return nil, err
	}
	if _, err := conn.Exec(ctx, "SET TimeZone = 'UTC'; SET DateStyle = 'ISO, YMD'; SET extra_float_digits = 3"); err != nil {
		conn.Close(ctx)
		return nil, err
	}
	return conn, nil
}

// compare compares every table row by row and describes the differences
// (nil: equal). An error is a failure to read the source.
func (d *demo) compare(ctx context.Context) ([]string, error) {
	src, err := connect(ctx, d.src.DSN("crm"))
	if err != nil {
		return nil, fmt.Errorf("source: %w", err)
	}
	defer src.Close(context.Background())
	dst, err := connect(ctx, d.dst.DSN("dwh"))
	if err != nil {
		return nil, fmt.Errorf("target: %w", err)
	}
	defer dst.Close(context.Background())
	var diffs []string
	for _, t := range tables {
		s, err := tableRows(ctx, src, "public", t)
		if err != nil {
			return nil, fmt.Errorf("source table %s: %w", t, err)
		}
		g, err := tableRows(ctx, dst, targetSchema, t)
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			diffs = append(diffs, fmt.Sprintf("%s.%s: %v", targetSchema, t, err))
			continue
		}
		if diff := diffRows(s, g); diff != "" {
			diffs = append(diffs, t+": "+diff)
		}
	}
	return diffs, nil
}

// diffRows describes how two sorted row lists differ ("" when equal),
// quoting a few rows found on one side only.
func diffRows(src, dst []string) string {
	var onlySrc, onlyDst []string
	i, j := 0, 0
	for i < len(src) || j < len(dst) {
		switch {
		case j == len(dst) || i < len(src) && src[i] < dst[j]:
			onlySrc = append(onlySrc, src[i])
			i++
		case i == len(src) || dst[j] < src[i]:
			onlyDst = append(onlyDst, dst[j])
			j++
		default:
			i++
			j++
		}
	}
	if len(onlySrc) == 0 && len(onlyDst) == 0 {
		return ""
	}
	var b strings.Builder
	fmt.Fprintf(&b, "source has %d rows, target %d; %d rows only in the source, %d only in the target",
		len(src), len(dst), len(onlySrc), len(onlyDst))
	for _, r := range onlySrc[:min(3, len(onlySrc))] {
		fmt.Fprintf(&b, "\n      only in source: %s", r)
	}
	for _, r := range onlyDst[:min(3, len(onlyDst))] {
		fmt.Fprintf(&b, "\n      only in target: %s", r)
	}
	return b.String()
}
