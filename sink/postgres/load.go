package postgres

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sluicecdc/sluice/pkg/change"
	"github.com/sluicecdc/sluice/sink/mode"
	"github.com/sluicecdc/sluice/sink/redact"
)

// PrepareSnapshot creates the target tables, empties them and forgets the
// applied position, in one transaction: a snapshot always starts over, so
// rows deleted at the source since an interrupted copy cannot linger.
func (s *Sink) PrepareSnapshot(ctx context.Context, tables []*change.Table) error {
	if s.inTx {
		return fmt.Errorf("prepare snapshot: a target transaction is open")
	}
	tx, err := s.conn.Begin(ctx)
	if err != nil {
		return fmt.Errorf("prepare snapshot: %w", err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // no-op after commit
	s.snapAt = time.Now()
	// Every table's shape first: those that cannot be made (names too
	// long) stop the snapshot, all named at once, before any target table
	// is touched.
	shapes := make([]*mode.Shape, len(tables))
	var bad []string
	for i, t := range tables {
		if shapes[i], err = s.snapshotShape(t, true); err != nil {
			bad = append(bad, err.Error())
		}
	}
	if len(bad) > 0 {
		return errors.New(strings.Join(bad, "; and "))
	}
	var idents []string
	for _, sh := range shapes {
		tg, err := s.targetFor(ctx, tx.Conn(), sh)
		if err != nil {
			return err
		}
		if err := keepsNoHistory(ctx, tx.Conn(), tg); err != nil {
			return err
		}
		idents = append(idents, tg.ident)
	}
	if len(idents) > 0 {
		if _, err := tx.Exec(ctx, "TRUNCATE "+strings.Join(idents, ", ")); err != nil {
			return fmt.Errorf("empty target tables for the snapshot: %w", err)
		}
	}
	if _, err := tx.Exec(ctx, "DELETE FROM sluice.positions WHERE pipeline = $1", s.opts.Pipeline); err != nil {
		return fmt.Errorf("reset applied position: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("prepare snapshot: %w", err)
	}
	s.core.Replay().New() // streaming starts after the snapshot: all new
	return nil
}

// snapshotShape is the target shape of snapshot table src; only
// PrepareSnapshot (create) may lay out a new one, Load runs concurrently.
func (s *Sink) snapshotShape(src *change.Table, create bool) (*mode.Shape, error) {
	t := src
	if s.opts.Mode.Mode != mode.Append { // append rows hold the source's own texts
		var err error
		if t, err = s.conv.Table(src); err != nil {
			return nil, err
		}
	}
	if sh := s.core.Shape(t); sh != nil || !create {
		if sh == nil {
			return nil, fmt.Errorf("load %s: PrepareSnapshot did not cover this table", t.ID)
		}
		return sh, nil
	}
	return s.core.ShapeFor(t)
}

// keepsNoHistory refuses to empty a history or append table that holds
// more than an earlier snapshot: a new snapshot would throw its history
// away.
func keepsNoHistory(ctx context.Context, conn *pgx.Conn, tg *target) error {
	if tg.sh.Mode == mode.Merge {
		return nil
	}
	var streamed bool
	op := pgx.Identifier{mode.OpColumn}.Sanitize()
	if err := conn.QueryRow(ctx, fmt.Sprintf("SELECT EXISTS (SELECT 1 FROM %s WHERE %s <> 'snapshot')", tg.ident, op)).Scan(&streamed); err != nil {
		return fmt.Errorf("prepare snapshot of %s: %w", tg.id, err)
	}
	if streamed {
		return fmt.Errorf("prepare snapshot: target table %s holds changes written in sink.mode %s, which a new snapshot would throw away; rename it (ALTER TABLE %s RENAME TO ...), or point sink.schema elsewhere, and start again",
			tg.id, tg.sh.Mode, tg.ident)
	}
	return nil
}

// Load streams rows into t's target table with one COPY, committed when it
// returns. Safe for concurrent use: each call takes its own connection.
func (s *Sink) Load(ctx context.Context, src *change.Table, rows func(yield func(change.Row) error) error) error {
	sh, err := s.snapshotShape(src, false)
	if err != nil {
		return err
	}
	tg := s.targets[sh.Table]
	if tg == nil {
		return fmt.Errorf("load %s: PrepareSnapshot did not cover this table", src.ID)
	}
	t := sh.Table
	m := mode.SnapshotMeta(s.snapAt)
	pool, err := s.loadPool(ctx)
	if err != nil {
		return err
	}
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("connect to target: %w", err)
	}
	defer conn.Release()
	// The writer turns rows into COPY text on its own goroutine; Load
	// waits for it, so it never reads the snapshot after Load returned.
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		w := bufio.NewWriterSize(pw, 256<<10)
		var line bytes.Buffer
		var wide change.Row
		err := rows(func(r change.Row) error {
			var err error
			if sh.Mode != mode.Append {
				if r, err = s.conv.Row(src, r); err != nil {
					return err
				}
			}
			if wide, err = sh.SnapshotRow(wide, r, &m); err != nil {
				return err
			}
			r = wide
			line.Reset()
			appendCopyRow(&line, r, tg.all)
			_, err = w.Write(line.Bytes())
			return err
		})
		if err == nil {
			err = w.Flush()
		}
		pw.CloseWithError(err)
		done <- err
	}()
	sql := fmt.Sprintf("COPY %s (%s) FROM STDIN", tg.ident, strings.Join(tg.cols, ", "))
	_, err = conn.Conn().PgConn().CopyFrom(ctx, pr, sql)
	pr.CloseWithError(io.ErrClosedPipe) // stop the writer if COPY ended first
	werr := <-done
	if werr != nil && !errors.Is(werr, io.ErrClosedPipe) {
		// The rows failed (reading the source, converting a value): that
		// is the cause, with its type intact; COPY only saw it as text.
		err = werr
	}
	if err != nil {
		return redact.Error(fmt.Errorf("load %s into %s: %w", t.ID, tg.id, err), s.opts.LogValues)
	}
	return nil
}

func (s *Sink) loadPool(ctx context.Context) (*pgxpool.Pool, error) {
	s.poolOnce.Do(func() {
		cfg, err := pgxpool.ParseConfig("")
		if err != nil {
			s.poolErr = err
			return
		}
		cfg.ConnConfig = s.cfg.Copy()
		// The checkpoint moves past the snapshot once Load returns: the
		// copied rows must be on disk by then.
		cfg.ConnConfig.RuntimeParams["synchronous_commit"] = "on"
		cfg.MaxConns = 16
		s.pool, s.poolErr = pgxpool.NewWithConfig(ctx, cfg)
	})
	if s.poolErr != nil {
		return nil, fmt.Errorf("connect to target: %w", s.poolErr)
	}
	return s.pool, nil
}
