package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/sluicecdc/sluice/examples/internal/crm"
)

// live runs the workload (with the example's extra operations) for dur,
// runs the events when they are due, and prints the row counts of both
// sides every second.
func (w *warehouse) live(ctx context.Context, dur time.Duration, events []crm.Event) error {
	return w.work.Live(ctx, dur, w.extra.ops(), events, w.pipelinesRunning, w.status)
}

// pipelinesRunning fails when a started pipeline stopped that should run.
func (w *warehouse) pipelinesRunning() error {
	for _, p := range []*pipeline{w.history, w.mart} {
		if p.proc != nil && !p.down && !p.proc.Running() {
			return fmt.Errorf("the %s pipeline stopped on its own (%s)", p.label, p.proc.State())
		}
	}
	return nil
}

// status prints one line with row counts of the source and the warehouse.
func (w *warehouse) status(ctx context.Context, label, suffix string) error {
	src, err := counts(ctx, w.src.DSN("crm"), []string{
		"SELECT count(*) FROM customers",
		"SELECT count(*) FROM orders",
		"SELECT count(*) FROM orders WHERE status IN ('paid', 'shipped')",
	})
	if err != nil {
		return fmt.Errorf("count source rows: %w", err)
	}
	dst, err := counts(ctx, w.dst.DSN("dwh"), []string{
		"SELECT count(*) FROM dwh.customers",
		"SELECT count(*) FROM dwh.customers WHERE _current",
		"SELECT count(*) FROM dwh.articles",
		"SELECT count(*) FROM mart.orders",
	})
	if err != nil {
		return fmt.Errorf("count warehouse rows: %w", err)
	}
	for _, p := range []*pipeline{w.history, w.mart} {
		if p.proc == nil || !p.proc.Running() {
			suffix += fmt.Sprintf(" | the %s pipeline is down", p.label)
		}
	}
	w.say("%s source: customers=%s orders=%s (paid or shipped %s) | dwh.customers: %s versions, %s current; dwh.articles: %s versions | mart.orders=%s%s",
		label, src[0], src[1], src[2], dst[0], dst[1], dst[2], dst[3], suffix)
	return nil
}

// counts runs count queries; a table that does not exist yet counts "-".
func counts(ctx context.Context, dsn string, queries []string) ([]string, error) {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.Background())
	out := make([]string, len(queries))
	for i, q := range queries {
		var n int64
		err := conn.QueryRow(ctx, q).Scan(&n)
		var pgErr *pgconn.PgError
		switch {
		case errors.As(err, &pgErr) && (pgErr.Code == "42P01" || pgErr.Code == "3F000" || pgErr.Code == "42703"):
			out[i] = "-" // undefined table, schema or column (not created yet)
		case err != nil:
			return nil, err
		default:
			out[i] = fmt.Sprint(n)
		}
	}
	return out, nil
}

// waitVerified polls until the warehouse verifies, printing the counts
// every second. It fails when a pipeline exits or after -timeout, printing
// what is wrong.
func (w *warehouse) waitVerified(ctx context.Context, phase string) (*report, error) {
	start := time.Now()
	deadline := start.Add(w.opts.timeout)
	next := time.Second
	for {
		r, err := w.verify(ctx)
		if err != nil {
			return nil, err
		}
		if len(r.problems) == 0 {
			return r, nil
		}
		if err := w.pipelinesRunning(); err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return nil, fmt.Errorf("%w before the warehouse caught up (%s); first problem: %s", err, phase, r.problems[0])
		}
		if time.Now().After(deadline) {
			w.say("%s: the warehouse did not catch up within %s (-timeout)", phase, w.opts.timeout)
			return nil, w.verdict(r)
		}
		if elapsed := time.Since(start); elapsed >= next {
			next += time.Second
			if err := w.status(ctx, "[catching up]", ""); err != nil {
				return nil, err
			}
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
}
