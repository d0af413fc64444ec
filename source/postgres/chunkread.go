package postgres

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sluicecdc/sluice/checkpoint"
	"github.com/sluicecdc/sluice/pkg/change"
)

// chunkReader reads the chunks of one table on a connection of its own.
type chunkReader struct {
	s       *Source
	task    checkpoint.Backfill
	conn    *pgx.Conn
	table   *change.Table
	relid   uint32
	collate bool // a key column has a collation: key order may differ on the target
	size    int
	total   int64
}

func (r *chunkReader) reset() {
	if r.conn != nil {
		r.conn.Close(context.Background())
		r.conn = nil
	}
}

// next reads the chunk after r.task.After.
func (r *chunkReader) next(ctx context.Context) (*chunkOut, error) {
	if r.conn == nil {
		conn, err := r.s.connect(ctx)
		if err != nil {
			return nil, err
		}
		r.conn = conn
		id, err := change.ParseTableID(r.task.Table)
		if err != nil {
			return nil, err
		}
		// A table being published (a new one) is copied once it streams,
		// and after every transaction older than its publication ended.
		for i := 1; !r.s.selected(id); i++ {
			select {
			case <-time.After(100 * time.Millisecond):
			case <-ctx.Done():
				return nil, ctx.Err()
			}
			if i%50 == 0 { // still there?
				var n int
				if err := conn.QueryRow(ctx, `SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = $2`,
					id.Schema, id.Name).Scan(&n); err != nil {
					return nil, err
				}
				if n == 0 {
					return nil, fmt.Errorf("%w: table %s no longer exists", errGone, id)
				}
			}
		}
		if err := r.s.waitPublished(ctx, conn); err != nil {
			return nil, err
		}
		if err := r.describe(ctx); err != nil {
			return nil, err
		}
		names := make([]string, len(r.table.Key))
		for i, k := range r.table.Key {
			names[i] = r.table.Columns[k].Name
		}
		err = conn.QueryRow(ctx, `SELECT coalesce(bool_or(attcollation <> 0), false) FROM pg_attribute WHERE attrelid = $1 AND attname = ANY($2)`,
			r.relid, names).Scan(&r.collate)
		if err != nil {
			return nil, fmt.Errorf("read key collations of %s: %w", id, err)
		}
	}
	if err := r.describe(ctx); err != nil { // columns added or dropped since the last chunk
		return nil, err
	}
	w := r.s.tr.open(r.table.ID)
	start := time.Now()
	rows, sn, err := r.read(ctx)
	if err != nil {
		r.s.tr.close(w)
		return nil, err
	}
	took := time.Since(start)
	c := &chunkOut{task: r.task, table: r.table, rows: rows, sn: sn, w: w, total: r.total,
		prune: r.task.Where == "" && !r.collate, done: len(rows) < r.size}
	if len(r.task.After) > 0 {
		c.lo = r.keyRow(r.task.After)
	}
	if !c.done {
		c.hi = change.KeyOnly(r.table, rows[len(rows)-1])
	}
	var bytes int
	for _, row := range rows {
		bytes += row.Size()
	}
	r.size = nextChunkSize(r.size, len(rows), took)
	if len(rows) > 0 { // and a chunk holds at most maxChunkBytes in memory
		r.size = max(min(r.size, maxChunkBytes/max(bytes/len(rows), 1)), 1)
	}
	return c, nil
}

// describe reads the table's shape, keeping the previous *Table while it
// is the same (sinks key their work by it).
func (r *chunkReader) describe(ctx context.Context) error {
	id, err := change.ParseTableID(r.task.Table)
	if err != nil {
		return err
	}
	t, relid, err := describeTable(ctx, r.conn, id)
	if err != nil {
		return err
	}
	if !t.HasKey() {
		return fmt.Errorf("%w: %w", errNoKey, noKeyError(id))
	}
	if r.table == nil || !r.table.SameShape(t) {
		r.table = t
	}
	r.relid = relid
	return nil
}

