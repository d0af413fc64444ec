// Package postgres reads changes from PostgreSQL logical replication
// (pgoutput, protocol v2 with streaming of large transactions), and copies
// the existing rows consistently with the slot it creates.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/rs/zerolog"

	"github.com/sluicecdc/sluice/checkpoint"
	"github.com/sluicecdc/sluice/pkg/change"
	"github.com/sluicecdc/sluice/pkg/pipeline"
	"github.com/sluicecdc/sluice/source/internal/bfqueue"
	"github.com/sluicecdc/sluice/source/internal/feed"
)

// LSN is a PostgreSQL log position: the end of a committed transaction.
type LSN pglogrepl.LSN

func (l LSN) String() string { return pglogrepl.LSN(l).String() }

// LSN returns the position as a number, for consumers that must not import
// this package (sink/envelope writes it as Debezium's source.lsn).
func (l LSN) LSN() uint64 { return uint64(l) }

// Compare orders two LSNs.
func (l LSN) Compare(o change.Position) int {
	m, ok := o.(LSN)
	if !ok {
		panic(fmt.Sprintf("compare postgres LSN with %T", o)) // a programming error, never input
	}
	switch {
	case l < m:
		return -1
	case l > m:
		return 1
	}
	return 0
}

// ParseLSN reads an LSN's text form, e.g. "16/B374D848".
func ParseLSN(s string) (LSN, error) {
	l, err := pglogrepl.ParseLSN(s)
	if err != nil {
		return 0, fmt.Errorf("parse postgres position %q: want an LSN like 16/B374D848", s)
	}
	return LSN(l), nil
}

// ErrSlotLost means the replication slot is gone or its WAL was removed, so
// changes since the checkpoint can no longer be read.
var ErrSlotLost = errors.New("replication slot lost")

// ErrTargetBehindSlot means streaming was asked to start before the slot's
// confirmed position: the changes in between are gone from the source.
var ErrTargetBehindSlot = errors.New("target behind the replication slot")

// Options configure a Source.
type Options struct {
	DSN         string
	Tables      []string // include patterns schema.table with * globs
	Exclude     []string
	Slot        string
	Publication string
	// Pipeline names the pipeline that owns Slot and Publication (recorded
	// in the publication's comment, see owner.go); "" records and checks
	// nothing.
	Pipeline        string
	SnapshotWorkers int
	ChunkPages      int    // heap pages per snapshot chunk (8 KiB each); default 4096
	SpillDir        string // where large transactions spill ("" = temp dir)
	SpillLimit      int    // bytes of a transaction held in memory before spilling
	Log             zerolog.Logger
	// Reconnecting hears of a lost connection being retried (true) and
	// of the source being back (false); nil: nobody listens.
	Reconnecting func(lost bool)
}

// Source is the PostgreSQL logical replication source.
type Source struct {
	opts    Options
	cfg     *pgconn.Config // regular connections
	replCfg *pgconn.Config // replication=database connections

	repl   *pgconn.PgConn // replication connection (owned by the stream loop once started)
	meta   *pgx.Conn      // catalog look-ups
	tables []change.TableID

	parts    bool // deliver one streamed transaction at a time in parts
	out      feed.Feed
	inflight atomic.Int64  // bytes of delivered transactions not yet closed
	room     chan struct{} // signalled when some were closed
	acked    atomic.Uint64
	memory   *change.Budget // bytes of changes the source's transactions keep in memory
	stop     context.CancelFunc
	stopped  chan struct{}

	bf        *bfqueue.Queue // online back-fills queued
	tr        *tracker       // keys the stream changed while chunks were read
	bfReady   chan *chunkOut // chunks read, for the stream loop to emit
	bfStopped chan struct{}
	// New tables (newtables.go): the pipeline's request function, the
	// lock of tables once streaming, and the xmax after the last
	// publication change.
	request  func(ctx context.Context, bs []checkpoint.Backfill) error
	tablesMu sync.Mutex
	pubXmax  atomic.Uint64
}

