package postgres

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/sluicecdc/sluice/pkg/change"
	"github.com/sluicecdc/sluice/source/internal/arena"
	"github.com/sluicecdc/sluice/source/internal/feed"
	"github.com/sluicecdc/sluice/source/postgres/pgoutput"
)

// inflightBudget bounds the bytes of transactions handed to the pipeline
// and not yet applied.
const inflightBudget = 48 << 20

// statusInterval is how often the server hears our position, well below
// wal_sender_timeout (60 s by default).
const statusInterval = 10 * time.Second

// Start begins streaming after from (nil: from the slot's confirmed
// position). After a Snapshot, from must be the snapshot's position.
func (s *Source) Start(ctx context.Context, from change.Position) error {
	var start LSN
	if from != nil {
		l, ok := from.(LSN)
		if !ok {
			return fmt.Errorf("start: %T is not a postgres position", from)
		}
		start = l
	}
	if s.repl == nil { // no snapshot in this run
		if err := s.publishTables(ctx, from != nil); err != nil {
			return err
		}
		si, err := s.slot(ctx)
		if err != nil {
			return err
		}
		switch {
		case !si.exists && from != nil:
			return fmt.Errorf("%w: replication slot %s does not exist, but the checkpoint says streaming reached %s; "+
				"changes since then cannot be read any more: run `sluice run --resnapshot` to copy every table again", ErrSlotLost, s.opts.Slot, start)
		case si.exists && si.walStatus == "lost":
			return fmt.Errorf("%w: replication slot %s lost WAL it needed (wal_status = lost, see max_slot_wal_keep_size); "+
				"run `sluice run --resnapshot` to copy every table again", ErrSlotLost, s.opts.Slot)
		case si.exists && si.plugin != "pgoutput":
			return fmt.Errorf("replication slot %s uses plugin %q, not pgoutput; drop it or set source.postgres.slot to another name", s.opts.Slot, si.plugin)
		}
		if s.repl, err = pgconn.ConnectConfig(ctx, s.replCfg); err != nil {
			return fmt.Errorf("open replication connection: %w", err)
		}
		if !si.exists {
			res, err := createSlot(ctx, s.repl, s.opts.Slot, false)
			if err != nil {
				return err
			}
			if start, err = ParseLSN(res.ConsistentPoint); err != nil {
				return err
			}
			s.opts.Log.Info().Str("slot", s.opts.Slot).Stringer("lsn", start).Msg("created replication slot")
		} else if from == nil {
			start = si.confirmed
		} else if start < si.confirmed {
			// The server would silently start at confirmed_flush_lsn.
			return fmt.Errorf("%w: the target has applied changes up to %s, but replication slot %s already released "+
				"everything up to %s: the target lost commits it had (restored from a backup, failed over to a standby "+
				"that missed them, or edited by hand), and the source cannot send them again; run `sluice run --resnapshot` "+
				"to copy every table again", ErrTargetBehindSlot, start, s.opts.Slot, si.confirmed)
		}
	}
	s.acked.Store(uint64(start))
	st := &stream{s: s, conn: s.repl, start: start, delivered: start, rels: map[uint32]*relation{}}
	s.repl = nil // the stream owns the connection now
	s.out = make(feed.Feed, 16)
	s.room = make(chan struct{}, 1)
	ctx, s.stop = context.WithCancel(ctx)
	s.stopped = make(chan struct{})
	go st.run(ctx)
	s.bfStopped = make(chan struct{})
	go func() {
		defer close(s.bfStopped)
		var wg sync.WaitGroup
		wg.Go(func() { s.watchTables(ctx) })
		s.bf.Run(ctx, s.backfillTable)
		wg.Wait()
	}()
	s.opts.Log.Info().Str("slot", s.opts.Slot).Stringer("from", start).Strs("tables", s.tableIDs()).Msg("streaming started")
	return nil
}

// stream is the replication loop. It owns the replication connection.
type stream struct {
	s         *Source
	conn      *pgconn.PgConn
	start     LSN // where the next START_REPLICATION begins
	delivered LSN // end of the last transaction handed out
	serverEnd LSN
	idleSent  time.Time // when advanceIdle last passed serverEnd on
	sentAck   LSN
	lastSent  time.Time

	arena     arena.Arena
	rels      map[uint32]*relation
	types     map[uint32]typeName // user types named by Type messages, by OID
	cur       *change.Txn         // open non-streamed transaction
	inStream  bool
	streamXid uint32
	streams   map[uint32]*streamTxn // streamed transactions in progress, by top-level xid

	// The one streamed transaction delivered in parts while it runs.
	early      uint32 // its xid; 0 = none
	earlySubs  map[uint32]bool
	earlyOrder []uint32
	part       *change.Txn // its changes not yet delivered
	// After a reconnect, transactions up to here are sent again and
	// skipped; none of them may be delivered in parts.
	replayUntil LSN
	// Keys changed by the transactions delivered in parts, by id, for the
	// back-fill's tracker.
	partKeys map[string]*partKeys
}

