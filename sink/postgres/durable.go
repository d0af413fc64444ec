package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/sluicecdc/sluice/pkg/change"
	"github.com/sluicecdc/sluice/pkg/pipeline"
)

var _ pipeline.Durability = (*Sink)(nil)

// walPositions reads where the target's WAL ends (covering our commit) and
// how far it is flushed to disk.
const walPositions = "SELECT pg_current_wal_insert_lsn()::text, pg_current_wal_flush_lsn()::text"

// walRecheck is how old a reading of the flushed position may be before
// Durable asks the target again.
const walRecheck = 50 * time.Millisecond

// commitMark pairs a target commit's WAL end with the source position it
// made durable once flushed.
type commitMark struct {
	wal pglogrepl.LSN
	pos change.Position
}

func (s *Sink) noteCommit(r *pgconn.Result, pos change.Position) error {
	insert, flushed, err := parseWAL(r)
	if err != nil {
		return err
	}
	s.unflushed = append(s.unflushed, commitMark{wal: insert, pos: pos})
	s.advance(flushed)
	s.walChecked = time.Now()
	return nil
}

// advance makes durable every commit whose WAL is flushed.
func (s *Sink) advance(flushed pglogrepl.LSN) {
	n := 0
	for n < len(s.unflushed) && s.unflushed[n].wal <= flushed {
		s.durable = s.unflushed[n].pos
		n++
	}
	s.unflushed = s.unflushed[n:]
}

// Durable returns the newest source position whose changes are on the
// target's disk (nil if none yet). With wait, it makes everything committed
// durable first.
func (s *Sink) Durable(ctx context.Context, wait bool) (change.Position, error) {
	if len(s.unflushed) == 0 {
		return s.durable, nil
	}
	if wait {
		if err := s.barrier(ctx); err != nil {
			return s.durable, err
		}
		s.durable, s.unflushed = s.unflushed[len(s.unflushed)-1].pos, nil
		return s.durable, nil
	}
	// Every commit reads the flushed position too: right after one, asking
	// again would only cost a round trip.
	if time.Since(s.walChecked) < walRecheck {
		return s.durable, nil
	}
	res, err := s.conn.PgConn().Exec(ctx, walPositions).ReadAll()
	if err != nil {
		return s.durable, s.core.Fail(fmt.Errorf("read the target's flushed WAL position: %w", err))
	}
	_, flushed, err := parseWAL(res[0])
	if err != nil {
		return s.durable, err
	}
	s.advance(flushed)
	s.walChecked = time.Now()
	return s.durable, nil
}

// barrier commits a transaction synchronously: its commit record is flushed,
// and with it all the WAL before it, so every earlier commit is on disk when
// it returns. It must write something (a commit that wrote no WAL is not
// flushed): it touches this pipeline's positions row, which exists whenever
// there is a position to make durable.
func (s *Sink) barrier(ctx context.Context) error {
	sql := "BEGIN; SET LOCAL synchronous_commit = on; UPDATE sluice.positions SET applied_at = applied_at WHERE pipeline = " +
		quoteLiteral(s.opts.Pipeline) + "; COMMIT"
	if s.inTx {
		return fmt.Errorf("make commits durable: a target transaction is open")
	}
	if _, err := s.conn.PgConn().Exec(ctx, sql).ReadAll(); err != nil {
		return s.core.Fail(fmt.Errorf("make commits durable on the target: %w", err))
	}
	return nil
}

func parseWAL(r *pgconn.Result) (insert, flushed pglogrepl.LSN, err error) {
	if len(r.Rows) != 1 || len(r.Rows[0]) != 2 {
		return 0, 0, fmt.Errorf("read the target's WAL position: unexpected result")
	}
	if insert, err = pglogrepl.ParseLSN(string(r.Rows[0][0])); err == nil {
		flushed, err = pglogrepl.ParseLSN(string(r.Rows[0][1]))
	}
	if err != nil {
		return 0, 0, fmt.Errorf("read the target's WAL position: %w", err)
	}
	return insert, flushed, nil
}
