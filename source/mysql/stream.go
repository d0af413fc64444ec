package mysql

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/go-mysql-org/go-mysql/client"
	gomysql "github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"
	drv "github.com/go-sql-driver/mysql"

	"github.com/sluicecdc/sluice/pkg/change"
	"github.com/sluicecdc/sluice/source/internal/arena"
	"github.com/sluicecdc/sluice/source/internal/feed"
)

const (
	// inflightBudget bounds the bytes of transactions handed to the
	// pipeline and not yet closed.
	inflightBudget = 48 << 20
	// heartbeat is how often an idle server sends a heartbeat event; no
	// event at all for readTimeout means the link is dead.
	heartbeat   = 5 * time.Second
	readTimeout = 3 * heartbeat
	// eventCache is how many parsed events go-mysql buffers ahead of us.
	eventCache = 16
)

// Start begins streaming after from. nil means no checkpoint and no
// snapshot: streaming starts at the server's current position, and earlier
// changes are not copied. After a Snapshot, from must be its Position.
func (s *Source) Start(ctx context.Context, from change.Position) error {
	if s.out != nil {
		return errors.New("start: the source is already streaming")
	}
	if problems := s.streamProblems(ctx); len(problems) > 0 {
		return fmt.Errorf("the source server cannot be streamed from: %s", strings.Join(problems, "; "))
	}
	var start Position
	switch p := from.(type) {
	case Position:
		start = p
	case *Position:
		start = *p
	case nil:
		var err error
		if start, err = s.currentPosition(ctx, s.db); err != nil {
			return err
		}
		s.opts.Log.Warn().Stringer("position", start).Msg("no checkpoint and no snapshot: streaming starts at the source's current binlog position; earlier changes are not copied")
	default:
		return fmt.Errorf("start: %T is not a mysql position", from)
	}
	st := &stream{s: s, byID: map[uint64]*shape{}, last: map[change.TableID]*shape{}}
	if s.flavor == "mysql" && start.GTID != "" && !s.mysqlGTIDs(ctx) {
		s.opts.Log.Warn().Msg("gtid_mode is no longer ON: resuming by binlog file and offset")
		start.GTID = ""
	}
	if err := st.setResume(start); err != nil {
		return err
	}
	if ids, err := s.selectTables(ctx, s.db); err == nil && len(ids) == 0 {
		s.opts.Log.Warn().Strs("tables", s.opts.Tables).Strs("exclude", s.opts.Exclude).
			Msg("no source table matches the patterns yet; tables created later that match are streamed")
	}
	s.out = make(feed.Feed, 16)
	s.room = make(chan struct{}, 1)
	ctx, s.stop = context.WithCancel(ctx)
	s.stopped = make(chan struct{})
	go st.run(ctx)
	s.bfStopped = make(chan struct{})
	go func() {
		defer close(s.bfStopped)
		s.bf.Run(ctx, s.backfillTable)
	}()
	s.opts.Log.Info().Stringer("from", start).Uint32("server_id", s.serverID).Msg("streaming started")
	return nil
}

// streamProblems are the settings without which the binlog cannot be read.
func (s *Source) streamProblems(ctx context.Context) []string {
	set, err := s.readSettings(ctx)
	if err != nil {
		return []string{err.Error()}
	}
	return set.streamProblems()
}

