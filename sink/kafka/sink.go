package kafka

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicecdc/sluice/pkg/change"
	"github.com/sluicecdc/sluice/pkg/pipeline"
	"github.com/sluicecdc/sluice/sink/envelope"
)

// Options configure a Sink.
type Options struct {
	Settings *Settings
	Pipeline string // the pipeline name: transactional id sluice-<name>, progress record key
	Version  string // Sluice's version, written as source.version
	Database string // source.db of PostgreSQL events
	Log      zerolog.Logger
}

// Sink publishes transactions to Kafka as Debezium change events.
type Sink struct {
	s       *Settings
	name    string
	log     zerolog.Logger
	enc     *envelope.Encoder
	tmpl    *envelope.TopicTemplate
	conn    []kgo.Opt
	cl      *kgo.Client // transactional (exactly once) or idempotent
	adm     *kadm.Client
	topics  *topics
	m       *metrics
	exactly bool

	// the open Kafka transaction (exactly once) or the unflushed records
	inTxn   bool
	pos     change.Position // the last applied transaction's, not yet committed
	dirty   bool
	recs    []envelope.Record
	perrMu  sync.Mutex
	perr    error // the first produce error since the last flush
	failed  error // sticky: the sink cannot go on (fenced, a failed commit)
	loadMu  sync.Mutex
	loader  *kgo.Client // snapshot rows, exactly once: idempotent, outside transactions
	closeMu sync.Once
	acks    atomic.Int64 // records the broker answered for (acknowledged or failed)
	// life is the context records are produced with: a record lives until
	// a flush commits or aborts it, not as long as the caller's context
	// (the pipeline cancels Apply's when it stops, then flushes).
	life context.Context
	kill context.CancelFunc
}

// ExactlyOnce is a Sink that keeps its applied position in Kafka (the
// progress record), so the pipeline resumes after what the topics hold.
type ExactlyOnce struct{ *Sink }

var (
	_ pipeline.Sink           = (*Sink)(nil)
	_ pipeline.Loader         = (*Sink)(nil)
	_ pipeline.PositionKeeper = ExactlyOnce{}
)

// Open connects to the brokers. With exactly_once it initializes the
// transactional producer, which fences any other process with the same
// pipeline name and aborts what a crashed predecessor left open, and
// returns an ExactlyOnce.
func Open(ctx context.Context, o Options) (pipeline.Sink, error) {
	s, err := open(ctx, o)
	if err != nil {
		return nil, err
	}
	if s.exactly {
		return ExactlyOnce{s}, nil
	}
	return s, nil
}

func open(ctx context.Context, o Options) (*Sink, error) {
	st := o.Settings
	dec, err := envelope.ParseDecimalMode(st.DecimalHandling)
	if err != nil {
		return nil, err
	}
	enc, err := envelope.New(envelope.Options{Prefix: st.TopicPrefix, Version: o.Version, Database: o.Database,
		Schemas: st.Schemas, OmitTombstones: !st.Tombstones, TransactionMetadata: st.TransactionTopic, Decimal: dec})
	if err != nil {
		return nil, err
	}
	s := &Sink{s: st, name: o.Pipeline, log: o.Log, enc: enc, m: newMetrics(), exactly: st.ExactlyOnce}
	s.life, s.kill = context.WithCancel(context.Background())
	if st.Topic != "" {
		t, err := envelope.ParseTopicTemplate(st.Topic)
		if err != nil {
			return nil, fmt.Errorf("sink.kafka.topic: %w", err)
		}
		s.tmpl = &t
	}
	if s.conn, err = connOpts(st); err != nil {
		return nil, err
	}
	txnID := ""
	if s.exactly {
		txnID = TransactionalID(o.Pipeline)
	}
	if s.cl, err = kgo.NewClient(append(s.conn[:len(s.conn):len(s.conn)], producerOpts(st, txnID)...)...); err != nil {
		return nil, fmt.Errorf("kafka: %w", err)
	}
	s.adm = kadm.NewClient(s.cl)
	s.topics = newTopics(s.adm, st.CreateTopics)
	if s.exactly {
		if err := s.initTransactions(ctx); err != nil {
			s.cl.Close()
			return nil, err
		}
	}
	return s, nil
}

// initTransactions creates the progress topic if needed and initializes
// the producer id: the broker bumps the epoch of sluice-<name>, fencing any
// older producer with it and aborting its open transaction.
func (s *Sink) initTransactions(ctx context.Context) error {
	if err := ensureProgressTopic(ctx, s.adm, s.s); err != nil {
		return err
	}
	if _, _, err := s.cl.ProducerID(ctx); err != nil {
		return classify("initialize the transactional producer "+TransactionalID(s.name), s.name, err)
	}
	s.log.Info().Str("transactional_id", TransactionalID(s.name)).Msg("transactional producer initialized")
	return nil
}

