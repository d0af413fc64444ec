package mysql

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/sluicecdc/sluice/pkg/change"
	"github.com/sluicecdc/sluice/pkg/mysqlconn"
	"github.com/sluicecdc/sluice/sink/mode"
	"github.com/sluicecdc/sluice/sink/redact"
)

// PrepareSnapshot creates the target tables, forgets the applied position
// and empties the tables. TRUNCATE commits on its own, but a snapshot that
// does not finish is started over (the checkpoint says so), which empties
// the tables again: rows deleted at the source since cannot linger.
func (s *Sink) PrepareSnapshot(ctx context.Context, tables []*change.Table) error {
	if err := s.core.Broken(); err != nil {
		return err
	}
	if s.inTx {
		return fmt.Errorf("prepare snapshot: a target transaction is open")
	}
	s.snapAt = time.Now()
	var targets []*target
	for _, src := range tables {
		sh, err := s.sourceShape(src)
		if err != nil {
			return err
		}
		if err := s.ensure(ctx, sh); err != nil {
			return err
		}
		tg := s.target(sh.Table)
		if err := s.keepsNoHistory(ctx, tg); err != nil {
			return err
		}
		targets = append(targets, tg)
	}
	if _, err := s.conn.ExecContext(ctx, "DELETE FROM `sluice`.`positions` WHERE pipeline = ?", s.opts.Pipeline); err != nil {
		return fmt.Errorf("reset applied position: %w", err)
	}
	for _, tg := range targets {
		if _, err := s.conn.ExecContext(ctx, "TRUNCATE TABLE "+tg.ident); err != nil {
			return fmt.Errorf("empty target table %s for the snapshot: %w", tg.id, err)
		}
	}
	s.core.Replay().New() // streaming starts after the snapshot: all new
	return nil
}

// keepsNoHistory refuses to empty a history or append table that holds
// more than an earlier snapshot: a new snapshot would throw its history
// away.
func (s *Sink) keepsNoHistory(ctx context.Context, tg *target) error {
	if tg.sh.Mode == mode.Merge {
		return nil
	}
	var streamed bool
	op := mysqlconn.QuoteIdent(mode.OpColumn)
	if err := s.conn.QueryRowContext(ctx, fmt.Sprintf("SELECT EXISTS (SELECT 1 FROM %s WHERE %s <> 'snapshot')", tg.ident, op)).Scan(&streamed); err != nil {
		return fmt.Errorf("prepare snapshot of %s: %w", tg.id, err)
	}
	if streamed {
		return fmt.Errorf("prepare snapshot: target table %s holds changes written in sink.mode %s, which a new snapshot would throw away; rename it (RENAME TABLE %s TO ...), or point sink.schema elsewhere, and start again",
			tg.id, tg.sh.Mode, tg.ident)
	}
	return nil
}

// snapshotShape is the target shape PrepareSnapshot laid out for src.
func (s *Sink) snapshotShape(src *change.Table) (*mode.Shape, *target, error) {
	t := src
	if s.opts.Mode.Mode != mode.Append {
		var err error
		if t, err = s.table(src); err != nil {
			return nil, nil, err
		}
	}
	sh := s.core.Shape(t)
	if sh == nil || s.target(sh.Table) == nil {
		return nil, nil, fmt.Errorf("load %s: PrepareSnapshot did not cover this table", t.ID)
	}
	return sh, s.target(sh.Table), nil
}

// Load writes the rows into t's target table with LOAD DATA LOCAL INFILE, or
// with large multi-row INSERTs where the server refuses that, in batches each
// committed on its own, and returns when all are. Safe for concurrent use:
// each call takes its own connection from the pool.
func (s *Sink) Load(ctx context.Context, src *change.Table, rows func(yield func(change.Row) error) error) error {
	sh, tg, err := s.snapshotShape(src)
	if err != nil {
		return err
	}
	t := sh.Table
	rows = s.snapshotRows(sh, src, rows)
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("load %s: connect to target: %w", t.ID, err)
	}
	defer conn.Close()
	if s.canInfile(ctx, conn) {
		err = s.loadInfile(ctx, conn, tg, rows)
	} else {
		err = s.loadInserts(ctx, conn, tg, rows)
	}
	if err != nil {
		return redact.Error(fmt.Errorf("load %s into %s: %w", t.ID, tg.id, err), s.opts.LogValues)
	}
	return nil
}

// loadInfile fills one buffer while the server loads the other.
func (s *Sink) loadInfile(ctx context.Context, conn *sql.Conn, tg *target, rows func(yield func(change.Row) error) error) error {
	free := make(chan *infile, 2)
	free <- newInfile(tg)
	free <- newInfile(tg)
	full := make(chan *infile)
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		for w := range full {
			if err := w.flush(gctx, s, conn); err != nil {
				return err
			}
			free <- w
		}
		return nil
	})
	w := <-free
	send := func() error {
		select {
		case full <- w:
		case <-gctx.Done():
			return gctx.Err()
		}
		select {
		case w = <-free:
			return nil
		case <-gctx.Done():
			return gctx.Err()
		}
	}
	err := rows(func(r change.Row) error {
		if err := w.add(r); err != nil {
			return err
		}
		if len(w.buf) >= infileBatch {
			return send()
		}
		return nil
	})
	if err == nil && w.rows > 0 {
		err = send()
	}
	close(full)
	if lerr := g.Wait(); lerr != nil {
		return lerr // the load failed: that is the cause
	}
	return err
}

func (s *Sink) loadInserts(ctx context.Context, conn *sql.Conn, tg *target, rows func(yield func(change.Row) error) error) error {
	// Autocommit: each statement commits, durable when it returns.
	w := newInserter(tg, tg.all, "", s.srv.maxStmt, true, func(q string, args []any) error {
		_, err := conn.ExecContext(ctx, q, args...)
		return err
	})
	err := rows(func(r change.Row) error {
		return w.add(r)
	})
	if err != nil {
		return err
	}
	return w.flush()
}

// snapshotRows yields the rows of rows as the target stores them: in
// MySQL's types, with the mode's columns.
func (s *Sink) snapshotRows(sh *mode.Shape, src *change.Table, rows func(yield func(change.Row) error) error) func(yield func(change.Row) error) error {
	m := mode.SnapshotMeta(s.snapAt)
	return func(yield func(change.Row) error) error {
		var wide change.Row
		return rows(func(r change.Row) error {
			var err error
			if sh.Mode != mode.Append {
				if r, err = s.row(src, r); err != nil {
					return err
				}
			}
			if wide, err = sh.SnapshotRow(wide, r, &m); err != nil {
				return err
			}
			return yield(wide)
		})
	}
}