// stream is the binlog reader loop. It owns everything below.
type stream struct {
	s *Source

	// Where the next session starts: the end of the last whole transaction
	// read (delivered or skipped), with the GTID state there.
	file     string
	pos      uint32
	srv      uint32 // server_id of the server whose binlog file is
	epoch    uint32 // binlog resets followed (Position.Epoch)
	maria    mariaGTIDs
	mysqlSet *gomysql.MysqlGTIDSet // MySQL gtid_mode=ON; nil otherwise
	useGTID  bool                  // resume from the GTID state

	server  uint32 // server_id of the server the session reads
	curFile string // the binlog file being read
	rotated string // the next file a Rotate at the end of curFile announced, until it is opened

	// The event group (transaction) being read.
	inGroup   bool // a GTID event or BEGIN opened it
	begun     bool // BEGIN seen (or implied): statements inside do not end it
	groupGTID string
	maGTID    *mariaGTID
	myGTID    *replication.GTIDEvent
	commitTS  time.Time
	cur       *change.Txn // its changes to selected tables not yet handed on; nil while none
	partID    string      // the ID its parts were sent with; "" while none were
	sent      int         // changes sent in parts
	saves     []savepoint // its savepoints, oldest first
	subSeq    int         // numbers its Savepoint parts

	byID    map[uint64]*shape         // table id → shape of the current table maps
	last    map[change.TableID]*shape // the latest shape of each table
	arena   arena.Arena
	scratch []byte

	// Online back-fill (backfill_stream.go).
	at       uint32    // the end of the last event read in curFile: the stream's read point
	chunk    *chunkOut // a chunk waiting for the stream to reach its snapshot
	partKeys *partKeys // keys of the transaction being delivered in parts
	// Tables the event group being read makes appear (newtables.go).
	appearing []change.TableID
}

// setResume makes p the place the next session starts from.
func (st *stream) setResume(p Position) error {
	st.file, st.pos, st.curFile, st.srv, st.epoch = p.File, p.Pos, p.File, p.Server, p.Epoch
	st.at = p.Pos
	st.s.epoch.Store(p.Epoch)
	st.maria, st.mysqlSet, st.useGTID = nil, nil, false
	if p.GTID == "" {
		return nil
	}
	mysqlSet := strings.ContainsRune(p.GTID, ':')
	if mysqlSet != (st.s.flavor == "mysql") {
		return fmt.Errorf("start: position %s holds a GTID set of the other flavor than this %s source; "+
			"the checkpoint belongs to another server: run `sluice run --resnapshot`", p, st.s.flavor)
	}
	if mysqlSet {
		set, err := parseMySQLGTIDs(p.GTID)
		if err != nil {
			return err
		}
		st.mysqlSet, st.useGTID = set, true
		return nil
	}
	m, err := parseMariaGTIDs(p.GTID)
	if err != nil {
		return err
	}
	st.maria, st.useGTID = m, true
	return nil
}

// gtidText is the GTID state of the resume point.
func (st *stream) gtidText() string {
	if st.mysqlSet != nil {
		return st.mysqlSet.String()
	}
	return st.maria.String()
}

func (st *stream) resume() Position {
	return Position{File: st.file, Pos: st.pos, GTID: st.gtidText(), Server: st.srv, Epoch: st.epoch}
}

func (st *stream) run(ctx context.Context) {
	defer close(st.s.stopped)
	defer close(st.s.out)
	backoff := time.Second
	failing := false
	for {
		err := st.session(ctx, func() {
			if failing {
				st.s.opts.Log.Info().Stringer("from", st.resume()).Msg("source reconnected")
				st.s.opts.reconnecting(false)
				failing, backoff = false, time.Second
			}
		})
		st.reset(ctx)
		if ctx.Err() != nil {
			return
		}
		if errors.Is(err, errFollowed) {
			continue
		}
		if permanent(err) {
			st.fail(ctx, err)
			return
		}
		if !failing {
			st.s.opts.Log.Warn().Err(err).Stringer("resume", st.resume()).
				Msg("source binlog connection lost; reconnecting with backoff")
			st.s.opts.reconnecting(true)
			failing = true
		}
		select {
		case <-time.After(backoff):
		case <-ctx.Done():
			return
		}
		backoff = min(backoff*2, 30*time.Second)
	}
}

// fail hands a permanent error to the pipeline.
func (st *stream) fail(ctx context.Context, err error) {
	select {
	case st.s.out <- feed.Result{Err: err}:
	case <-ctx.Done():
	}
}

// reset forgets the partly read transaction: the next session starts at
// the end of the last whole one.
func (st *stream) reset(ctx context.Context) {
	st.abortParts(ctx)
	if st.cur != nil {
		st.cur.Close()
		st.cur = nil
	}
	st.endGroupState()
	st.curFile, st.rotated, st.at = st.file, "", st.pos
	st.appearing = nil
	clear(st.byID)
	st.dropChunk()
}

