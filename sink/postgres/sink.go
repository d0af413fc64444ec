// Package postgres is the PostgreSQL sink: it merges changes into target
// tables (upsert and delete by primary key), many source transactions to one
// target transaction, and keeps the last applied position in the target in
// that same transaction so replays after a crash are skipped exactly. In
// the history and append modes (Options.Mode, see sink/mode) it keeps every
// version of every row, or one row per change, instead (history.go).
package postgres

import (
	"context"
	"errors"
	"fmt"
	"github.com/rs/zerolog"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sluicecdc/sluice/pkg/change"
	"github.com/sluicecdc/sluice/pkg/pipeline"
	"github.com/sluicecdc/sluice/pkg/typemap"
	"github.com/sluicecdc/sluice/sink/mode"
	"github.com/sluicecdc/sluice/sink/schemachange"
	"github.com/sluicecdc/sluice/sink/sqlsink"
)

// Options configure a Sink.
type Options struct {
	DSN      string
	Schema   string // target schema for every table; "" = the source schema
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

// Sink is the PostgreSQL sink.
type Sink struct {
	opts Options
	cfg  *pgx.ConnConfig
	conn *pgx.Conn

	conv *typemap.Converter // other dialects' tables and values into PostgreSQL's

	poolOnce sync.Once
	pool     *pgxpool.Pool
	poolErr  error

	sqlsink.Applier               // Apply, Savepoint, RollbackTo: the core's
	core            *sqlsink.Core // batching, planning and the modes; this package is its Dialect

	inTx       bool
	needBegin  bool                             // in a transaction whose BEGIN is not sent yet
	targets    map[*change.Table]*target        // by target shape
	prepared   map[change.TableID]*change.Table // the last target shape prepared per target table, for type changes
	snapAt     time.Time                        // when the snapshot was taken, for its rows' times
	stageSeq   int
	unflushed  []commitMark // commits not yet known to be on the target's disk
	walChecked time.Time    // when the flushed position was last read
	durable    change.Position
}

var (
	_ pipeline.Sink           = (*Sink)(nil)
	_ pipeline.Loader         = (*Sink)(nil)
	_ pipeline.PositionKeeper = (*Sink)(nil)
	_ pipeline.PartSink       = (*Sink)(nil)
)

// sessionParams make value text unambiguous in both directions, and SQL
// text too: literals Sluice writes into statements (enum labels in DDL,
// the pipeline's position) double their quotes and nothing else, which is
// only safe when a backslash is an ordinary character, whatever the
// server's or the database's default.
var sessionParams = map[string]string{
	"standard_conforming_strings": "on",
	"DateStyle":                   "ISO, YMD",
	"IntervalStyle":               "postgres",
	"TimeZone":                    "UTC",
	"client_encoding":             "UTF8",
	"application_name":            "sluice",
	// Commits need not wait for the disk: Durable tells what is on disk,
	// and only that is acknowledged to the source.
	"synchronous_commit": "off",
}

// New connects to the target and makes sure the position table exists.
func New(ctx context.Context, opts Options) (*Sink, error) {
	if problems := opts.Mode.Validate(); len(problems) > 0 {
		return nil, errors.New(strings.Join(problems, "; "))
	}
	cfg, err := parseDSN(opts.DSN)
	if err != nil {
		return nil, err
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect to target: %w", err)
	}
	s := &Sink{opts: opts, cfg: cfg, conn: conn, conv: sqlsink.NewConverter(change.Postgres, opts.Log, opts.LogValues), targets: map[*change.Table]*target{},
		prepared: map[change.TableID]*change.Table{}}
	s.core = sqlsink.New(dialect{s}, sqlsink.Config{Mode: opts.Mode, LogValues: opts.LogValues,
		ChunkRows: opts.ChunkRows, ChunkBytes: opts.ChunkBytes, Log: opts.Log})
	s.Applier = s.core.Applier()
	if _, err := conn.Exec(ctx, ddlLock+`; CREATE SCHEMA IF NOT EXISTS sluice;
		CREATE TABLE IF NOT EXISTS sluice.positions (
			pipeline text PRIMARY KEY, position text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
		conn.Close(ctx)
		return nil, fmt.Errorf("create sluice.positions in target: %w", err)
	}
	return s, nil
}

// AppliedPosition returns the position of the last transaction committed to
// the target, "" if none.
func (s *Sink) AppliedPosition(ctx context.Context) (string, error) {
	var pos string
	err := s.conn.QueryRow(ctx, `SELECT position FROM sluice.positions WHERE pipeline = $1`, s.opts.Pipeline).Scan(&pos)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read applied position from target: %w", err)
	}
	// Its commit may not be on the target's disk yet (commits do not wait
	// for it): the pipeline reads on from here and the source will release
	// its log up to here, so make it durable first.
	if err := s.barrier(ctx); err != nil {
		return "", err
	}
	return pos, nil
}

// Flush executes what is pending, records the last position and commits.
func (s *Sink) Flush(ctx context.Context) error {
	if err := s.core.Broken(); err != nil {
		return err
	}
	if !s.inTx {
		return nil
	}
	if err := s.core.ExecAll(ctx); err != nil {
		return s.core.Fail(err)
	}
	// The commit is asynchronous (synchronous_commit = off, as PostgreSQL's
	// own subscriptions do); the target's WAL position right after it says
	// when it is on disk, which Durable reports.
	sql := "COMMIT; " + walPositions
	if s.needBegin {
		sql = "BEGIN; " + sql
	}
	pos := s.core.LastPos()
	if pos != nil {
		sql = fmt.Sprintf(`INSERT INTO sluice.positions (pipeline, position, applied_at) VALUES (%s, %s, now())
			ON CONFLICT (pipeline) DO UPDATE SET position = EXCLUDED.position, applied_at = EXCLUDED.applied_at; %s`,
			quoteLiteral(s.opts.Pipeline), quoteLiteral(pos.String()), sql)
	}
	res, err := s.conn.PgConn().Exec(ctx, sql).ReadAll()
	if err != nil {
		return s.core.Fail(fmt.Errorf("commit target transaction: %w", err))
	}
	s.inTx, s.needBegin = false, false
	s.core.SetPartOpen(false)
	for _, tg := range s.targets {
		tg.recopy = false
	}
	s.core.Replay().Committed()
	if pos != nil {
		return s.noteCommit(res[len(res)-1], pos)
	}
	return nil
}

// Close rolls back anything not flushed and disconnects.
func (s *Sink) Close() error {
	ctx := context.Background()
	if s.pool != nil {
		s.pool.Close()
	}
	return s.conn.Close(ctx)
}

func quoteLiteral(v string) string {
	return "'" + strings.ReplaceAll(v, "'", "''") + "'"
}

// parseDSN reads sink.dsn and pins the session parameters, for every
// connection Sluice makes to the target.
func parseDSN(dsn string) (*pgx.ConnConfig, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("parse sink.dsn: %w", redactErr(err))
	}
	for k, v := range sessionParams {
		cfg.RuntimeParams[k] = v
	}
	return cfg, nil
}

// redactErr keeps a DSN parse error from echoing the DSN (and its
// password): pgconn quotes the connection string, masking passwords only
// where it recognises them, and the error inside may quote it too.
func redactErr(err error) error {
	var pe *pgconn.ParseConfigError
	if errors.As(err, &pe) {
		return errors.New("invalid connection string (use postgres://user:password@host:5432/db, or key=value pairs)")
	}
	return err
}

// begin sends a pending BEGIN on its own.
func (s *Sink) begin(ctx context.Context) error {
	if !s.needBegin {
		return nil
	}
	if _, err := s.conn.Exec(ctx, "BEGIN"); err != nil {
		return s.core.Fail(fmt.Errorf("begin target transaction: %w", err))
	}
	s.needBegin = false
	return nil
}

// exec runs one statement, sending a pending BEGIN in the same round trip.
func (s *Sink) exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	if !s.needBegin {
		return s.conn.Exec(ctx, sql, args...)
	}
	b := &pgx.Batch{}
	b.Queue("BEGIN")
	b.Queue(sql, args...)
	br := s.conn.SendBatch(ctx, b)
	if _, err := br.Exec(); err != nil {
		br.Close()
		return pgconn.CommandTag{}, s.core.Fail(fmt.Errorf("begin target transaction: %w", err))
	}
	s.needBegin = false
	tag, err := br.Exec()
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	return tag, err
}
