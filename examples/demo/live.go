package main

import (
	"context"
	"fmt"
	"time"
)

// event is something the demo does at a point of a live phase.
type event struct {
	at  time.Duration // from the start of the phase
	run func(context.Context) error
}

// live runs the workload for dur, runs the events when they are due, and
// prints the row counts of both sides every second.
func (d *demo) live(ctx context.Context, dur time.Duration, events []event) error {
	stop := d.work.Start(ctx)
	defer stop()
	start := time.Now()
	lastTxns, lastTick := d.work.Txns(), start
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	next := time.Second
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
		elapsed := time.Since(start)
		for len(events) > 0 && events[0].at <= elapsed {
			if err := events[0].run(ctx); err != nil {
				return err
			}
			events = events[1:]
		}
		if !d.down && !d.sluice.Running() {
			return fmt.Errorf("sluice stopped on its own (%s)", d.sluice.State())
		}
		if elapsed >= next {
			next += time.Second
			txns, now := d.work.Txns(), time.Now()
			rate := float64(txns-lastTxns) / now.Sub(lastTick).Seconds()
			lastTxns, lastTick = txns, now
			if err := d.status(ctx, fmt.Sprintf("[%3ds]", int(elapsed.Round(time.Second)/time.Second)), fmt.Sprintf(" | %.0f txn/s", rate)); err != nil {
				return err
			}
		}
		if elapsed >= dur && len(events) == 0 {
			return nil
		}
	}
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
