package verify

import (
	"context"
	"fmt"
	"time"

	"github.com/sluicecdc/sluice/pkg/change"
)

// snapshot opens a consistent snapshot on the source and returns the log
// position it corresponds to.
//
// MariaDB/MySQL: START TRANSACTION WITH CONSISTENT SNAPSHOT and the
// server's binlog_snapshot_file/position, the exact binlog position of the
// snapshot (MariaDB; MySQL reports the current position, an upper bound).
//
// PostgreSQL: the snapshot of a REPEATABLE READ transaction is taken by its
// first statement, SELECT pg_current_wal_lsn(), which reads the WAL end
// after the snapshot is taken: every transaction the snapshot sees has its
// commit record below it, so once the target has applied up to it, the
// target holds at least what the snapshot saw. It is an upper bound, not
// exact: transactions committing at that moment may lie below it and not
// be seen. That is why a difference is never reported from one reading:
// a chunk that differs is read again after the target passed the position,
// and a key only counts when it differs in Rechecks such readings.
func (v *Verifier) snapshot(ctx context.Context) (tx, change.Position, error) {
	t, err := v.src.begin(ctx, true)
	if err != nil {
		return nil, nil, fmt.Errorf("open source snapshot: %w", err)
	}
	var text string
	switch v.src.kind() {
	case "postgres":
		rows, err := t.query(ctx, "SELECT pg_current_wal_lsn()::text")
		if err != nil {
			t.rollback()
			return nil, nil, fmt.Errorf("read source position: %w", err)
		}
		text = one(rows)
	case "mysql":
		rows, err := t.query(ctx, "SHOW STATUS LIKE 'binlog_snapshot_%'")
		if err != nil {
			t.rollback()
			return nil, nil, fmt.Errorf("read source position: %w", err)
		}
		var file, pos string
		for _, r := range rows {
			switch deref(r[0]) {
			case "Binlog_snapshot_file", "binlog_snapshot_file":
				file = deref(r[1])
			case "Binlog_snapshot_position", "binlog_snapshot_position":
				pos = deref(r[1])
			}
		}
		if file == "" {
			t.rollback()
			return nil, nil, fmt.Errorf("read source position: the server reports no binlog_snapshot_file (is log_bin on?)")
		}
		text = "file=" + file + ";pos=" + pos
	}
	p, err := v.opts.ParsePosition(text)
	if err != nil {
		t.rollback()
		return nil, nil, err
	}
	return t, p, nil
}

// applied reads the position the target holds for the pipeline (nil when
// none).
func (v *Verifier) applied(ctx context.Context) (change.Position, error) {
	t, err := v.dst.begin(ctx, false)
	if err != nil {
		return nil, err
	}
	defer t.rollback()
	return v.readApplied(ctx, t)
}

// readApplied reads the target's position in transaction t.
func (v *Verifier) readApplied(ctx context.Context, t tx) (change.Position, error) {
	table := v.dst.ident("sluice") + "." + v.dst.ident("positions")
	rows, err := t.query(ctx, "SELECT position FROM "+table+" WHERE pipeline = "+v.dst.lit(v.opts.Pipeline))
	if err != nil {
		return nil, fmt.Errorf("read the target's applied position: %w", err)
	}
	if len(rows) == 0 {
		return nil, nil
	}
	return v.opts.ParsePosition(one(rows))
}

// confirmed reads the PostgreSQL slot's confirmed position (nil when there
// is none to read).
func (v *Verifier) confirmed(ctx context.Context) (change.Position, error) {
	if v.src.kind() != "postgres" || v.opts.Slot == "" {
		return nil, nil
	}
	t, err := v.src.begin(ctx, false)
	if err != nil {
		return nil, err
	}
	defer t.rollback()
	rows, err := t.query(ctx, "SELECT confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = "+v.src.lit(v.opts.Slot))
	if err != nil || one(rows) == "" {
		return nil, err
	}
	return v.opts.ParsePosition(one(rows))
}

// waitFor waits until the target has applied everything up to pos (the
// target's position covers it, or the pipeline confirmed it to the
// source: it confirms only what is durable in the target). It gives up
// after Options.Wait and says so (false); the caller compares anyway.
func (v *Verifier) waitFor(ctx context.Context, pos change.Position) (bool, error) {
	deadline := time.Now().Add(v.opts.Wait)
	for {
		a, err := v.applied(ctx)
		if err != nil {
			return false, err
		}
		if a != nil && pos.Compare(a) <= 0 {
			return true, nil
		}
		c, err := v.confirmed(ctx)
		if err != nil {
			return false, err
		}
		if c != nil && pos.Compare(c) <= 0 {
			return true, nil
		}
		if time.Now().After(deadline) {
			return false, nil
		}
		select {
		case <-ctx.Done():
			return false, ctx.Err()
		case <-time.After(10 * time.Millisecond): // the shorter the wait, the fewer rows change meanwhile
		}
	}
}
