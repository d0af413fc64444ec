package mysql

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/sluicecdc/sluice/checkpoint"
	"github.com/sluicecdc/sluice/pkg/change"
	"github.com/sluicecdc/sluice/pkg/mysqlconn"
)

// chunkReader reads the chunks of one table on a connection of its own.
type chunkReader struct {
	s       *Source
	task    checkpoint.Backfill
	id      change.TableID
	db      *sql.DB
	conn    *sql.Conn
	table   *change.Table
	descs   []colDesc
	collate bool // a key column is a character column: key order may differ on the target
	size    int
	total   int64
}

func (r *chunkReader) reset() {
	if r.conn != nil {
		r.conn.Close()
		r.conn = nil
	}
	if r.db != nil {
		r.db.Close()
		r.db = nil
	}
}

// next reads the chunk after r.task.After.
func (r *chunkReader) next(ctx context.Context) (*chunkOut, error) {
	if r.conn == nil {
		id, err := change.ParseTableID(r.task.Table)
		if err != nil {
			return nil, err
		}
		r.id = id
		db, _, err := mysqlconn.Open(r.s.opts.DSN)
		if err != nil {
			return nil, fmt.Errorf("source.dsn: %v", err)
		}
		db.SetMaxOpenConns(2)
		r.db = db
		if r.conn, err = db.Conn(ctx); err != nil {
			return nil, fmt.Errorf("back-fill: connect to source: %w", err)
		}
		for _, q := range []string{
			"SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ",
			"SET SESSION net_write_timeout = 600",
		} {
			if _, err := r.conn.ExecContext(ctx, q); err != nil {
				return nil, fmt.Errorf("back-fill: %s: %w", q, err)
			}
		}
	}
	if err := r.describe(ctx); err != nil { // columns added or dropped since the last chunk
		return nil, err
	}
	w := r.s.tr.open(r.id)
	start := time.Now()
	rows, ps, err := r.read(ctx)
	if err != nil {
		r.s.tr.close(w)
		return nil, err
	}
	took := time.Since(start)
	c := &chunkOut{task: r.task, table: r.table, rows: rows, ps: ps, w: w, total: r.total,
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

// describe reads the table's shape, keeping the *change.Table the stream
// and earlier chunks use while it is the same (sinks key their work by it).
func (r *chunkReader) describe(ctx context.Context) error {
	var n int
	if err := r.conn.QueryRowContext(ctx, "SELECT count(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?",
		r.id.Schema, r.id.Name).Scan(&n); err != nil {
		return fmt.Errorf("back-fill: look up %s: %w", r.id, err)
	}
	if n == 0 {
		return fmt.Errorf("%w: table %s no longer exists", errGone, r.id)
	}
	ts, descs, err := r.s.describeTables(ctx, r.conn, []change.TableID{r.id})
	if err != nil {
		return err
	}
	t := ts[0]
	if !t.HasKey() {
		return fmt.Errorf("%w: %w", errNoKey, noKeyError(r.id))
	}
	switch {
	case r.table != nil && r.table.SameShape(t):
		t = r.table
	case r.s.knownTable(r.id) != nil && r.s.knownTable(r.id).SameShape(t):
		t = r.s.knownTable(r.id)
	default:
		r.s.remember([]*change.Table{t})
	}
	r.table, r.descs = t, descs[ts[0]]
	r.collate = false
	for _, k := range t.Key {
		if d := r.descs[k]; d.charset != "" && !d.binary() {
			r.collate = true
		}
	}
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

// read runs one chunk's query in its own consistent-snapshot transaction
// and returns the binlog position the snapshot matches (ps). On MariaDB
// the transaction tells it (binlog_snapshot_file/position) and nothing is
// locked; on servers without that status the table is locked for writes
// only while the snapshot opens (snapshotLocked).
func (r *chunkReader) read(ctx context.Context) ([]change.Row, Position, error) {
	if _, err := r.conn.ExecContext(ctx, "START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY"); err != nil {
		return nil, Position{}, fmt.Errorf("back-fill: begin chunk: %w", err)
	}
	defer func() {
		if _, err := r.conn.ExecContext(context.WithoutCancel(ctx), "ROLLBACK"); err != nil {
			r.conn.Raw(func(any) error { return driver.ErrBadConn }) //nolint:errcheck // the pool drops the connection
		}
	}()
	file, pos, err := snapshotBinlog(ctx, r.conn)
	if errors.Is(err, errNoSnapshotStatus) || forceLockedSnapshot {
		if _, err := r.conn.ExecContext(ctx, "ROLLBACK"); err != nil {
			return nil, Position{}, err
		}
		file, pos, err = r.snapshotLocked(ctx)
	}
	if err != nil {
		return nil, Position{}, fmt.Errorf("back-fill: the chunk's binlog position: %w", err)
	}
	ps := Position{File: file, Pos: pos, Epoch: r.s.epoch.Load()}
	if ps.Server, err = serverIDOf(ctx, r.conn); err != nil {
		return nil, Position{}, err
	}
	if testChunkDelay > 0 {
		time.Sleep(testChunkDelay)
	}
	q, args := r.query()
	var rows []change.Row
	if err := readRows(ctx, r.conn, q, args, r.descs, func(row change.Row) error {
		rows = append(rows, row)
		return nil
	}); err != nil {
		return nil, Position{}, fmt.Errorf("back-fill %s: %w", r.id, err)
	}
	return rows, ps, nil
}

// snapshotLocked opens the chunk's consistent snapshot on a server that
// cannot say which binlog position a snapshot matches (Oracle MySQL): on
// a second connection it holds FLUSH TABLES <t> WITH READ LOCK (writers of
// this one table wait; reads and other tables go on) only while the
// snapshot opens and the binlog position is read. No transaction can
// change the table between the two, so the snapshot holds the table's
// state at that position.
func (r *chunkReader) snapshotLocked(ctx context.Context) (string, uint32, error) {
	lock, err := r.db.Conn(ctx)
	if err != nil {
		return "", 0, err
	}
	defer lock.Close()
	if _, err := lock.ExecContext(ctx, "SET SESSION lock_wait_timeout = 10"); err != nil {
		return "", 0, err
	}
	if _, err := lock.ExecContext(ctx, "FLUSH TABLES "+quoteTable(r.id)+" WITH READ LOCK"); err != nil {
		return "", 0, fmt.Errorf("FLUSH TABLES %s WITH READ LOCK: %w; the server has no lock-free snapshot position (binlog_snapshot_position, MariaDB), "+
			"so each back-fill chunk locks its table for writes for a moment: GRANT RELOAD, LOCK TABLES ON *.* TO <user>", r.id, err)
	}
	defer func() {
		if _, err := lock.ExecContext(context.WithoutCancel(ctx), "UNLOCK TABLES"); err != nil {
			lock.Raw(func(any) error { return driver.ErrBadConn }) //nolint:errcheck // closing releases the lock
		}
	}()
	if _, err := r.conn.ExecContext(ctx, "START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY"); err != nil {
		return "", 0, err
	}
	vals, err := r.s.masterStatus(ctx, lock)
	if err != nil {
		return "", 0, err
	}
	var n uint64
	if _, err := fmt.Sscan(vals[1].String, &n); err != nil || n > 1<<32-1 {
		return "", 0, fmt.Errorf("bad binlog offset %q", vals[1].String)
	}
	return vals[0].String, uint32(n), nil
}

// query selects the next r.size rows after r.task.After in key order.
func (r *chunkReader) query() (string, []any) {
	t := r.table
	keys := make([]string, len(t.Key))
	for i, k := range t.Key {
		keys[i] = mysqlconn.QuoteIdent(t.Columns[k].Name)
	}
	var conds []string
	var args []any
	if len(r.task.After) == len(t.Key) {
		// (k1, k2) > (a1, a2) spelled out, which every server turns into
		// an index range: k1 > a1 OR (k1 = a1 AND k2 > a2).
		var ors []string
		for i := range keys {
			var ands []string
			for j := range i {
				ands = append(ands, keys[j]+" = ?")
				args = append(args, r.keyArg(j))
			}
			ands = append(ands, keys[i]+" > ?")
			args = append(args, r.keyArg(i))
			ors = append(ors, "("+strings.Join(ands, " AND ")+")")
		}
		conds = append(conds, "("+strings.Join(ors, " OR ")+")")
	}
	if r.task.Where != "" {
		conds = append(conds, "("+r.task.Where+")")
	}
	q := "SELECT " + selectList(r.descs) + " FROM " + quoteTable(t.ID)
	if len(conds) > 0 {
		q += " WHERE " + strings.Join(conds, " AND ")
	}
	return q + fmt.Sprintf(" ORDER BY %s LIMIT %d", strings.Join(keys, ", "), r.size), args
}

// keyArg is the i-th key value of After as a query argument: integers as
// integers (a string would be compared as a double, inexact past 2^53),
// binary strings as bytes, the rest as text.
func (r *chunkReader) keyArg(i int) any {
	text := r.task.After[i]
	d := r.descs[r.table.Key[i]]
	switch d.kind {
	case kTiny, kShort, kInt24, kLong, kLonglong, kYear:
		var n int64
		if _, err := fmt.Sscan(text, &n); err == nil && fmt.Sprint(n) == text {
			return n
		}
		var u uint64
		if _, err := fmt.Sscan(text, &u); err == nil && fmt.Sprint(u) == text {
			return u
		}
	}
	if d.binary() {
		return []byte(text)
	}
	return text
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
