// Package mysql reads changes from the binary log of MySQL 8 and MariaDB
// 10.5+ (row format, full row image, full row metadata) and copies the
// existing rows consistently with a binlog position.
//
// The flow:
//
//   - New connects, tells MariaDB from MySQL by VERSION() and reads the
//     server's collations (to turn the binlog's collation ids into character
//     sets). Check lists every server setting or privilege that is wrong.
//   - Snapshot (optional) briefly takes FLUSH TABLES WITH READ LOCK, opens a
//     START TRANSACTION WITH CONSISTENT SNAPSHOT on every worker connection,
//     reads the binlog position and the table shapes, and unlocks. Chunks of
//     the tables are then read in parallel, all from the same view.
//   - Start connects a go-mysql BinlogSyncer as a replica (its own server id)
//     at a Position: after the GTID set when the server has GTIDs, else at
//     the binlog file and offset. A goroutine turns events into whole
//     committed transactions (change.Txn): the table map event before each
//     rows event gives the table's shape as it was when the event was
//     written (binlog_row_metadata=FULL), so old events decode with their own
//     shape and DDL needs no schema history. Transactions touching no selected
//     table are skipped. On any connection trouble the goroutine reconnects
//     from the end of the last whole transaction it read, with backoff, so a
//     restarted source server neither stops Sluice nor duplicates or drops a
//     transaction. Before each connection the resume point is checked
//     against the server's binlog (identity.go): on another server (a
//     promoted replica) reading resumes by GTID; a binlog that was reset or
//     replaced under the position stops Sluice with ErrLogChanged, except
//     a RESET MASTER under a session that had read the old binlog to its
//     end, which is followed into the new binlog (Position.Epoch).
//     Transactions rolled back in the binlog (ROLLBACK, ROLLBACK TO
//     SAVEPOINT; see savepoint.go) are never delivered.
//   - Next hands out the transactions; memory between the reader and the
//     pipeline is bounded by a byte budget. Ack is a no-op: a MySQL server
//     keeps its binlogs for its own retention time, not per replica.
//
// Column types and values are those change.MySQL describes. MariaDB's JSON
// is a LONGTEXT alias and arrives as longtext.
package mysql

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"path"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/rs/zerolog"

	"github.com/sluicecdc/sluice/checkpoint"
	"github.com/sluicecdc/sluice/pkg/change"
	"github.com/sluicecdc/sluice/pkg/mysqlconn"
	"github.com/sluicecdc/sluice/pkg/pipeline"
	"github.com/sluicecdc/sluice/source/internal/bfqueue"
	"github.com/sluicecdc/sluice/source/internal/feed"
)

// Options configure a Source.
type Options struct {
	DSN             string   // mysql://user:pass@host:port/db (pkg/mysqlconn.Parse)
	Tables, Exclude []string // patterns "db.table" with * and ? globs (schema = database)
	// ServerID is the replica server id of the binlog connection: unique
	// among the source's replicas. 0 derives a stable one from the DSN and
	// the table patterns, in 1_000_000..2^31.
	ServerID        uint32
	SnapshotWorkers int    // parallel chunk readers during the snapshot (0 = 4)
	SpillDir        string // where large transactions spill ("" = os.TempDir)
	Log             zerolog.Logger
	// Reconnecting hears of a lost connection being retried (true) and
	// of the source being back (false); nil: nobody listens.
	Reconnecting func(lost bool)
}

// ErrPositionLost means the binlog the checkpoint points into is no longer
// on the server, so the changes since then can no longer be read.
var ErrPositionLost = errors.New("binlog position no longer on the source")