// AppliedPosition reads the pipeline's last committed progress record.
func (e ExactlyOnce) AppliedPosition(ctx context.Context) (string, error) {
	val, _, err := readProgress(ctx, e.conn, e.adm, e.s.ProgressTopic, e.name)
	return val, err
}

// topic is where a record goes.
func (s *Sink) topic(r *envelope.Record) string {
	switch {
	case r.Transaction:
		return envelope.TransactionTopic(s.s.TopicPrefix)
	case s.tmpl != nil:
		return s.tmpl.Topic(s.s.TopicPrefix, r.Table)
	}
	return envelope.Topic(s.s.TopicPrefix, r.Table)
}

// linger is how long the pipeline waits for more transactions before it
// flushes a batch (pipeline.Lingerer): each flush is a Kafka transaction
// (an AddPartitionsToTxn, the produce requests, an EndTxn with its
// markers), so a steady flow of small source transactions is better
// published in few, larger ones. It adds at most this to the latency.
const linger = 5 * time.Millisecond

// Linger implements pipeline.Lingerer.
func (s *Sink) Linger() time.Duration { return linger }

// produceChunk is how many encoded events Apply holds before producing them.
const produceChunk = 1024

// Apply encodes a transaction and produces its events (inside the open
// Kafka transaction with exactly_once). They become visible at Flush.
func (s *Sink) Apply(ctx context.Context, txn *change.Txn) error {
	if s.failed != nil {
		return s.failed
	}
	if err := s.producedErr(); err != nil {
		return s.abort(classify("produce", s.name, err))
	}
	// Events are produced in chunks as they are encoded, so a transaction
	// of a million rows never holds a million encoded events in memory
	// (the client's own buffer is bounded by maxBuffered).
	tx := s.enc.Begin(envelope.InfoOf(txn))
	recs := s.recs[:0]
	produced, perr := false, error(nil)
	err := txn.Each(func(c *change.Change) error {
		var err error
		if recs, err = tx.Change(recs, c); err != nil {
			return err
		}
		if len(recs) >= produceChunk {
			produced = true
			if perr = s.produce(ctx, recs); perr != nil {
				return perr
			}
			recs = recs[:0]
		}
		return nil
	})
	if perr != nil {
		return perr
	}
	if err != nil {
		err = fmt.Errorf("kafka: encode transaction %s: %w", txn.ID, err)
		if produced { // part of it is in the Kafka transaction: never commit that
			return s.abort(err)
		}
		return err
	}
	recs = tx.End(recs)
	s.recs = recs[:0]
	if err := s.produce(ctx, recs); err != nil {
		return err
	}
	if txn.Position != nil {
		s.pos, s.dirty = txn.Position, true
	}
	return nil
}

