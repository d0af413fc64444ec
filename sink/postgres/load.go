package postgres

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sluicecdc/sluice/pkg/change"
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
	var idents []string
	for _, t := range tables {
		t, err := s.conv.Table(t)
		if err != nil {
			return err
		}
		tg, err := s.targetFor(ctx, tx.Conn(), t)
		if err != nil {
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
	return nil
}

// Load streams rows into t's target table with one COPY, committed when it
// returns. Safe for concurrent use: each call takes its own connection.
func (s *Sink) Load(ctx context.Context, src *change.Table, rows func(yield func(change.Row) error) error) error {
	t, err := s.conv.Table(src)
	if err != nil {
		return err
	}
	tg := s.targets[t]
	if tg == nil {
		return fmt.Errorf("load %s: PrepareSnapshot did not cover this table", t.ID)
	}
	pool, err := s.loadPool(ctx)
	if err != nil {
		return err
	}
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("connect to target: %w", err)
	}
	defer conn.Release()
	pr, pw := io.Pipe()
	go func() {
		w := bufio.NewWriterSize(pw, 256<<10)
		var line bytes.Buffer
		err := rows(func(r change.Row) error {
			r, err := s.conv.Row(src, r)
			if err != nil {
				return err
			}
			line.Reset()
			appendCopyRow(&line, r, tg.all)
			_, err = w.Write(line.Bytes())
			return err
		})
		if err == nil {
			err = w.Flush()
		}
		pw.CloseWithError(err)
	}()
	sql := fmt.Sprintf("COPY %s (%s) FROM STDIN", tg.ident, strings.Join(tg.cols, ", "))
	_, err = conn.Conn().PgConn().CopyFrom(ctx, pr, sql)
	pr.CloseWithError(io.ErrClosedPipe) // stop the writer if COPY ended first
	if err != nil {
		return fmt.Errorf("load %s into %s: %w", t.ID, tg.id, err)
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
