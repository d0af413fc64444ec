package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/sluicecdc/sluice/examples/internal/crm"
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
	return crm.Rows(ctx, conn, fmt.Sprintf("SELECT t::text FROM %s t ORDER BY 1", pgx.Identifier{schema, table}.Sanitize()))
}

// compare compares every table row by row and describes the differences
// (nil: equal). An error is a failure to read the source.
func (d *demo) compare(ctx context.Context) ([]string, error) {
	src, err := crm.Connect(ctx, d.src.DSN("crm"))
	if err != nil {
		return nil, fmt.Errorf("source: %w", err)
	}
	defer src.Close(context.Background())
	dst, err := crm.Connect(ctx, d.dst.DSN("dwh"))
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
		if diff := crm.DiffRows(s, g); diff != "" {
			diffs = append(diffs, t+": "+diff)
		}
	}
	return diffs, nil
}
