package mysql

import (
	"bytes"
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strings"
	"time"

	"github.com/sluicecdc/sluice/pkg/change"
	"github.com/sluicecdc/sluice/pkg/mysqlconn"
	"github.com/sluicecdc/sluice/pkg/pipeline"
)

// chunkRows is about how many rows one snapshot chunk holds.
const chunkRows = 50_000

// Snapshot opens one consistent view of the selected tables on every worker
// connection and reads the binlog position it matches. With the RELOAD
// privilege it holds FLUSH TABLES WITH READ LOCK for the moment it takes to
// open the views (all then see the same state); MariaDB without it falls
// back to one worker and its lock-free consistent snapshot.
func (s *Source) Snapshot(ctx context.Context) (pipeline.Snapshot, error) {
	db, _, err := mysqlconn.Open(s.opts.DSN)
	if err != nil {
		return nil, fmt.Errorf("source.dsn: %v", err)
	}
	workers := s.opts.SnapshotWorkers
	db.SetMaxOpenConns(workers + 1)
	db.SetMaxIdleConns(workers + 1)
	sn := &snapshot{s: s, db: db, descs: map[*change.Table][]colDesc{}}
	ok := false
	defer func() {
		if !ok {
			sn.Close()
		}
	}()
	lock, err := db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("snapshot: connect to source: %w", err)
	}
	defer lock.Close()
	if _, err := lock.ExecContext(ctx, "SET SESSION lock_wait_timeout = 60"); err != nil {
		return nil, fmt.Errorf("snapshot: %w", err)
	}
	locked := time.Now()
	if _, err := lock.ExecContext(ctx, "FLUSH TABLES WITH READ LOCK"); err != nil {
		if s.flavor != "mariadb" {
			return nil, fmt.Errorf("snapshot: FLUSH TABLES WITH READ LOCK failed: %w; the snapshot needs it for a moment to match the copy with a binlog position: "+
				"GRANT RELOAD ON *.* TO <user>", err)
		}
		s.opts.Log.Warn().Err(err).Msg("snapshot: cannot take FLUSH TABLES WITH READ LOCK (grant RELOAD for parallel workers); " +
			"copying with one worker in MariaDB's lock-free consistent snapshot")
		if err := sn.lockFree(ctx); err != nil {
			return nil, err
		}
		ok = true
		return sn, nil
	}
	err = func() error {
		defer func() {
			if _, err := lock.ExecContext(context.WithoutCancel(ctx), "UNLOCK TABLES"); err != nil {
				lock.Raw(func(any) error { return driver.ErrBadConn }) //nolint:errcheck // the pool then closes it, which releases the lock
			}
		}()
		for range workers {
			if err := sn.addWorker(ctx); err != nil {
				return err
			}
		}
		if sn.pos, err = s.currentPosition(ctx, lock); err != nil {
			return err
		}
		ids, err := s.selectTables(ctx, lock)
		if err != nil {
			return err
		}
		if len(ids) == 0 {
			return s.errNoTables()
		}
		sn.tables, sn.descs, err = s.describeTables(ctx, lock, ids)
		return err
	}()
	if err != nil {
		return nil, fmt.Errorf("snapshot: %w", err)
	}
	held := time.Since(locked)
	if s.flavor == "mariadb" {
		if err := sn.checkViews(ctx); err != nil {
			return nil, err
		}
	}
	s.remember(sn.tables)
	s.opts.Log.Info().Stringer("position", sn.pos).Int("tables", len(sn.tables)).Int("workers", workers).
		Dur("lock_held", held).Msg("snapshot started")
	ok = true
	return sn, nil
}

type snapshot struct {
	s      *Source
	db     *sql.DB
	conns  chan *sql.Conn // idle workers, each inside the snapshot transaction
	all    []*sql.Conn
	tables []*change.Table
	descs  map[*change.Table][]colDesc
	pos    Position
}

// addWorker opens a connection inside a consistent-snapshot transaction.
func (sn *snapshot) addWorker(ctx context.Context) error {
	c, err := sn.db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("connect to source: %w", err)
	}
	for _, q := range []string{
		"SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ",
		"SET SESSION net_write_timeout = 3600", // the pipeline may pause reading while it loads
		"START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY",
	} {
		if _, err := c.ExecContext(ctx, q); err != nil {
			c.Close()
			return fmt.Errorf("%s: %w", q, err)
		}
	}
	sn.all = append(sn.all, c)
	if sn.conns == nil {
		sn.conns = make(chan *sql.Conn, cap(sn.all)+16)
	}
	sn.conns <- c
	return nil
}