type relation struct {
	table *change.Table
	ident []bool
}

type streamTxn struct {
	txn   *change.Txn
	marks map[uint32]change.Mark // where each subtransaction's changes begin
	order []uint32
}

func (st *stream) run(ctx context.Context) {
	defer close(st.s.stopped)
	defer func() {
		if st.conn != nil {
			st.conn.Close(context.Background())
		}
	}()
	backoff := time.Second
	failing := false
	for {
		err := st.session(ctx)
		if ctx.Err() != nil {
			return
		}
		if permanent(err) {
			st.s.out <- feed.Result{Err: err}
			return
		}
		if !failing {
			st.s.opts.Log.Warn().Err(err).Msg("source connection lost; reconnecting with backoff")
			st.s.opts.reconnecting(true)
			failing = true
		}
		if st.early != 0 { // its parts are void: the server sends it again
			if st.part != nil {
				st.part.Close()
			}
			abort := &change.Txn{ID: xidString(st.early), Part: change.Abort}
			st.part, st.early = nil, 0
			if st.deliver(ctx, abort) != nil {
				return
			}
		}
		st.reset()
		select {
		case <-time.After(backoff):
		case <-ctx.Done():
			return
		}
		backoff = min(backoff*2, 30*time.Second)
		conn, err := pgconn.ConnectConfig(ctx, st.s.replCfg)
		if err != nil {
			if permanent(err) {
				st.s.out <- feed.Result{Err: fmt.Errorf("reconnect to source: %w", err)}
				return
			}
			continue
		}
		st.conn = conn
		st.s.opts.Log.Info().Stringer("from", st.start).Msg("source reconnected")
		st.s.opts.reconnecting(false)
		failing = false
		backoff = time.Second
	}
}

// reset forgets everything of a broken session: the server resends every
// transaction after the acknowledged position.
func (st *stream) reset() {
	if st.conn != nil {
		st.conn.Close(context.Background())
		st.conn = nil
	}
	if st.cur != nil {
		st.cur.Close()
		st.cur = nil
	}
	for _, t := range st.streams {
		t.txn.Close()
	}
	// Relations stay cached: the server resends them, and an unchanged
	// shape keeps its *Table, so sinks see the same table.
	st.streams, st.inStream = nil, false
	st.start = LSN(st.s.acked.Load())
	st.replayUntil = 0
	if st.delivered > st.start {
		st.replayUntil = st.delivered
	}
}

// permanent tells errors a retry cannot fix (auth, missing objects, lost
// slot) from connection trouble.
func permanent(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code[:2] {
		case "28", "3D", "42":
			return true
		}
		return pgErr.Code == "55000" // e.g. the slot was invalidated
	}
	return errors.Is(err, pgoutput.ErrMalformed) || errors.Is(err, errProtocol)
}

var errProtocol = errors.New("unexpected replication message")

func (st *stream) session(ctx context.Context) error {
	if st.conn == nil {
		return errors.New("no connection")
	}
	st.streams = map[uint32]*streamTxn{}
	err := pglogrepl.StartReplication(ctx, st.conn, st.s.opts.Slot, pglogrepl.LSN(st.start), pglogrepl.StartReplicationOptions{
		Mode:       pglogrepl.LogicalReplication,
		PluginArgs: []string{"proto_version '2'", "publication_names '" + st.s.opts.Publication + "'", "streaming 'true'"},
	})
	if err != nil {
		return fmt.Errorf("start replication from slot %s: %w", st.s.opts.Slot, err)
	}
	st.lastSent = time.Time{}
	// A read deadline on the socket instead of a context per message: pgconn
	// would watch every context with its own machinery, which costs more than
	// decoding the message. A timed-out read leaves the connection usable.
	var deadline time.Time
	defer st.conn.Conn().SetReadDeadline(time.Time{}) //nolint:errcheck // best effort
	for {
		now := time.Now()
		if err := st.maybeSendStatus(now, false); err != nil {
			return err
		}
		step := time.Second
		if st.s.bf.Busy() { // chunks wait for a boundary: look often
			step = 20 * time.Millisecond
		}
		if now.Add(step / 2).After(deadline) {
			deadline = now.Add(step)
			if err := st.conn.Conn().SetReadDeadline(deadline); err != nil {
				return fmt.Errorf("receive from source: %w", err)
			}
		}
		msg, err := st.conn.ReceiveMessage(context.Background())
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if pgconn.Timeout(err) {
				deadline = time.Time{}
				if err := st.emitChunk(ctx); err != nil {
					return err
				}
				continue
			}
			return fmt.Errorf("receive from source: %w", err)
		}
		switch m := msg.(type) {
		case *pgproto3.CopyData:
			if err := st.handleCopyData(ctx, m.Data); err != nil {
				return err
			}
		case *pgproto3.ErrorResponse:
			return pgconn.ErrorResponseToPgError(m)
		}
		if err := st.emitChunk(ctx); err != nil {
			return err
		}
	}
}