func (st *stream) endGroupState() {
	st.inGroup, st.begun, st.groupGTID, st.maGTID, st.myGTID, st.commitTS = false, false, "", nil, nil, time.Time{}
	st.sent, st.saves, st.subSeq = 0, st.saves[:0], 0
}

// session reads the binlog from the resume point until an error.
func (st *stream) session(ctx context.Context, connected func()) error {
	s := st.s
	ls, err := st.checkResume(ctx)
	if err != nil {
		return err
	}
	cfg := replication.BinlogSyncerConfig{
		ServerID:                s.serverID,
		Flavor:                  s.flavor,
		Host:                    s.dsn.Host,
		Port:                    s.dsn.Port,
		User:                    s.dsn.User,
		Password:                s.dsn.Password,
		Localhost:               "sluice",
		Charset:                 "utf8mb4",
		ParseTime:               true, // time.Time values, formatted by binlogText (go-mysql's strings cost a Sprintf each)
		TimestampStringLocation: time.UTC,
		UseDecimal:              false,
		RenderJSONAsMySQLText:   true,
		HeartbeatPeriod:         heartbeat,
		ReadTimeout:             readTimeout,
		DisableRetrySync:        true,
		EventCacheCount:         eventCache,
		FillZeroLogPos:          s.flavor == "mariadb",
		Logger:                  slog.New(&slogToZerolog{log: s.opts.Log}),
		RowsEventDecodeFunc:     st.decodeRows,
		Option: func(c *client.Conn) error {
			// A busy pipeline may leave the dump connection unread for a while.
			if _, err := c.Execute("SET SESSION net_write_timeout = 600"); err != nil {
				return err
			}
			// The resume point was checked on the metadata connection: the
			// binlog must come from that same server.
			r, err := c.Execute("SELECT @@GLOBAL.server_id")
			if err != nil {
				return err
			}
			if id, err := r.GetUint(0, 0); err != nil || id != uint64(ls.serverID) {
				return fmt.Errorf("the binlog connection reached server_id %d, the metadata connection server_id %d (%v); retrying", id, ls.serverID, err)
			}
			return nil
		},
	}
	switch mode := s.dsn.Params.Get("tls"); mode {
	case "", "false":
	case "true":
		cfg.TLSConfig = &tls.Config{ServerName: s.dsn.Host, MinVersion: tls.VersionTLS12}
	case "skip-verify", "preferred":
		cfg.TLSConfig = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // the user asked for it
	default:
		return &permanentError{fmt.Errorf("source.dsn: tls=%s is not supported for the binlog connection; use true, skip-verify or false", mode)}
	}
	syncer := replication.NewBinlogSyncer(cfg)
	defer syncer.Close()
	var streamer *replication.BinlogStreamer
	if st.useGTID {
		var set gomysql.GTIDSet
		if st.s.flavor == "mysql" {
			set = st.mysqlSet.Clone()
		} else if set, err = gomysql.ParseMariadbGTIDSet(st.maria.String()); err != nil {
			return &permanentError{err}
		}
		streamer, err = syncer.StartSyncGTID(set)
	} else {
		streamer, err = syncer.StartSync(gomysql.Position{Name: st.file, Pos: st.pos})
	}
	if err != nil {
		return st.classify(err)
	}
	connected()
	for {
		ev, err := st.nextEvent(ctx, streamer)
		if err == errNoEvent {
			if err := st.emitChunk(ctx); err != nil {
				return err
			}
			continue
		}
		if err != nil {
			return st.sessionEnd(ctx, streamer, err)
		}
		if err := st.handle(ctx, ev); err != nil {
			return err
		}
		if err := st.emitChunk(ctx); err != nil {
			return err
		}
	}
}

// errNoEvent says no event came while a back-fill chunk may be waiting.
var errNoEvent = errors.New("no binlog event for a while")

// nextEvent waits for the next event; while a back-fill runs it gives up
// after a moment (errNoEvent), so that a chunk waiting for a boundary is
// emitted on an idle stream too.
func (st *stream) nextEvent(ctx context.Context, streamer *replication.BinlogStreamer) (*replication.BinlogEvent, error) {
	if !st.s.bf.Busy() && st.chunk == nil {
		return streamer.GetEvent(ctx)
	}
	wctx, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	ev, err := streamer.GetEvent(wctx)
	if err != nil && ctx.Err() == nil && wctx.Err() != nil {
		return nil, errNoEvent
	}
	return ev, err
}