// lockFree is MariaDB's snapshot without FLUSH TABLES WITH READ LOCK: one
// consistent-snapshot transaction that reports its binlog position itself.
func (sn *snapshot) lockFree(ctx context.Context) error {
	s := sn.s
	sn.conns = make(chan *sql.Conn, 1)
	if err := sn.addWorker(ctx); err != nil {
		return fmt.Errorf("snapshot: %w", err)
	}
	c := sn.all[0]
	file, pos, err := snapshotBinlog(ctx, c)
	if err != nil {
		return fmt.Errorf("snapshot: %w", err)
	}
	sn.pos = Position{File: file, Pos: pos}
	if sn.pos.Server, err = serverIDOf(ctx, c); err != nil {
		return fmt.Errorf("snapshot: %w", err)
	}
	var g sql.NullString
	if err := c.QueryRowContext(ctx, "SELECT BINLOG_GTID_POS(?, ?)", file, pos).Scan(&g); err != nil {
		return fmt.Errorf("snapshot: read the GTID position: %w", err)
	}
	if g.String != "" {
		if sn.pos.GTID, err = normalizeGTID(g.String); err != nil {
			return err
		}
	}
	ids, err := s.selectTables(ctx, c)
	if err != nil {
		return err
	}
	if len(ids) == 0 {
		return s.errNoTables()
	}
	if sn.tables, sn.descs, err = s.describeTables(ctx, c, ids); err != nil {
		return fmt.Errorf("snapshot: %w", err)
	}
	s.remember(sn.tables)
	s.opts.Log.Info().Stringer("position", sn.pos).Int("tables", len(sn.tables)).Int("workers", 1).Msg("snapshot started (lock-free)")
	return nil
}

// errNoSnapshotStatus says the server does not tell the binlog position of
// a consistent snapshot (no binlog_snapshot_% status: not MariaDB).
var errNoSnapshotStatus = errors.New("the server has no binlog_snapshot_file/binlog_snapshot_position status (only MariaDB has)")

// snapshotBinlog reads the binlog position of a MariaDB consistent snapshot.
func snapshotBinlog(ctx context.Context, c *sql.Conn) (string, uint32, error) {
	rows, err := c.QueryContext(ctx, "SHOW STATUS LIKE 'binlog_snapshot_%'")
	if err != nil {
		return "", 0, err
	}
	defer rows.Close()
	var file string
	var pos uint64
	seen := false
	for rows.Next() {
		seen = true
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			return "", 0, err
		}
		switch strings.ToLower(k) {
		case "binlog_snapshot_file":
			file = v
		case "binlog_snapshot_position":
			fmt.Sscan(v, &pos)
		}
	}
	if err := rows.Err(); err != nil {
		return "", 0, err
	}
	if !seen {
		return "", 0, errNoSnapshotStatus
	}
	if file == "" || pos == 0 || pos > 1<<32-1 {
		return "", 0, errors.New("the server reports no binlog snapshot position: log_bin is OFF; set log_bin in my.cnf and restart the server")
	}
	return file, uint32(pos), nil
}

// checkViews verifies that every worker's MariaDB snapshot sits at the
// snapshot position (they were opened while commits were blocked).
func (sn *snapshot) checkViews(ctx context.Context) error {
	for _, c := range sn.all {
		file, pos, err := snapshotBinlog(ctx, c)
		if err != nil {
			return fmt.Errorf("snapshot: %w", err)
		}
		if file != sn.pos.File || pos != sn.pos.Pos {
			return fmt.Errorf("snapshot: a worker's view is at %s:%d, not at %s:%d; retry", file, pos, sn.pos.File, sn.pos.Pos)
		}
	}
	return nil
}

func (sn *snapshot) Tables() []*change.Table   { return sn.tables }
func (sn *snapshot) Position() change.Position { return sn.pos }

// Close ends the snapshot transactions and closes their connections.
func (sn *snapshot) Close() error {
	for _, c := range sn.all {
		c.ExecContext(context.Background(), "ROLLBACK") //nolint:errcheck // read-only; closing ends it anyway
		c.Close()
	}
	sn.all = nil
	return sn.db.Close()
}