// Source is the MySQL/MariaDB binlog source.
type Source struct {
	opts      Options
	dsn       *mysqlconn.Parsed
	db        *sql.DB // metadata queries
	flavor    string  // "mariadb" or "mysql"
	version   string
	serverID  uint32
	cs        *charsets
	chunkRows int64    // rows per snapshot chunk
	selCache  sync.Map // "db\x00table" → bool

	mu    sync.Mutex
	known map[change.TableID]*change.Table // shapes the snapshot read, reused by the stream

	parts    bool // large transactions go in parts (DeliverParts)
	partRows int  // changes per part (tests make it small)
	out      feed.Feed
	inflight atomic.Int64  // bytes of delivered transactions not yet closed
	room     chan struct{} // signalled when some were closed
	stop     context.CancelFunc
	stopped  chan struct{}

	// Online back-fills (backfill.go) and new tables (newtables.go).
	bf        *bfqueue.Queue
	tr        *tracker       // keys the stream changed while chunks were read
	bfReady   chan *chunkOut // chunks read, for the stream loop to emit
	bfStopped chan struct{}
	epoch     atomic.Uint32 // the stream's Position.Epoch, for chunk positions
	request   func(ctx context.Context, bs []checkpoint.Backfill) error
}

var (
	_ pipeline.Source      = (*Source)(nil)
	_ pipeline.Snapshotter = (*Source)(nil)
)

// New checks the options, connects and detects the server flavor. Server
// settings are only checked by Start (and reported by Check), so that
// `sluice check` can list them all.
func New(ctx context.Context, opts Options) (*Source, error) {
	if opts.SnapshotWorkers <= 0 {
		opts.SnapshotWorkers = 4
	}
	p, err := mysqlconn.Parse(opts.DSN)
	if err != nil {
		return nil, fmt.Errorf("source.dsn: %v", err)
	}
	for _, pat := range append(slices.Clone(opts.Tables), opts.Exclude...) {
		db, t, ok := strings.Cut(pat, ".")
		_, e1 := path.Match(db, "")
		_, e2 := path.Match(t, "")
		if !ok || db == "" || t == "" || e1 != nil || e2 != nil {
			return nil, fmt.Errorf("source table pattern %q: want database.table with * and ? globs", pat)
		}
	}
	db, _, err := mysqlconn.Open(opts.DSN)
	if err != nil {
		return nil, fmt.Errorf("source.dsn: %v", err)
	}
	db.SetMaxOpenConns(4)
	db.SetMaxIdleConns(2)
	s := &Source{opts: opts, dsn: p, db: db, known: map[change.TableID]*change.Table{}, chunkRows: chunkRows,
		bf: bfqueue.New(), tr: newTracker(), bfReady: make(chan *chunkOut)}
	if err := db.QueryRowContext(ctx, "SELECT VERSION()").Scan(&s.version); err != nil {
		db.Close()
		return nil, fmt.Errorf("connect to source %s@%s: %w", p.User, p.Addr(), err)
	}
	s.flavor = mysqlconn.Flavor(s.version)
	if s.cs, err = loadCharsets(ctx, db); err != nil {
		db.Close()
		return nil, err
	}
	s.serverID = opts.ServerID
	if s.serverID == 0 {
		s.serverID = deriveServerID(p, opts.Tables, opts.Exclude)
	}
	opts.Log.Info().Str("flavor", s.flavor).Str("version", s.version).Uint32("server_id", s.serverID).Msg("connected to source")
	return s, nil
}

// deriveServerID makes a stable replica server id from where and what we
// replicate, in 1_000_000..2^31-1.
func deriveServerID(p *mysqlconn.Parsed, tables, exclude []string) uint32 {
	h := fnv.New32a()
	fmt.Fprintf(h, "%s@%s/%s|%s|%s", p.User, p.Addr(), p.Database, strings.Join(tables, ","), strings.Join(exclude, ","))
	const lo = 1_000_000
	return lo + h.Sum32()%(1<<31-lo)
}

// ServerID is the replica server id the binlog connection uses.
func (s *Source) ServerID() uint32 { return s.serverID }

// Flavor is "mariadb" or "mysql".
func (s *Source) Flavor() string { return s.flavor }

// systemSchemas are never replicated.
var systemSchemas = []string{"mysql", "information_schema", "performance_schema", "sys"}