// sessionEnd handles the error that ended a session. When the server sent
// it, the events it sent before are all buffered (GetEvent picks the error
// channel at random when both are ready): they are handled first, so that
// a reset binlog is known to be read to its end.
func (st *stream) sessionEnd(ctx context.Context, streamer *replication.BinlogStreamer, err error) error {
	var my *gomysql.MyError
	if !errors.As(err, &my) {
		return st.classify(err)
	}
	for _, ev := range streamer.DumpEvents() {
		if herr := st.handle(ctx, ev); herr != nil {
			return herr
		}
	}
	if my.Code == gomysql.ER_MASTER_FATAL_ERROR_READING_BINLOG && strings.Contains(my.Message, "could not find next log") {
		if ferr := st.followReset(ctx); ferr != nil {
			return ferr
		}
	}
	return st.classify(err)
}

// classify wraps the errors a reconnect cannot fix as permanent, with the
// fix the user needs.
func (st *stream) classify(err error) error {
	if err == nil || errors.Is(err, context.Canceled) {
		return err
	}
	var my *gomysql.MyError
	if errors.As(err, &my) {
		switch {
		case my.Code == gomysql.ER_MASTER_FATAL_ERROR_READING_BINLOG:
			return &permanentError{fmt.Errorf("%w: the source cannot send its binlog from %s (server says: %s); "+
				"the binlogs holding the checkpoint's position were probably purged: run `sluice run --resnapshot` to copy every table again, "+
				"and raise the source's binlog retention (binlog_expire_logs_seconds, or expire_logs_days on older servers) so it outlives Sluice's downtime",
				ErrPositionLost, st.resume(), my.Message)}
		case isAccessDenied(my):
			return &permanentError{fmt.Errorf("source binlog connection: %s%s", my.Message, privilegeHint(my, st.s.flavor))}
		}
		return err
	}
	// The text match stays because go-mysql gives nothing typed to match:
	// its reader goroutine (BinlogSyncer.onStream, v1.16) recovers a panic
	// in its own event parsing as fmt.Errorf("panic %v\nstack: %s"), with
	// no error type or sentinel. Server errors (MyError) returned above,
	// so no server message that quotes a value reaches this line.
	var evErr *replication.EventError
	if errors.As(err, &evErr) || strings.Contains(err.Error(), "panic") {
		return &permanentError{fmt.Errorf("decode source binlog event after %s: %w", st.resume(), err)}
	}
	return err
}

func permanent(err error) bool {
	var p *permanentError
	return errors.As(err, &p)
}

// isAccessDenied tells privilege errors of either client library.
func isAccessDenied(err error) bool {
	var code uint16
	var my *gomysql.MyError
	var d *drv.MySQLError
	switch {
	case errors.As(err, &my):
		code = my.Code
	case errors.As(err, &d):
		code = d.Number
	}
	switch code {
	case 1044, 1045, 1142, 1143, 1227, 1370:
		return true
	}
	return false
}

// deliver hands a committed transaction to the pipeline, waiting while the
// transactions handed out but not yet closed fill the budget.
func (st *stream) deliver(ctx context.Context, txn *change.Txn) error {
	s := st.s
	if txn.Backfill == nil {
		st.track(txn)
	}
	size := min(txn.Size(), inflightBudget)
	for s.inflight.Load() > 0 && s.inflight.Load()+size > inflightBudget {
		select {
		case <-s.room:
		case <-ctx.Done():
			txn.Close()
			return ctx.Err()
		}
	}
	s.inflight.Add(size)
	txn.OnClose(func() {
		s.inflight.Add(-size)
		select {
		case s.room <- struct{}{}:
		default:
		}
	})
	select {
	case s.out <- feed.Result{Txn: txn}:
		return nil
	case <-ctx.Done():
		txn.Close()
		return ctx.Err()
	}
}
