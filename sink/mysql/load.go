package mysql

import (
	"context"
	"database/sql"
	"fmt"

	"golang.org/x/sync/errgroup"

	"github.com/sluicecdc/sluice/pkg/change"
)

// PrepareSnapshot creates the target tables, forgets the applied position
// and empties the tables. TRUNCATE commits on its own, but a snapshot that
// does not finish is started over (the checkpoint says so), which empties
// the tables again: rows deleted at the source since cannot linger.
func (s *Sink) PrepareSnapshot(ctx context.Context, tables []*change.Table) error {
	if s.broken != nil {
		return s.broken
	}
	if s.inTx {
		return fmt.Errorf("prepare snapshot: a target transaction is open")
	}
	var targets []*target
	for _, src := range tables {
		t, err := s.table(src)
		if err != nil {
			return err
		}
		if err := s.ensure(ctx, t); err != nil {
			return err
		}
		targets = append(targets, s.target(t))
	}
	if _, err := s.conn.ExecContext(ctx, "DELETE FROM `sluice`.`positions` WHERE pipeline = ?", s.opts.Pipeline); err != nil {
		return fmt.Errorf("reset applied position: %w", err)
	}
	for _, tg := range targets {
		if _, err := s.conn.ExecContext(ctx, "TRUNCATE TABLE "+tg.ident); err != nil {
			return fmt.Errorf("empty target table %s for the snapshot: %w", tg.id, err)
		}
	}
	return nil
}

// Load writes the rows into t's target table with LOAD DATA LOCAL INFILE, or
// with large multi-row INSERTs where the server refuses that, in batches each
// committed on its own, and returns when all are. Safe for concurrent use:
// each call takes its own connection from the pool.
func (s *Sink) Load(ctx context.Context, src *change.Table, rows func(yield func(change.Row) error) error) error {
	t, err := s.table(src)
	if err != nil {
		return err
	}
	tg := s.target(t)
	if tg == nil {
		return fmt.Errorf("load %s: PrepareSnapshot did not cover this table", t.ID)
	}
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("load %s: connect to target: %w", t.ID, err)
	}
	defer conn.Close()
	if s.canInfile(ctx, conn) {
		err = s.loadInfile(ctx, conn, src, tg, rows)
	} else {
		err = s.loadInserts(ctx, conn, src, tg, rows)
	}
	if err != nil {
		return fmt.Errorf("load %s into %s: %w", t.ID, tg.id, err)
	}
	return nil
}

// loadInfile fills one buffer while the server loads the other.
func (s *Sink) loadInfile(ctx context.Context, conn *sql.Conn, src *change.Table, tg *target, rows func(yield func(change.Row) error) error) error {
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
		r, err := s.row(src, r)
		if err != nil {
			return err
		}
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

func (s *Sink) loadInserts(ctx context.Context, conn *sql.Conn, src *change.Table, tg *target, rows func(yield func(change.Row) error) error) error {
	// Autocommit: each statement commits, durable when it returns.
	w := newInserter(tg, tg.all, "", s.srv.maxStmt, true, func(q string, args []any) error {
		_, err := conn.ExecContext(ctx, q, args...)
		return err
	})
	err := rows(func(r change.Row) error {
		r, err := s.row(src, r)
		if err != nil {
			return err
		}
		return w.add(r)
	})
	if err != nil {
		return err
	}
	return w.flush()
}
