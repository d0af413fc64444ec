package postgres

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sluicecdc/sluice/pkg/change"
	"github.com/sluicecdc/sluice/pkg/pipeline"
)

// Snapshot creates a new slot that exports a snapshot and returns a reader
// of the selected tables as of exactly that snapshot. Streaming then starts
// at the slot's consistent point, so no row is missed or doubled. An old
// slot of the same name is dropped first: a snapshot always starts over.
func (s *Source) Snapshot(ctx context.Context) (pipeline.Snapshot, error) {
	if err := s.ensurePublication(ctx); err != nil {
		return nil, err
	}
	if err := s.dropSlot(ctx); err != nil {
		return nil, err
	}
	repl, err := pgconn.ConnectConfig(ctx, s.replCfg)
	if err != nil {
		return nil, fmt.Errorf("open replication connection: %w", err)
	}
	res, err := createSlot(ctx, repl, s.opts.Slot, true)
	if err != nil {
		repl.Close(ctx)
		return nil, err
	}
	pos, err := ParseLSN(res.ConsistentPoint)
	if err != nil {
		repl.Close(ctx)
		return nil, err
	}
	// The exported snapshot lives while repl stays idle: Start uses it next.
	s.repl = repl
	pcfg, err := pgxpool.ParseConfig("")
	if err != nil {
		return nil, err
	}
	pcfg.ConnConfig.Config = *s.cfg.Copy()
	pcfg.MaxConns = int32(s.opts.SnapshotWorkers)
	pool, err := pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		return nil, fmt.Errorf("connect to source: %w", err)
	}
	snap := &snapshot{name: res.SnapshotName, pos: pos, pool: pool, relids: map[*change.Table]uint32{}, chunkPages: s.opts.ChunkPages}
	err = snap.inSnapshot(ctx, func(tx pgx.Tx) error {
		for _, id := range s.tables {
			t, relid, err := describeTable(ctx, tx.Conn(), id)
			if err != nil {
				return err
			}
			snap.tables = append(snap.tables, t)
			snap.relids[t] = relid
		}
		return nil
	})
	if err != nil {
		pool.Close()
		return nil, err
	}
	s.opts.Log.Info().Str("slot", s.opts.Slot).Stringer("lsn", pos).Str("snapshot", res.SnapshotName).Int("tables", len(snap.tables)).Msg("snapshot started")
	return snap, nil
}

type snapshot struct {
	name   string
	pos    LSN
	pool   *pgxpool.Pool
	tables []*change.Table
	relids map[*change.Table]uint32

	chunkPages int
}

func (sn *snapshot) Tables() []*change.Table   { return sn.tables }
func (sn *snapshot) Position() change.Position { return sn.pos }
func (sn *snapshot) Close() error              { sn.pool.Close(); return nil }

// inSnapshot runs fn in a read-only transaction that sees the exported snapshot.
func (sn *snapshot) inSnapshot(ctx context.Context, fn func(pgx.Tx) error) error {
	tx, err := sn.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return fmt.Errorf("begin snapshot transaction: %w", err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // read-only; nothing to keep
	if _, err := tx.Exec(ctx, "SET TRANSACTION SNAPSHOT "+quoteLiteral(sn.name)); err != nil {
		return fmt.Errorf("use exported snapshot %s: %w", sn.name, err)
	}
	return fn(tx)
}

// Chunks splits each table into ranges of heap pages (ctid ranges), which
// also works for tables without a primary key.
func (sn *snapshot) Chunks(ctx context.Context) ([]pipeline.Chunk, error) {
	var out []pipeline.Chunk
	err := sn.inSnapshot(ctx, func(tx pgx.Tx) error {
		for _, t := range sn.tables {
			var pages int64
			var kind string
			err := tx.QueryRow(ctx, `SELECT pg_relation_size(c.oid) / current_setting('block_size')::int8, c.relkind::text FROM pg_class c WHERE c.oid = $1`,
				sn.relids[t]).Scan(&pages, &kind)
			if err != nil {
				return fmt.Errorf("size of %s: %w", t.ID, err)
			}
			size := int64(sn.chunkPages)
			n := int((pages + size - 1) / size)
			if kind != "r" || n <= 1 {
				out = append(out, pipeline.Chunk{Table: t, Index: 0, Of: 1})
				continue
			}
			for i := 0; i < n; i++ {
				where := fmt.Sprintf("ctid >= '(%d,0)'::tid AND ctid < '(%d,0)'::tid", int64(i)*size, int64(i+1)*size)
				if i == n-1 { // open-ended: the table may have grown since its size was read
					where = fmt.Sprintf("ctid >= '(%d,0)'::tid", int64(i)*size)
				}
				out = append(out, pipeline.Chunk{Table: t, Index: i, Of: n, Where: where})
			}
		}
		return nil
	})
	return out, err
}

// Read copies one chunk's rows out of the snapshot with COPY.
func (sn *snapshot) Read(ctx context.Context, c pipeline.Chunk, fn func(change.Row) error) error {
	cols := make([]string, len(c.Table.Columns))
	for i, col := range c.Table.Columns {
		cols[i] = pgx.Identifier{col.Name}.Sanitize()
	}
	sql := fmt.Sprintf("COPY (SELECT %s FROM %s", strings.Join(cols, ", "), pgx.Identifier{c.Table.ID.Schema, c.Table.ID.Name}.Sanitize())
	if c.Where != "" {
		sql += " WHERE " + c.Where
	}
	sql += ") TO STDOUT"
	return sn.inSnapshot(ctx, func(tx pgx.Tx) error {
		p := &copyParser{cols: len(cols), fn: fn}
		if _, err := tx.Conn().PgConn().CopyTo(ctx, p, sql); err != nil {
			return fmt.Errorf("copy %s (chunk %d of %d): %w", c.Table.ID, c.Index+1, c.Of, err)
		}
		return p.finish()
	})
}

func quoteLiteral(v string) string {
	return "'" + strings.ReplaceAll(v, "'", "''") + "'"
}
