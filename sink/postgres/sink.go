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
	"github.com/sluicecdc/sluice/sink/plan"
	"github.com/sluicecdc/sluice/sink/redact"
	"github.com/sluicecdc/sluice/sink/schemachange"
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

	inTx       bool
	partsOpen  bool // parts of a running source transaction are applied: never commit early
	needBegin  bool // in a transaction whose BEGIN is not sent yet
	broken     error
	plans      map[change.TableID]*plan.Plan
	logs       map[change.TableID]*mode.Log // history and append modes
	shapes     map[*change.Table]*mode.Shape
	targets    map[*change.Table]*target        // by target shape
	prepared   map[change.TableID]*change.Table // the last target shape prepared per target table, for type changes
	snapAt     time.Time                        // when the snapshot was taken, for its rows' times
	replay     mode.Replay
	pending    int
	pendSize   int
	lastPos    change.Position
	stageSeq   int
	unflushed  []commitMark // commits not yet known to be on the target's disk
	walChecked time.Time    // when the flushed position was last read
	durable    change.Position
}

var (
	_ pipeline.Sink           = (*Sink)(nil)
	_ pipeline.Loader         = (*Sink)(nil)
	_ pipeline.PositionKeeper = (*Sink)(nil)
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
	if opts.ChunkRows <= 0 {
		opts.ChunkRows = 20000
	}
	if opts.ChunkBytes <= 0 {
		opts.ChunkBytes = 16 << 20
	}
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
	s := &Sink{opts: opts, cfg: cfg, conn: conn, conv: newConverter(opts.Log, opts.LogValues), plans: map[change.TableID]*plan.Plan{},
		logs: map[change.TableID]*mode.Log{}, shapes: map[*change.Table]*mode.Shape{}, targets: map[*change.Table]*target{},
		prepared: map[change.TableID]*change.Table{}}
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

// Apply folds a transaction's changes into the open target transaction,
// executing them in chunks so memory stays bounded.
func (s *Sink) Apply(ctx context.Context, txn *change.Txn) error {
	if s.broken != nil {
		return s.broken
	}
	if txn.Part != change.Whole && txn.Part != change.Done && s.opts.Mode.NeedsCommit() {
		return s.fail(fmt.Errorf("apply part of running transaction %s: sink.mode %s needs each change's commit, so parts cannot be applied (use ForPipeline)", txn.ID, s.opts.Mode.Mode))
	}
	if err := s.checkTypes(ctx, txn); err != nil {
		return s.fail(err)
	}
	switch txn.Part {
	case change.Open:
		s.partsOpen = true
	case change.Done:
		s.partsOpen = false
	}
	if !s.inTx { // BEGIN goes out with the first statement
		s.inTx, s.needBegin = true, true
	}
	m := mode.Meta{TxID: txn.ID, Commit: txn.Commit}
	if txn.Position != nil {
		m.Position = txn.Position.String()
	}
	if txn.Backfill != nil { // its rows are told apart from the stream's by the chunk, not the log position
		m.Position = txn.Backfill.Span
	}
	if err := s.prune(ctx, txn); err != nil { // a back-fill chunk's range is emptied first
		return s.fail(err)
	}
	err := txn.Each(func(c *change.Change) error {
		err := s.add(ctx, c, &m)
		m.Index++
		if err != nil {
			return err
		}
		s.pending++
		s.pendSize += c.Size()
		if s.pending >= s.opts.ChunkRows || s.pendSize >= s.opts.ChunkBytes {
			return s.execAll(ctx)
		}
		return nil
	})
	if err != nil {
		return s.fail(err)
	}
	if txn.Position != nil {
		s.lastPos = txn.Position
	}
	return nil
}

// add folds one change into its table's plan (merge) or log (history,
// append).
func (s *Sink) add(ctx context.Context, c *change.Change, m *mode.Meta) error {
	if c.Op == change.Rename {
		return s.renameColumns(ctx, c)
	}
	if s.opts.Mode.Mode != mode.Append { // append rows hold the source's own texts
		var err error
		if c, err = s.conv.Change(c); err != nil {
			return err
		}
	}
	sh, err := s.shapeFor(c.Table)
	if err != nil {
		return err
	}
	if s.opts.Mode.Mode != mode.Merge {
		l, err := s.logFor(ctx, sh)
		if err != nil {
			return err
		}
		return l.Add(c, *m)
	}
	if err := sh.CheckMeta(m); err != nil {
		return err
	}
	p, err := s.planFor(ctx, sh)
	if err != nil {
		return err
	}
	if c.Op == change.Truncate && sh.Extra(mode.KindDeletedAt) >= 0 {
		// A soft truncate marks the rows written before it too: write them.
		if err := s.execPlan(ctx, p); err != nil {
			return err
		}
	}
	return p.Add(sh.Merge(c, m))
}

// shapeFor lays out the target of source shape t for the mode.
func (s *Sink) shapeFor(t *change.Table) (*mode.Shape, error) {
	if sh := s.shapes[t]; sh != nil {
		return sh, nil
	}
	if err := s.checkNames(t); err != nil {
		return nil, err
	}
	sh, err := s.opts.Mode.Shape(t, columnType)
	if err != nil {
		return nil, err
	}
	s.shapes[t] = sh
	return sh, nil
}

// planFor returns the plan collecting changes of sh's table, executing the
// previous plan first when the table's shape changed.
func (s *Sink) planFor(ctx context.Context, sh *mode.Shape) (*plan.Plan, error) {
	t := sh.Table
	p := s.plans[t.ID]
	if p != nil && p.Table == t {
		return p, nil
	}
	if p != nil && p.Table.SameShape(t) {
		s.targets[t] = s.targets[p.Table]
		p.Table = t
		return p, nil
	}
	if p != nil {
		if err := s.execPlan(ctx, p); err != nil {
			return nil, err
		}
	}
	if err := s.begin(ctx); err != nil {
		return nil, err
	}
	if _, err := s.targetFor(ctx, s.conn, sh); err != nil {
		return nil, err
	}
	p = plan.New(t)
	if sh.Extra(mode.KindDeletedAt) >= 0 {
		p.SoftFrom = sh.N
	}
	s.plans[t.ID] = p
	return p, nil
}

// Flush executes what is pending, records the last position and commits.
func (s *Sink) Flush(ctx context.Context) error {
	if s.broken != nil {
		return s.broken
	}
	if !s.inTx {
		return nil
	}
	if err := s.execAll(ctx); err != nil {
		return s.fail(err)
	}
	// The commit is asynchronous (synchronous_commit = off, as PostgreSQL's
	// own subscriptions do); the target's WAL position right after it says
	// when it is on disk, which Durable reports.
	sql := "COMMIT; " + walPositions
	if s.needBegin {
		sql = "BEGIN; " + sql
	}
	if s.lastPos != nil {
		sql = fmt.Sprintf(`INSERT INTO sluice.positions (pipeline, position, applied_at) VALUES (%s, %s, now())
			ON CONFLICT (pipeline) DO UPDATE SET position = EXCLUDED.position, applied_at = EXCLUDED.applied_at; %s`,
			quoteLiteral(s.opts.Pipeline), quoteLiteral(s.lastPos.String()), sql)
	}
	res, err := s.conn.PgConn().Exec(ctx, sql).ReadAll()
	if err != nil {
		return s.fail(fmt.Errorf("commit target transaction: %w", err))
	}
	s.inTx, s.needBegin, s.partsOpen = false, false, false
	for _, tg := range s.targets {
		tg.recopy = false
	}
	s.replay.Committed()
	if s.lastPos != nil {
		return s.noteCommit(res[len(res)-1], s.lastPos)
	}
	return nil
}

func (s *Sink) execAll(ctx context.Context) error {
	for _, p := range s.plans {
		if err := s.execPlan(ctx, p); err != nil {
			return err
		}
	}
	for _, l := range s.logs {
		if err := s.execLog(ctx, l); err != nil {
			return err
		}
	}
	s.pending, s.pendSize = 0, 0
	return nil
}

// fail marks the sink unusable: the open target transaction is lost, so the
// pipeline must restart from its checkpoint.
func (s *Sink) fail(err error) error {
	err = redact.Error(err, s.opts.LogValues)
	if s.broken == nil {
		s.broken = err
	}
	return err
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
		return s.fail(fmt.Errorf("begin target transaction: %w", err))
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
		return pgconn.CommandTag{}, s.fail(fmt.Errorf("begin target transaction: %w", err))
	}
	s.needBegin = false
	tag, err := br.Exec()
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	return tag, err
}

// newConverter turns MySQL tables and values into PostgreSQL ones, logging
// the first value per column that a documented rule changed.
func newConverter(log zerolog.Logger, values bool) *typemap.Converter {
	c := typemap.New(change.Postgres)
	c.HideValues = !values
	c.Warn = typemap.WarnOnce(func(t change.TableID, column, msg string) {
		log.Warn().Str("table", t.String()).Str("column", column).Msg(msg + " (further values of this column are not logged)")
	})
	return c
}