// nextChunkSize aims the next chunk's read at BackfillTargetTime, changing
// the size at most twofold per chunk.
func nextChunkSize(size, got int, took time.Duration) int {
	if got < size || took <= 0 {
		return size
	}
	next := int(float64(size) * float64(BackfillTargetTime) / float64(took))
	next = min(max(next, size/2), size*2)
	return min(max(next, minChunkRows), maxChunkRows)
}

// read runs one chunk's query in a read-only REPEATABLE READ transaction:
// its snapshot is taken by the first statement, which also returns it.
// It takes the table's ACCESS SHARE lock only, which blocks no writer.
func (r *chunkReader) read(ctx context.Context) ([]change.Row, xidSnapshot, error) {
	tx, err := r.conn.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return nil, xidSnapshot{}, fmt.Errorf("begin back-fill chunk: %w", err)
	}
	defer tx.Rollback(context.Background()) //nolint:errcheck // read-only
	var snText string
	if err := tx.QueryRow(ctx, `SELECT pg_current_snapshot()::text`).Scan(&snText); err != nil {
		return nil, xidSnapshot{}, fmt.Errorf("back-fill chunk snapshot: %w", err)
	}
	sn, err := parseXidSnapshot(snText)
	if err != nil {
		return nil, xidSnapshot{}, err
	}
	if testChunkDelay > 0 {
		time.Sleep(testChunkDelay)
	}
	t := r.table
	var rows []change.Row
	p := &copyParser{cols: len(t.Columns), fn: func(row change.Row) error {
		rows = append(rows, cloneRow(row))
		return nil
	}}
	if _, err := tx.Conn().PgConn().CopyTo(ctx, p, r.query()); err != nil {
		return nil, xidSnapshot{}, fmt.Errorf("back-fill %s: %w", t.ID, err)
	}
	if err := p.finish(); err != nil {
		return nil, xidSnapshot{}, err
	}
	return rows, sn, nil
}

// query selects the next r.size rows after r.task.After in key order.
func (r *chunkReader) query() string {
	t := r.table
	cols := make([]string, len(t.Columns))
	for i, c := range t.Columns {
		cols[i] = pgx.Identifier{c.Name}.Sanitize()
	}
	keys := make([]string, len(t.Key))
	for i, k := range t.Key {
		keys[i] = pgx.Identifier{t.Columns[k].Name}.Sanitize()
	}
	var conds []string
	if len(r.task.After) == len(t.Key) {
		lits := make([]string, len(t.Key))
		for i, k := range t.Key {
			lits[i] = quoteLiteral(r.task.After[i]) + "::" + t.Columns[k].Type
		}
		conds = append(conds, fmt.Sprintf("(%s) > (%s)", strings.Join(keys, ", "), strings.Join(lits, ", ")))
	}
	if r.task.Where != "" {
		conds = append(conds, "("+r.task.Where+")")
	}
	q := fmt.Sprintf("COPY (SELECT %s FROM %s", strings.Join(cols, ", "), pgx.Identifier{t.ID.Schema, t.ID.Name}.Sanitize())
	if len(conds) > 0 {
		q += " WHERE " + strings.Join(conds, " AND ")
	}
	return q + fmt.Sprintf(" ORDER BY %s LIMIT %d) TO STDOUT", strings.Join(keys, ", "), r.size)
}

// keyRow is a row of the table with only the key columns set, from their texts.
func (r *chunkReader) keyRow(texts []string) change.Row {
	row := make(change.Row, len(r.table.Columns))
	for i := range row {
		row[i] = change.Value{State: change.Missing}
	}
	for i, k := range r.table.Key {
		if i < len(texts) {
			row[k] = change.Text(texts[i])
		}
	}
	return row
}

func cloneRow(r change.Row) change.Row {
	out := make(change.Row, len(r))
	for i, v := range r {
		out[i] = change.Value{State: v.State, Data: slices.Clone(v.Data)}
	}
	return out
}
