// Package mysql is the MySQL/MariaDB sink: it merges changes into target
// tables (upsert and delete by primary key), many source transactions to one
// target transaction, and keeps the last applied position in the target in
// that same transaction so replays after a crash are skipped exactly. In
// the history and append modes (Options.Mode, see sink/mode) it keeps every
// version of every row, or one row per change, instead (history.go).
//
// MySQL commits implicitly before every DDL statement, so target tables are
// created or altered only between source transactions, after committing what
// is pending together with its position (see prepare in target.go).
package mysql

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/rs/zerolog"

	"github.com/sluicecdc/sluice/pkg/change"
	"github.com/sluicecdc/sluice/pkg/mysqlconn"
	"github.com/sluicecdc/sluice/pkg/pipeline"
	"github.com/sluicecdc/sluice/pkg/typemap"
	"github.com/sluicecdc/sluice/sink/mode"
	"github.com/sluicecdc/sluice/sink/schemachange"
	"github.com/sluicecdc/sluice/sink/sqlsink"
)

// Options configure a Sink.
type Options struct {
	// DSN is mysql://user:pass@host:port/db. The sink does not use its
	// database (every statement names one, and it may not exist yet): the
	// CLI makes it the default Schema.
	DSN      string
	Schema   string // target database for every table; "" = each table's own schema (the source's, or a transform's target)
	Pipeline string // the pipeline's name, keys the stored position
	Log      zerolog.Logger
	// ChunkRows and ChunkBytes bound the changes held before they are
	// executed against the target (inside the open transaction).
	ChunkRows  int
	ChunkBytes int
	// Mode says how changes are written (merge, the zero value, history or
	// append) and which metadata columns rows get.
	Mode mode.Options
	// LogValues lets errors quote row values (log.values); otherwise they
	// name the table and key columns only (see sink/redact).
	LogValues bool
	// SchemaChanges says what happens when a source column's type changes
	// (sink.schema_changes, see sink/schemachange).
	SchemaChanges schemachange.Policy
}

// Sink is the MySQL/MariaDB sink.
type Sink struct {
	opts Options
	db   *sql.DB   // pool: the apply connection, loads, DDL while parts are open
	conn *sql.Conn // the apply connection; the open target transaction lives here
	srv  server
	conv *typemap.Converter // other dialects' tables and values into MySQL's

	infileOnce  sync.Once // LOAD DATA LOCAL tried
	infileOK    bool
	infileBuf   []byte // reused by applyInfile
	infileLoads int    // LOAD DATA statements applyInfile ran (for tests)

	sqlsink.Applier               // Apply, Savepoint, RollbackTo: the core's
	core            *sqlsink.Core // batching, planning and the modes; this package is its Dialect

	mu      sync.Mutex                       // guards targets, shapes, origins and lastSrc (Load runs concurrently)
	targets map[*change.Table]*target        // by target shape (mode.Shape.Table)
	shapes  map[change.TableID]*change.Table // the last target shape prepared per table
	origins map[*change.Table]*change.Table  // converted source shape → the source's own (other dialects)
	lastSrc map[change.TableID]*change.Table // the source's own shape last prepared per table, for type changes
	snapAt  time.Time                        // when the snapshot was taken, for its rows' times

	inTx    bool      // changes applied since the last commit
	begun   bool      // BEGIN sent on conn
	renamed bool      // the transaction renamed target columns: commit its position at once
	used    time.Time // when the apply connection was last used
}

var (
	_ pipeline.Sink           = (*Sink)(nil)
	_ pipeline.Loader         = (*Sink)(nil)
	_ pipeline.PositionKeeper = (*Sink)(nil)
	_ pipeline.PartSink       = (*Sink)(nil)
)

// server is what New learns about the target.
type server struct {
	flavor      string // "mariadb" or "mysql"
	version     string
	collation   string // binary NO PAD collation for every table Sluice creates
	maxStmt     int    // bytes one statement may take
	explicitTS  bool   // explicit_defaults_for_timestamp
	flushCommit int    // innodb_flush_log_at_trx_commit
	localInfile bool   // the server accepts LOAD DATA LOCAL
}

// sqlMode makes the target refuse what it cannot store exactly (strict),
// accept zero dates the source may hold, and keep a 0 in an auto-increment
// column as 0.
const sqlMode = "'STRICT_ALL_TABLES,NO_AUTO_VALUE_ON_ZERO,NO_ENGINE_SUBSTITUTION'"

// maxStmtCap bounds a statement even when max_allowed_packet is huge: big
// enough to amortise round trips, small enough to keep memory in check.
const maxStmtCap = 8 << 20

