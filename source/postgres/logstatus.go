package postgres

import (
	"context"
	"fmt"

	"github.com/sluicecdc/sluice/pkg/change"
	"github.com/sluicecdc/sluice/pkg/pipeline"
)

var _ pipeline.LogReporter = (*Source)(nil)

// LogStatus compares the server's current WAL position with the applied
// position and the slot's. It opens a short-lived connection of its own
// (never the replication connection, nor the catalog connection the stream
// uses), so it is safe to call while streaming, and works without Start.
func (s *Source) LogStatus(ctx context.Context, applied change.Position) (pipeline.LogStatus, error) {
	ls := pipeline.LogStatus{BehindBytes: -1, RetainedBytes: -1}
	conn, err := s.connect(ctx)
	if err != nil {
		return ls, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var (
		head                         string
		active                       *bool
		confirmed, restart, walState *string
	)
	// On a standby (logical decoding from a standby, PostgreSQL 16+) the
	// log's end is what it replayed.
	err = conn.QueryRow(ctx, `SELECT (CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() ELSE pg_current_wal_lsn() END)::text,
			s.active, s.confirmed_flush_lsn::text, s.restart_lsn::text, s.wal_status
		FROM (SELECT 1) one LEFT JOIN pg_replication_slots s ON s.slot_name = $1`, s.opts.Slot).
		Scan(&head, &active, &confirmed, &restart, &walState)
	if err != nil {
		return ls, fmt.Errorf("read the source's WAL position: %w", err)
	}
	cur, err := ParseLSN(head)
	if err != nil {
		return ls, err
	}
	ls.Head = head
	if active == nil { // no such slot
		ls.SlotStatus, ls.Reading = "missing", pipeline.ReadingIdle
	} else {
		ls.Reading = pipeline.ReadingIdle
		if *active {
			ls.Reading = pipeline.ReadingActive
		}
		if walState != nil {
			ls.SlotStatus = *walState
		}
	}
	var base LSN
	if l, ok := applied.(LSN); ok {
		base = l
	}
	if confirmed != nil {
		ls.Confirmed = *confirmed
		// An idle slot follows the WAL end from keepalives; the applied
		// position does not move then.
		if c, err := ParseLSN(*confirmed); err == nil && c > base {
			base = c
		}
	}
	if base != 0 {
		ls.BehindBytes = int64(max(cur, base) - base)
	}
	if restart != nil {
		ls.Restart = *restart
		if r, err := ParseLSN(*restart); err == nil {
			ls.RetainedBytes = int64(max(cur, r) - r)
		}
	}
	return ls, nil
}