// selected tells whether the patterns pick a table. Safe for concurrent use.
func (s *Source) selected(schema, table string) bool {
	key := schema + "\x00" + table
	if v, ok := s.selCache.Load(key); ok {
		return v.(bool)
	}
	id := change.TableID{Schema: schema, Name: table}
	ok := !slices.Contains(systemSchemas, schema) && id.MatchesAny(s.opts.Tables) && !id.MatchesAny(s.opts.Exclude)
	s.selCache.Store(key, ok)
	return ok
}

// selectTables lists the base tables the patterns pick, sorted.
func (s *Source) selectTables(ctx context.Context, q querier) ([]change.TableID, error) {
	rows, err := q.QueryContext(ctx, `SELECT TABLE_SCHEMA, TABLE_NAME FROM information_schema.TABLES
		WHERE TABLE_TYPE = 'BASE TABLE' ORDER BY TABLE_SCHEMA, TABLE_NAME`)
	if err != nil {
		return nil, fmt.Errorf("list source tables: %w", err)
	}
	defer rows.Close()
	var out []change.TableID
	for rows.Next() {
		var id change.TableID
		if err := rows.Scan(&id.Schema, &id.Name); err != nil {
			return nil, fmt.Errorf("list source tables: %w", err)
		}
		if s.selected(id.Schema, id.Name) {
			out = append(out, id)
		}
	}
	return out, rows.Err()
}

// scanStrings scans the current row of a SHOW statement, whose columns
// differ between servers and versions, as n nullable strings.
func scanStrings(rows *sql.Rows, n int) ([]sql.NullString, error) {
	vals := make([]sql.NullString, n)
	ptrs := make([]any, n)
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	return vals, rows.Scan(ptrs...)
}

// querier is a *sql.DB or *sql.Conn.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// ParsePosition reads back a position's text form.
func (s *Source) ParsePosition(text string) (change.Position, error) {
	p, err := ParsePosition(text)
	if err != nil {
		return nil, err
	}
	return p, nil
}

// Next returns the next committed transaction.
func (s *Source) Next(ctx context.Context) (*change.Txn, error) { return s.out.Next(ctx) }

// Ack does nothing: the server keeps binlogs for its retention time
// (binlog_expire_logs_seconds), not per replica.
func (s *Source) Ack(context.Context, change.Position) error { return nil }

// Close stops the stream and closes every connection.
func (s *Source) Close() error {
	if s.stop != nil {
		s.stop()
		<-s.stopped
		<-s.bfStopped
		s.stop = nil
	}
	return s.db.Close()
}

// currentPosition is the server's binlog position now (SHOW MASTER STATUS,
// or SHOW BINARY LOG STATUS on MySQL 8.4+) with its GTID state.
func (s *Source) currentPosition(ctx context.Context, q querier) (Position, error) {
	vals, err := s.masterStatus(ctx, q)
	if err != nil {
		return Position{}, err
	}
	p := Position{File: vals[0].String}
	var n uint64
	if _, err := fmt.Sscan(vals[1].String, &n); err != nil || n > 1<<32-1 {
		return Position{}, fmt.Errorf("read the source's binlog position: bad offset %q", vals[1].String)
	}
	p.Pos = uint32(n)
	var gtid string
	if s.flavor == "mariadb" {
		var g sql.NullString
		if err := q.QueryRowContext(ctx, "SELECT BINLOG_GTID_POS(?, ?)", p.File, p.Pos).Scan(&g); err != nil {
			return Position{}, fmt.Errorf("read the source's GTID position: %w", err)
		}
		gtid = g.String
	} else if len(vals) > 4 && s.mysqlGTIDs(ctx) {
		gtid = strings.ReplaceAll(strings.ReplaceAll(vals[4].String, "\n", ""), " ", "")
	}
	if gtid != "" {
		if p.GTID, err = normalizeGTID(gtid); err != nil {
			return Position{}, err
		}
	}
	if p.Server, err = serverIDOf(ctx, q); err != nil {
		return Position{}, err
	}
	return p, nil
}