// open parses dsn and returns a pool whose every connection has Sluice's
// session settings (mysqlconn adds time_zone '+00:00' and utf8mb4).
func open(dsn string, log zerolog.Logger) (*sql.DB, *mysqlconn.Parsed, error) {
	p, err := mysqlconn.Parse(dsn)
	if err != nil {
		return nil, nil, fmt.Errorf("parse sink.dsn: %w", err)
	}
	cfg, err := p.Config()
	if err != nil {
		return nil, nil, fmt.Errorf("parse sink.dsn: %w", err)
	}
	cfg.DBName = "" // see Options.DSN: a database to be created must not fail the connection
	cfg.Params["sql_mode"] = sqlMode
	cfg.Params["foreign_key_checks"] = "0"
	cfg.ClientFoundRows = true // an UPDATE reports the rows it matched, even when unchanged
	cfg.Logger = driverLog{log}
	conn, err := mysql.NewConnector(cfg)
	if err != nil {
		return nil, nil, fmt.Errorf("parse sink.dsn: %w", err)
	}
	return sql.OpenDB(conn), p, nil
}

// driverLog sends the driver's own messages (e.g. about a connection the
// server closed; the error reaches the caller too) to the debug log.
type driverLog struct{ log zerolog.Logger }

func (l driverLog) Print(v ...any) { l.log.Debug().Str("driver", "mysql").Msg(fmt.Sprint(v...)) }

// New connects to the target and makes sure the position table exists.
func New(ctx context.Context, opts Options) (*Sink, error) {
	if problems := opts.Mode.Validate(); len(problems) > 0 {
		return nil, errors.New(strings.Join(problems, "; "))
	}
	db, p, err := open(opts.DSN, opts.Log)
	if err != nil {
		return nil, err
	}
	s := &Sink{opts: opts, db: db, conv: sqlsink.NewConverter(change.MySQL, opts.Log, opts.LogValues), targets: map[*change.Table]*target{},
		shapes: map[change.TableID]*change.Table{}, origins: map[*change.Table]*change.Table{}, lastSrc: map[change.TableID]*change.Table{}}
	s.core = sqlsink.New(dialect{s}, sqlsink.Config{Mode: opts.Mode, LogValues: opts.LogValues,
		ChunkRows: opts.ChunkRows, ChunkBytes: opts.ChunkBytes, Log: opts.Log})
	s.Applier = s.core.Applier()
	if err := s.connect(ctx, p); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

func (s *Sink) connect(ctx context.Context, p *mysqlconn.Parsed) error {
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("connect to target %s as %s: %w", p.Addr(), p.User, err)
	}
	s.conn = conn
	var maxPacket int64
	err = conn.QueryRowContext(ctx, `SELECT VERSION(), @@max_allowed_packet, @@explicit_defaults_for_timestamp,
		@@innodb_flush_log_at_trx_commit, @@local_infile`).Scan(&s.srv.version, &maxPacket, &s.srv.explicitTS, &s.srv.flushCommit, &s.srv.localInfile)
	if err != nil {
		return fmt.Errorf("read target settings: %w", err)
	}
	s.srv.flavor = mysqlconn.Flavor(s.srv.version)
	s.srv.collation = noPadBinary(s.srv.flavor, s.srv.version)
	s.srv.maxStmt = int(min(maxPacket/2, maxStmtCap))
	if s.srv.flushCommit != 1 {
		s.opts.Log.Warn().Int("innodb_flush_log_at_trx_commit", s.srv.flushCommit).
			Msg("the target may lose acknowledged commits if it crashes; run SET GLOBAL innodb_flush_log_at_trx_commit=1 there")
	}
	for _, q := range []string{
		"CREATE DATABASE IF NOT EXISTS `sluice` DEFAULT CHARACTER SET utf8mb4 COLLATE " + s.srv.collation,
		"CREATE TABLE IF NOT EXISTS `sluice`.`positions` (pipeline varchar(255) NOT NULL PRIMARY KEY, " +
			"position text NOT NULL, updated_at datetime(6) NOT NULL) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=" + s.srv.collation,
	} {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("create sluice.positions in target: %w", err)
		}
	}
	return nil
}

// noPadBinary is the collation that keeps every distinct source string
// distinct ('a' vs 'A', 'a' vs 'a ').
func noPadBinary(flavor, version string) string {
	switch {
	case flavor == "mariadb":
		return "utf8mb4_nopad_bin"
	case strings.HasPrefix(version, "5."):
		return "utf8mb4_bin" // MySQL 5.7 has no NO PAD collation
	}
	return "utf8mb4_0900_bin"
}