func (st *stream) handleCopyData(ctx context.Context, data []byte) error {
	if len(data) == 0 {
		return fmt.Errorf("%w: empty copy data", errProtocol)
	}
	switch data[0] {
	case pglogrepl.PrimaryKeepaliveMessageByteID:
		k, err := pglogrepl.ParsePrimaryKeepaliveMessage(data[1:])
		if err != nil {
			return fmt.Errorf("%w: %v", errProtocol, err)
		}
		st.serverEnd = LSN(k.ServerWALEnd)
		if err := st.advanceIdle(ctx); err != nil {
			return err
		}
		return st.maybeSendStatus(time.Now(), k.ReplyRequested)
	case pglogrepl.XLogDataByteID:
		x, err := pglogrepl.ParseXLogData(data[1:])
		if err != nil {
			return fmt.Errorf("%w: %v", errProtocol, err)
		}
		msg, err := pgoutput.Parse(st.arena.Copy(x.WALData), st.inStream)
		if err != nil {
			return err
		}
		return st.handle(ctx, msg)
	}
	return nil
}

// advanceIdle lets an idle slot follow the server's WAL end, so that it
// does not hold WAL while only other tables or databases change: when every
// delivered transaction is durable and none is in progress, nothing before
// the server's end still matters to us. The end goes to the pipeline as a
// transaction without changes, so the target records it like any other
// position before it is acknowledged: the target's position is never behind
// the slot's, and a target that is (restored from a backup) is detected at
// the next start (see Start). At most one a second.
func (st *stream) advanceIdle(ctx context.Context) error {
	acked := LSN(st.s.acked.Load())
	if st.cur != nil || len(st.streams) > 0 || st.early != 0 || acked < st.delivered ||
		st.serverEnd <= st.delivered || time.Since(st.idleSent) < idleEvery {
		return nil
	}
	st.idleSent = time.Now()
	return st.deliver(ctx, &change.Txn{Position: st.serverEnd})
}

// idleEvery is how often an idle stream passes the server's WAL end on.
const idleEvery = time.Second

func (st *stream) maybeSendStatus(now time.Time, force bool) error {
	acked := LSN(st.s.acked.Load())
	if acked == 0 {
		return nil
	}
	if !force && acked == st.sentAck && now.Sub(st.lastSent) < statusInterval {
		return nil
	}
	p := pglogrepl.LSN(acked)
	err := pglogrepl.SendStandbyStatusUpdate(context.Background(), st.conn, pglogrepl.StandbyStatusUpdate{
		WALWritePosition: p, WALFlushPosition: p, WALApplyPosition: p,
	})
	if err != nil {
		return fmt.Errorf("send status to source: %w", err)
	}
	st.sentAck, st.lastSent = acked, now
	return nil
}

// deliver hands a committed transaction to the pipeline, keeping the server
// informed while the pipeline is busy.
func (st *stream) deliver(ctx context.Context, txn *change.Txn) error {
	var end LSN
	if (txn.Part == change.Whole || txn.Part == change.Done) && txn.Backfill == nil {
		end = txn.Position.(LSN)
		if end <= st.delivered { // resent after a reconnect
			txn.Close()
			return nil
		}
	}
	if txn.Backfill == nil {
		st.track(txn)
	}
	// Wait until the transactions handed out but not yet closed leave room:
	// memory stays bounded however fast the server sends. While waiting,
	// keep the server informed of our position.
	size := min(txn.Size(), inflightBudget)
	var tick *time.Ticker // made only when we have to wait
	defer func() {
		if tick != nil {
			tick.Stop()
		}
	}()
	waited := func(ready <-chan struct{}, send chan<- feed.Result) error {
		if tick == nil {
			tick = time.NewTicker(time.Second)
		}
		select {
		case <-ready:
		case send <- feed.Result{Txn: txn}:
			return errSent
		case now := <-tick.C:
			return st.maybeSendStatus(now, false)
		case <-ctx.Done():
			return ctx.Err()
		}
		return nil
	}
	for st.s.inflight.Load() > 0 && st.s.inflight.Load()+size > inflightBudget {
		if err := waited(st.s.room, nil); err != nil {
			txn.Close()
			return err
		}
	}
	st.s.inflight.Add(size)
	txn.OnClose(func() {
		st.s.inflight.Add(-size)
		select {
		case st.s.room <- struct{}{}:
		default:
		}
	})
	select {
	case st.s.out <- feed.Result{Txn: txn}:
	default:
		for {
			err := waited(nil, st.s.out)
			if errors.Is(err, errSent) {
				break
			}
			if err != nil {
				txn.Close()
				return err
			}
		}
	}
	if end != 0 {
		st.delivered = end
	}
	return nil
}

// errSent ends deliver's wait for the pipeline to take a transaction.
var errSent = errors.New("sent")

func xidString(x uint32) string { return strconv.FormatUint(uint64(x), 10) }
