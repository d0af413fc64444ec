package main

import (
	"context"
	"fmt"
	"time"

	"github.com/sluicecdc/sluice/examples/internal/crm"
)

// live runs the workload for dur, runs the events when they are due, and
// prints the row counts of both sides every second.
func (d *demo) live(ctx context.Context, dur time.Duration, events []crm.Event) error {
	return d.work.Live(ctx, dur, nil, events, func() error {
		if !d.down && !d.sluice.Running() {
			return fmt.Errorf("sluice stopped on its own (%s)", d.sluice.State())
		}
		return nil
	}, d.status)
}

// status prints one line with the row counts of both sides.
func (d *demo) status(ctx context.Context, label, suffix string) error {
	s, err := countRows(ctx, d.src.DSN("crm"), "public")
	if err != nil {
		return fmt.Errorf("count source rows: %w", err)
	}
	t, err := countRows(ctx, d.dst.DSN("dwh"), targetSchema)
	if err != nil {
		return fmt.Errorf("count target rows: %w", err)
	}
	if !d.sluice.Running() {
		suffix += " | sluice is down"
	}
	d.say("%s source: %s | target: %s%s", label, s.short(), t.short(), suffix)
	return nil
}

// waitEqual polls until every table of the target equals the source's row
// for row, printing the counts every second. It fails when sluice exits or
// after -timeout, printing the differences.
func (d *demo) waitEqual(ctx context.Context, phase string) error {
	start := time.Now()
	deadline := start.Add(d.opts.timeout)
	next := time.Second
	for {
		diffs, err := d.compare(ctx)
		if err != nil {
			return err
		}
		if len(diffs) == 0 {
			return nil
		}
		if !d.sluice.Running() {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("sluice stopped (%s) before the target caught up (%s); first difference: %s", d.sluice.State(), phase, diffs[0])
		}
		if time.Now().After(deadline) {
			d.say("%s: the target did not catch up within %s (-timeout)", phase, d.opts.timeout)
			return d.verdict(diffs)
		}
		if elapsed := time.Since(start); elapsed >= next {
			next += time.Second
			if err := d.status(ctx, "[catching up]", ""); err != nil {
				return err
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
}