// AppliedPosition returns the position of the last transaction committed to
// the target, "" if none.
func (s *Sink) AppliedPosition(ctx context.Context) (string, error) {
	var pos string
	err := s.conn.QueryRowContext(ctx, "SELECT position FROM `sluice`.`positions` WHERE pipeline = ?", s.opts.Pipeline).Scan(&pos)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read applied position from target: %w", err)
	}
	return pos, nil
}

// checkRows refuses rows that do not fit their table, which would
// otherwise crash the executor.
func checkRows(c *change.Change) error {
	n := len(c.Table.Columns)
	if (c.Before != nil && len(c.Before) != n) || (c.After != nil && len(c.After) != n) {
		return fmt.Errorf("apply %s to %s: the change's rows do not have the table's %d columns", c.Op, c.Table.ID, n)
	}
	if (c.Op == change.Insert || c.Op == change.Update || c.Op == change.Read) && c.After == nil {
		return fmt.Errorf("apply %s to %s: the change has no new row", c.Op, c.Table.ID)
	}
	return nil
}

// Flush executes what is pending, records the last position and commits.
func (s *Sink) Flush(ctx context.Context) error {
	if err := s.core.Broken(); err != nil {
		return err
	}
	if !s.inTx {
		return nil
	}
	if err := s.commit(ctx); err != nil {
		return s.core.Fail(err)
	}
	s.inTx = false
	s.core.SetPartOpen(false)
	return nil
}

// commit executes what is pending, stores the last applied position with
// it and commits.
func (s *Sink) commit(ctx context.Context) error {
	if err := s.core.ExecAll(ctx); err != nil {
		return err
	}
	if pos := s.core.LastPos(); pos != nil {
		_, err := s.exec(ctx, "INSERT INTO `sluice`.`positions` (pipeline, position, updated_at) VALUES (?, ?, UTC_TIMESTAMP(6)) "+
			"ON DUPLICATE KEY UPDATE position = VALUES(position), updated_at = VALUES(updated_at)", s.opts.Pipeline, pos.String())
		if err != nil {
			return fmt.Errorf("store applied position in target: %w", err)
		}
	}
	if !s.begun {
		return nil
	}
	if _, err := s.conn.ExecContext(ctx, "COMMIT"); err != nil {
		return fmt.Errorf("commit target transaction: %w", err)
	}
	s.begun = false
	s.core.Replay().Committed()
	return nil
}

// idleCheck is how long the apply connection may sit unused before it is
// pinged before use: servers close idle connections (wait_timeout), and
// between transactions a new connection loses nothing.
const idleCheck = time.Minute

// revive replaces the apply connection if it was closed while idle. Only
// called between target transactions.
func (s *Sink) revive(ctx context.Context) error {
	if s.begun || time.Since(s.used) < idleCheck {
		s.used = time.Now()
		return nil
	}
	s.used = time.Now()
	if s.conn.PingContext(ctx) == nil {
		return nil
	}
	s.conn.Close()
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("reconnect to target: %w", err)
	}
	s.conn = conn
	s.opts.Log.Info().Msg("reconnected to the target after its connection closed while idle")
	return nil
}

// exec runs one statement inside the open target transaction, beginning it
// first if needed.
func (s *Sink) exec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	if err := s.begin(ctx); err != nil {
		return nil, err
	}
	return s.conn.ExecContext(ctx, q, args...)
}

// begin opens the target transaction unless it is open.
func (s *Sink) begin(ctx context.Context) error {
	if s.begun {
		return nil
	}
	if _, err := s.conn.ExecContext(ctx, "BEGIN"); err != nil {
		return fmt.Errorf("begin target transaction: %w", err)
	}
	s.begun = true
	return nil
}

// Close disconnects; the server rolls back anything not flushed.
func (s *Sink) Close() error {
	s.conn.Close()
	return s.db.Close()
}

// The typemap converter is the identity for MySQL-dialect input; these
// skip even the call then.

func (s *Sink) table(t *change.Table) (*change.Table, error) {
	if t.Dialect == change.MySQL {
		return t, nil
	}
	return s.conv.Table(t)
}

func (s *Sink) change(c *change.Change) (*change.Change, error) {
	if c.Table.Dialect == change.MySQL {
		return c, nil
	}
	return s.conv.Change(c)
}

func (s *Sink) row(t *change.Table, r change.Row) (change.Row, error) {
	if t.Dialect == change.MySQL {
		return r, nil
	}
	return s.conv.Row(t, r)
}