// serverIDOf is the server_id of the server q is connected to: the binlog
// positions read there belong to that server's log.
func serverIDOf(ctx context.Context, q querier) (uint32, error) {
	var id uint32
	if err := q.QueryRowContext(ctx, "SELECT @@GLOBAL.server_id").Scan(&id); err != nil {
		return 0, fmt.Errorf("read the source's server_id: %w", err)
	}
	return id, nil
}

// masterStatus is the row of SHOW MASTER STATUS (SHOW BINARY LOG STATUS
// on MySQL 8.4+): file, position, ..., and on MySQL the executed GTID set.
func (s *Source) masterStatus(ctx context.Context, q querier) ([]sql.NullString, error) {
	rows, err := q.QueryContext(ctx, "SHOW MASTER STATUS")
	if err != nil && s.flavor == "mysql" {
		rows, err = q.QueryContext(ctx, "SHOW BINARY LOG STATUS")
	}
	if err != nil {
		return nil, fmt.Errorf("read the source's binlog position: %w%s", err, privilegeHint(err, s.flavor))
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return nil, err
		}
		return nil, errors.New("the source has no binary log: log_bin is OFF; set log_bin (e.g. log_bin = binlog in my.cnf [mysqld]) and restart the server")
	}
	vals, err := scanStrings(rows, len(cols))
	if err == nil && len(vals) < 2 {
		err = fmt.Errorf("SHOW MASTER STATUS returned %d columns", len(vals))
	}
	if err != nil {
		return nil, fmt.Errorf("read the source's binlog position: %w", err)
	}
	return vals, nil
}

// mysqlGTIDs tells whether a MySQL server runs with gtid_mode=ON (only then
// do GTID sets name every transaction).
func (s *Source) mysqlGTIDs(ctx context.Context) bool {
	var mode string
	return s.db.QueryRowContext(ctx, "SELECT @@GLOBAL.gtid_mode").Scan(&mode) == nil && strings.EqualFold(mode, "ON")
}

// privilegeHint adds the fix to an access-denied error.
func privilegeHint(err error, flavor string) string {
	if !isAccessDenied(err) {
		return ""
	}
	if flavor == "mariadb" {
		return "; grant it with GRANT BINLOG MONITOR, REPLICATION SLAVE ON *.* TO <user>"
	}
	return "; grant it with GRANT REPLICATION CLIENT, REPLICATION SLAVE ON *.* TO <user>"
}

// permanentError is an error a reconnect cannot fix.
type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

func permanentf(format string, args ...any) error {
	return &permanentError{fmt.Errorf(format, args...)}
}

// slogToZerolog passes go-mysql's log lines to our logger at debug level:
// its errors are ours to report, once, with context.
type slogToZerolog struct {
	log   zerolog.Logger
	attrs []slog.Attr
}

func (h *slogToZerolog) Enabled(context.Context, slog.Level) bool {
	return h.log.GetLevel() <= zerolog.DebugLevel
}

func (h *slogToZerolog) Handle(_ context.Context, r slog.Record) error {
	ev := h.log.Debug().Str("lib", "go-mysql")
	for _, a := range h.attrs {
		ev = ev.Str(a.Key, a.Value.String())
	}
	r.Attrs(func(a slog.Attr) bool {
		if a.Key != "config" { // the whole syncer config is noise
			ev = ev.Str(a.Key, a.Value.String())
		}
		return true
	})
	ev.Msg(r.Message)
	return nil
}

func (h *slogToZerolog) WithAttrs(as []slog.Attr) slog.Handler {
	return &slogToZerolog{log: h.log, attrs: append(slices.Clone(h.attrs), as...)}
}

func (h *slogToZerolog) WithGroup(string) slog.Handler { return h }

// reconnecting tells the listener, if any, that the connection is lost
// and being retried (true) or back (false).
func (o Options) reconnecting(lost bool) {
	if o.Reconnecting != nil {
		o.Reconnecting(lost)
	}
}