var (
	_ pipeline.Source      = (*Source)(nil)
	_ pipeline.Snapshotter = (*Source)(nil)
)

// sessionParams make value text unambiguous: ISO dates, UTC offsets, exact
// floats, hex bytea. The walsender formats pgoutput values with them too.
var sessionParams = map[string]string{
	// Literals Sluice writes (the snapshot's name) only double quotes.
	"standard_conforming_strings": "on",
	"DateStyle":                   "ISO, YMD",
	"IntervalStyle":               "postgres",
	"TimeZone":                    "UTC",
	"extra_float_digits":          "3",
	"bytea_output":                "hex",
	"client_encoding":             "UTF8",
	"application_name":            "sluice",
	"search_path":                 "pg_catalog", // format_type then qualifies every user type
}

// New checks the options and connects for catalog look-ups; it does not yet
// touch the slot or publication.
func New(ctx context.Context, opts Options) (*Source, error) {
	if opts.SnapshotWorkers <= 0 {
		opts.SnapshotWorkers = 4
	}
	if opts.ChunkPages <= 0 {
		opts.ChunkPages = 4096
	}
	cfg, err := pgconn.ParseConfig(opts.DSN)
	if err != nil {
		return nil, fmt.Errorf("parse source.dsn: invalid connection string")
	}
	for k, v := range sessionParams {
		cfg.RuntimeParams[k] = v
	}
	replCfg := cfg.Copy()
	replCfg.RuntimeParams["replication"] = "database"
	s := &Source{opts: opts, cfg: cfg, replCfg: replCfg, memory: change.NewBudget(memoryBudget),
		bf: bfqueue.New(), tr: newTracker(), bfReady: make(chan *chunkOut)}
	if s.meta, err = s.connect(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// connect opens a regular connection with the session settings.
func (s *Source) connect(ctx context.Context) (*pgx.Conn, error) {
	cc, err := pgx.ParseConfig("")
	if err != nil {
		return nil, err
	}
	cc.Config = *s.cfg.Copy()
	conn, err := pgx.ConnectConfig(ctx, cc)
	if err != nil {
		return nil, fmt.Errorf("connect to source: %w", err)
	}
	return conn, nil
}

// ParsePosition reads back an LSN.
func (s *Source) ParsePosition(text string) (change.Position, error) {
	l, err := ParseLSN(text)
	if err != nil {
		return nil, err
	}
	return l, nil
}

// Next returns the next committed transaction.
func (s *Source) Next(ctx context.Context) (*change.Txn, error) { return s.out.Next(ctx) }

// DeliverParts makes the source send one large streamed transaction at a
// time in parts while it runs (change.Open ... change.Done), so the target
// can apply it before it commits instead of after. Call before Start.
func (s *Source) DeliverParts() { s.parts = true }

var _ pipeline.PartSource = (*Source)(nil)

// Ack records that everything up to pos is durable in the target; the stream
// loop reports it to the server with its next status update.
func (s *Source) Ack(_ context.Context, pos change.Position) error {
	l, ok := pos.(LSN)
	if !ok {
		return fmt.Errorf("ack: %T is not a postgres position", pos)
	}
	for {
		cur := s.acked.Load()
		if uint64(l) <= cur || s.acked.CompareAndSwap(cur, uint64(l)) {
			return nil
		}
	}
}

// Close stops the stream and closes every connection.
func (s *Source) Close() error {
	if s.stop != nil {
		s.stop()
		<-s.stopped
		<-s.bfStopped
	}
	ctx := context.Background()
	if s.repl != nil {
		s.repl.Close(ctx)
	}
	if s.meta != nil {
		s.meta.Close(ctx)
	}
	return nil
}

// reconnecting tells the listener, if any, that the connection is lost
// and being retried (true) or back (false).
func (o Options) reconnecting(lost bool) {
	if o.Reconnecting != nil {
		o.Reconnecting(lost)
	}
}