// produce sends records, beginning the Kafka transaction first if needed.
func (s *Sink) produce(ctx context.Context, recs []envelope.Record) error {
	if len(recs) == 0 {
		return nil
	}
	names := make([]string, 0, 2)
	for i := range recs {
		if n := s.topic(&recs[i]); !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	if err := s.topics.ensure(ctx, names...); err != nil {
		return err
	}
	if err := s.begin(); err != nil {
		return err
	}
	for i := range recs {
		r := &recs[i]
		if r.Value == nil && r.Key == nil {
			continue // a keyless table's tombstone compacts nothing
		}
		if err := s.send(ctx, toKgo(s.topic(r), r)); err != nil {
			return err
		}
	}
	return nil
}

func (s *Sink) begin() error {
	if !s.exactly || s.inTxn {
		return nil
	}
	if err := s.cl.BeginTransaction(); err != nil {
		return s.fail(classify("begin a transaction", s.name, err))
	}
	s.inTxn = true
	return nil
}

// send produces one record; its promise notes the outcome. When the
// client's buffer is full it first waits for the broker to take what is
// buffered (failing if the broker stalls), so Produce never blocks.
func (s *Sink) send(ctx context.Context, kr *kgo.Record) error {
	if s.cl.BufferedProduceRecords() >= maxBuffered {
		if err := s.flushClient(ctx, s.cl); err != nil {
			return s.abort(classify("produce", s.name, err))
		}
	}
	kr.Timestamp = time.Now()
	s.cl.Produce(s.life, kr, s.promise)
	return nil
}

func (s *Sink) promise(r *kgo.Record, err error) {
	s.acks.Add(1)
	if err != nil {
		s.m.failures.Inc()
		s.perrMu.Lock()
		if s.perr == nil {
			s.perr = fmt.Errorf("topic %s: %w", r.Topic, err)
		}
		s.perrMu.Unlock()
		return
	}
	s.m.acked(len(r.Key), len(r.Value), r.Timestamp)
}

func (s *Sink) producedErr() error {
	s.perrMu.Lock()
	defer s.perrMu.Unlock()
	return s.perr
}

func toKgo(topic string, r *envelope.Record) *kgo.Record {
	kr := &kgo.Record{Topic: topic, Key: r.Key, Value: r.Value}
	if len(r.Headers) > 0 {
		kr.Headers = make([]kgo.RecordHeader, len(r.Headers))
		for i, h := range r.Headers {
			kr.Headers[i] = kgo.RecordHeader{Key: h.Key, Value: h.Value}
		}
	}
	return kr
}

// Flush makes everything applied durable and visible: with exactly_once
// it adds the progress record and commits the Kafka transaction; on any
// error it aborts it, so nothing of it is visible to read_committed
// consumers, and the sink is done (the pipeline opens a new one and
// resumes from the last committed progress record).
func (s *Sink) Flush(ctx context.Context) error {
	if s.failed != nil {
		return s.failed
	}
	if !s.dirty && !s.inTxn {
		if err := s.producedErr(); err != nil {
			return s.abort(classify("produce", s.name, err))
		}
		return nil
	}
	if s.exactly && s.dirty {
		if err := s.begin(); err != nil {
			return err
		}
		if err := s.send(ctx, &kgo.Record{Topic: s.s.ProgressTopic, Key: []byte(s.name), Value: []byte(s.pos.String())}); err != nil {
			return err
		}
	}
	// A flush that began finishes even if ctx ends (the pipeline stopping):
	// the stall watchdog bounds it, and a commit cut short leaves its
	// outcome unknown until the next start.
	ctx = context.WithoutCancel(ctx)
	err := s.flushClient(ctx, s.cl)
	if err == nil {
		err = s.producedErr()
	}
	if err != nil {
		return s.abort(classify("produce", s.name, err))
	}
	if s.exactly {
		if err := s.cl.EndTransaction(ctx, kgo.TryCommit); err != nil {
			return s.abort(classify("commit the transaction", s.name, err))
		}
		s.inTxn = false
	}
	s.m.commits.Inc()
	s.dirty = false
	return nil
}

// errStalled says no broker answered for a produced record for a while.
var errStalled = errors.New("no broker acknowledged a record for " + deliveryTimeout.String())

// flushClient waits until the broker answered for every buffered record,
// or until it answered for none for deliveryTimeout (kgo alone may wait
// for a broker that is down much longer, retrying to connect).
func (s *Sink) flushClient(ctx context.Context, cl *kgo.Client) error {
	wctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	done := make(chan struct{})
	defer close(done)
	go func() {
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		last, since := s.acks.Load(), time.Now()
		for {
			select {
			case <-done:
				return
			case now := <-tick.C:
				if n := s.acks.Load(); n != last {
					last, since = n, now
				} else if now.Sub(since) > deliveryTimeout {
					cancel(errStalled)
					return
				}
			}
		}
	}()
	err := cl.Flush(wctx)
	if err != nil && errors.Is(context.Cause(wctx), errStalled) {
		return errStalled
	}
	return err
}

// abort ends the failed transaction without committing it and makes the
// sink unusable: err says why. A fenced producer must not touch the
// transaction (that would bump the epoch back and fence the new owner).
// Aborting is best effort: the next process initializing the
// transactional id aborts whatever is still open.
func (s *Sink) abort(err error) error {
	if s.exactly && s.inTxn && !errors.Is(err, ErrFenced) {
		s.cl.UnsafeAbortBufferedRecords() // the client is not used again
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if aerr := s.cl.EndTransaction(ctx, kgo.TryAbort); aerr != nil {
			s.log.Warn().Err(aerr).Msg("abort the Kafka transaction; the next start aborts it")
		}
		s.inTxn = false
	}
	if s.exactly {
		s.m.aborts.Inc()
	}
	return s.fail(err)
}

func (s *Sink) fail(err error) error {
	if s.failed == nil {
		s.failed = err
	}
	return err
}

// Crash drops what is applied and not flushed, as a killed process would:
// the open transaction is left to the broker (the next process with the
// pipeline's name aborts it when it initializes).
func (s *Sink) Crash() {
	s.fail(errors.New("kafka: the sink crashed"))
	s.kill()
	s.cl.UnsafeAbortBufferedRecords()
	s.closeClients()
}

// Close aborts an open transaction and closes the connections.
func (s *Sink) Close() error {
	if s.inTxn && s.failed == nil {
		s.abort(errors.New("kafka: the sink is closed")) //nolint:errcheck // closing
	}
	s.closeClients()
	return nil
}

func (s *Sink) closeClients() {
	s.closeMu.Do(func() {
		s.kill()
		s.cl.Close()
		s.loadMu.Lock()
		if s.loader != nil {
			s.loader.Close()
		}
		s.loadMu.Unlock()
	})
}