// worker waits for an idle snapshot connection.
func (sn *snapshot) worker(ctx context.Context) (*sql.Conn, error) {
	select {
	case c := <-sn.conns:
		return c, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Chunks splits tables with a one-column integer primary key into key
// ranges of about chunkRows rows; other tables are one chunk.
func (sn *snapshot) Chunks(ctx context.Context) ([]pipeline.Chunk, error) {
	c, err := sn.worker(ctx)
	if err != nil {
		return nil, err
	}
	defer func() { sn.conns <- c }()
	var out []pipeline.Chunk
	for _, t := range sn.tables {
		ranges, err := sn.ranges(ctx, c, t)
		if err != nil {
			return nil, err
		}
		if len(ranges) == 0 {
			out = append(out, pipeline.Chunk{Table: t, Index: 0, Of: 1})
			continue
		}
		for i, w := range ranges {
			out = append(out, pipeline.Chunk{Table: t, Index: i, Of: len(ranges), Where: w})
		}
	}
	return out, nil
}

// ranges returns the key-range predicates of a table, none when it is
// read whole.
func (sn *snapshot) ranges(ctx context.Context, c *sql.Conn, t *change.Table) ([]string, error) {
	if len(t.Key) != 1 {
		return nil, nil
	}
	switch sn.descs[t][t.Key[0]].kind {
	case kTiny, kShort, kInt24, kLong, kLonglong:
	default:
		return nil, nil
	}
	var est sql.NullInt64
	if err := sn.s.db.QueryRowContext(ctx, "SELECT TABLE_ROWS FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?",
		t.ID.Schema, t.ID.Name).Scan(&est); err != nil {
		return nil, fmt.Errorf("snapshot: size of %s: %w", t.ID, err)
	}
	n := (est.Int64 + sn.s.chunkRows - 1) / sn.s.chunkRows
	if n <= 1 {
		return nil, nil
	}
	key := mysqlconn.QuoteIdent(t.Columns[t.Key[0]].Name)
	var lo, hi sql.NullString
	if err := c.QueryRowContext(ctx, fmt.Sprintf("SELECT MIN(%s), MAX(%s) FROM %s", key, key, quoteTable(t.ID))).Scan(&lo, &hi); err != nil {
		return nil, fmt.Errorf("snapshot: key range of %s: %w", t.ID, err)
	}
	if !lo.Valid || !hi.Valid {
		return nil, nil
	}
	a, ok1 := new(big.Int).SetString(lo.String, 10)
	b, ok2 := new(big.Int).SetString(hi.String, 10)
	if !ok1 || !ok2 {
		return nil, fmt.Errorf("snapshot: key range of %s: %q..%q", t.ID, lo.String, hi.String)
	}
	span := new(big.Int).Sub(b, a)
	span.Add(span, big.NewInt(1))
	if span.Cmp(big.NewInt(n)) < 0 {
		n = span.Int64()
	}
	width := new(big.Int).Div(span, big.NewInt(n))
	if new(big.Int).Mul(width, big.NewInt(n)).Cmp(span) < 0 {
		width.Add(width, big.NewInt(1))
	}
	var out []string
	bound := new(big.Int).Set(a)
	for i := int64(0); i < n; i++ {
		prev := bound.String()
		bound.Add(bound, width)
		switch {
		case i == 0:
			out = append(out, fmt.Sprintf("%s < %s", key, bound))
		case i == n-1 || bound.Cmp(b) > 0:
			out = append(out, fmt.Sprintf("%s >= %s", key, prev))
			return out, nil
		default:
			out = append(out, fmt.Sprintf("%s >= %s AND %s < %s", key, prev, key, bound))
		}
	}
	return out, nil
}

func quoteTable(id change.TableID) string {
	return mysqlconn.QuoteIdent(id.Schema) + "." + mysqlconn.QuoteIdent(id.Name)
}

// Read streams a chunk's rows out of the snapshot, converted to the texts
// the binlog decoder produces.
func (sn *snapshot) Read(ctx context.Context, ch pipeline.Chunk, fn func(change.Row) error) error {
	descs, ok := sn.descs[ch.Table]
	if !ok {
		return fmt.Errorf("snapshot: table %s is not part of this snapshot", ch.Table.ID)
	}
	c, err := sn.worker(ctx)
	if err != nil {
		return err
	}
	defer func() { sn.conns <- c }()
	q := "SELECT " + selectList(descs) + " FROM " + quoteTable(ch.Table.ID)
	if ch.Where != "" {
		q += " WHERE " + ch.Where
	}
	if err := readRows(ctx, c, q, nil, descs, fn); err != nil {
		return fmt.Errorf("snapshot: read %s (chunk %d of %d): %w", ch.Table.ID, ch.Index+1, ch.Of, err)
	}
	return nil
}

// selectList is the column list that reads a table's rows exactly.
func selectList(descs []colDesc) string {
	cols := make([]string, len(descs))
	for i, d := range descs {
		cols[i] = mysqlconn.QuoteIdent(d.name)
		if d.kind == kFloat { // exact: MySQL prints FLOAT with 6 digits only
			cols[i] = "CAST(" + cols[i] + " AS DOUBLE)"
		}
	}
	return strings.Join(cols, ", ")
}

// readRows runs a query selecting selectList(descs) and calls fn for every
// row, converted to the texts the binlog decoder produces. Rows passed to
// fn are fresh (fn may keep them).
func readRows(ctx context.Context, c querier, q string, args []any, descs []colDesc, fn func(change.Row) error) error {
	rows, err := c.QueryContext(ctx, q, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	raw := make([]sql.RawBytes, len(descs))
	ptrs := make([]any, len(descs))
	for i := range raw {
		ptrs[i] = &raw[i]
	}
	ends := make([]int, len(descs))
	var scratch []byte
	for rows.Next() {
		for i := range raw {
			if raw[i] == nil { // a nil RawBytes stays nil for '' (database/sql appends to it)
				raw[i] = make(sql.RawBytes, 0)
			}
		}
		if err := rows.Scan(ptrs...); err != nil {
			return err
		}
		scratch = scratch[:0]
		for i := range descs {
			if raw[i] != nil {
				if scratch, err = snapshotText(&descs[i], scratch, raw[i]); err != nil {
					return fmt.Errorf("column %s: %v", descs[i].name, err)
				}
			}
			ends[i] = len(scratch)
		}
		data := bytes.Clone(scratch)
		row := make(change.Row, len(descs))
		start := 0
		for i := range descs {
			if raw[i] == nil {
				row[i] = change.NullValue
			} else {
				row[i] = change.Value{State: change.Present, Data: data[start:ends[i]:ends[i]]}
			}
			start = ends[i]
		}
		if err := fn(row); err != nil {
			return err
		}
	}
	return rows.Err()
}

// describeTables reads table shapes from information_schema, built exactly
// as the binlog decoder builds them from a table map.
func (s *Source) describeTables(ctx context.Context, q querier, ids []change.TableID) ([]*change.Table, map[*change.Table][]colDesc, error) {
	bySchema := map[string][]change.TableID{}
	var schemas []string
	for _, id := range ids {
		if bySchema[id.Schema] == nil {
			schemas = append(schemas, id.Schema)
		}
		bySchema[id.Schema] = append(bySchema[id.Schema], id)
	}
	tables := make([]*change.Table, 0, len(ids))
	descs := map[*change.Table][]colDesc{}
	for _, schema := range schemas {
		cols, err := readColumns(ctx, q, schema)
		if err != nil {
			return nil, nil, err
		}
		keys, err := readKeys(ctx, q, schema)
		if err != nil {
			return nil, nil, err
		}
		for _, id := range bySchema[schema] {
			ics := cols[id.Name]
			if len(ics) == 0 {
				return nil, nil, fmt.Errorf("describe %s: the table does not exist (any more)", id)
			}
			t := &change.Table{ID: id, Columns: make([]change.Column, len(ics)), Identity: change.IdentityFull, Dialect: change.MySQL}
			d := make([]colDesc, len(ics))
			for i, ic := range ics {
				if d[i], err = fromInfoSchema(id, ic); err != nil {
					return nil, nil, err
				}
				t.Columns[i] = d[i].column()
			}
			for _, k := range keys[id.Name] {
				if ix := t.ColumnIndex(k); ix >= 0 {
					t.Key = append(t.Key, ix)
				}
			}
			tables = append(tables, t)
			descs[t] = d
		}
	}
	return tables, descs, nil
}

func readColumns(ctx context.Context, q querier, schema string) (map[string][]infoColumn, error) {
	rows, err := q.QueryContext(ctx, `SELECT TABLE_NAME, COLUMN_NAME, DATA_TYPE, COLUMN_TYPE, IS_NULLABLE, CHARACTER_SET_NAME,
		CHARACTER_MAXIMUM_LENGTH, NUMERIC_PRECISION, NUMERIC_SCALE, DATETIME_PRECISION
		FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? ORDER BY TABLE_NAME, ORDINAL_POSITION`, schema)
	if err != nil {
		return nil, fmt.Errorf("describe tables of %s: %w", schema, err)
	}
	defer rows.Close()
	out := map[string][]infoColumn{}
	for rows.Next() {
		var table string
		var ic infoColumn
		if err := rows.Scan(&table, &ic.name, &ic.dataType, &ic.columnType, &ic.nullable, &ic.charset, &ic.charLen, &ic.prec, &ic.scale, &ic.fsp); err != nil {
			return nil, fmt.Errorf("describe tables of %s: %w", schema, err)
		}
		out[table] = append(out[table], ic)
	}
	return out, rows.Err()
}

// readKeys returns each table's primary key columns in key order. Like the
// server (and so the binlog), a table without a PRIMARY KEY uses its first
// UNIQUE index over NOT NULL columns; information_schema marks that one's
// columns PRI.
func readKeys(ctx context.Context, q querier, schema string) (map[string][]string, error) {
	fail := func(err error) (map[string][]string, error) {
		return nil, fmt.Errorf("describe keys of %s: %w", schema, err)
	}
	rows, err := q.QueryContext(ctx, `SELECT TABLE_NAME, COLUMN_NAME, IS_NULLABLE FROM information_schema.COLUMNS
		WHERE TABLE_SCHEMA = ? AND COLUMN_KEY = 'PRI'`, schema)
	if err != nil {
		return fail(err)
	}
	pri := map[string]map[string]bool{}
	for rows.Next() {
		var table, col, nullable string
		if err := rows.Scan(&table, &col, &nullable); err != nil {
			rows.Close()
			return fail(err)
		}
		if pri[table] == nil {
			pri[table] = map[string]bool{}
		}
		pri[table][col] = nullable == "NO"
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fail(err)
	}
	rows, err = q.QueryContext(ctx, `SELECT TABLE_NAME, INDEX_NAME, COLUMN_NAME, SUB_PART FROM information_schema.STATISTICS
		WHERE TABLE_SCHEMA = ? AND NON_UNIQUE = 0 ORDER BY TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX`, schema)
	if err != nil {
		return fail(err)
	}
	defer rows.Close()
	type index struct {
		table, name string
		cols        []string
		ok          bool // no prefix parts, every column PRI and NOT NULL
	}
	var idx []*index
	for rows.Next() {
		var table, name, col string
		var sub sql.NullInt64
		if err := rows.Scan(&table, &name, &col, &sub); err != nil {
			return fail(err)
		}
		if len(idx) == 0 || idx[len(idx)-1].table != table || idx[len(idx)-1].name != name {
			idx = append(idx, &index{table: table, name: name, ok: true})
		}
		ix := idx[len(idx)-1]
		ix.cols = append(ix.cols, col)
		ix.ok = ix.ok && !sub.Valid && pri[table][col]
	}
	if err := rows.Err(); err != nil {
		return fail(err)
	}
	out := map[string][]string{}
	for _, ix := range idx {
		if !ix.ok || len(ix.cols) != len(pri[ix.table]) {
			continue
		}
		if _, done := out[ix.table]; !done || ix.name == "PRIMARY" {
			out[ix.table] = slices.Clone(ix.cols)
		}
	}
	return out, nil
}

func (s *Source) errNoTables() error {
	return fmt.Errorf("source.tables %v (minus source.exclude %v) matches no table in the source; check the patterns (database.table, * and ? globs) "+
		"and that the user may SELECT from the tables", s.opts.Tables, s.opts.Exclude)
}

// remember keeps shapes the snapshot read so the stream reuses the same
// *change.Table for an unchanged shape.
func (s *Source) remember(ts []*change.Table) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, t := range ts {
		s.known[t.ID] = t
	}
}

func (s *Source) knownTable(id change.TableID) *change.Table {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.known[id]
}
