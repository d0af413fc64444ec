package nats

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/sluicecdc/sluice/pkg/change"
	"github.com/sluicecdc/sluice/pkg/pipeline"
	"github.com/sluicecdc/sluice/sink/envelope"
)

// Options configure a Sink.
type Options struct {
	Settings Settings
	Pipeline string // the pipeline's name: message ids and the progress subject
	Version  string // Sluice's version (source.version)
	Database string // source.db of PostgreSQL changes
	Log      zerolog.Logger
}

// Sink publishes change events to a JetStream stream.
type Sink struct {
	set      Settings
	pipeline string
	progress string // the progress subject
	log      zerolog.Logger
	enc      *envelope.Encoder
	nc       *nats.Conn
	js       jetstream.JetStream
	stream   jetstream.Stream
	m        *metrics

	lost     chan struct{} // closed when the connection is gone
	lostOnce sync.Once
	closed   atomic.Bool

	// The current batch (since the last Flush); Apply and Flush are
	// called from one goroutine.
	futures   []jetstream.PubAckFuture
	last      change.Position // the last transaction applied since the marker
	dirty     bool            // a marker is due
	started   time.Time       // the batch's first publish
	markerSeq uint64
	present   map[string]struct{} // ids stored after the last marker (see scanAfter)
	recs      []envelope.Record

	snapNonce string // tells this snapshot's message ids from an earlier one's
	snapFirst atomic.Bool
	loads     atomic.Int64 // Load calls, in message ids
}

var (
	_ pipeline.Sink           = (*Sink)(nil)
	_ pipeline.Loader         = (*Sink)(nil)
	_ pipeline.PositionKeeper = (*Sink)(nil)
)

// ErrConnectionLost says the connection to NATS broke during a batch: the
// batch is not durable and the pipeline replays it with a new sink.
var ErrConnectionLost = errors.New("the connection to NATS was lost")

// New connects, opens (or creates) the stream and checks it holds the
// progress subject.
func New(ctx context.Context, o Options) (*Sink, error) {
	s, err := newSink(ctx, o)
	return s, classify(err)
}

func newSink(ctx context.Context, o Options) (*Sink, error) {
	dec, err := envelope.ParseDecimalMode(o.Settings.DecimalHandling)
	if err != nil {
		return nil, fmt.Errorf("sink.nats.decimal_handling: %w", err)
	}
	enc, err := envelope.New(envelope.Options{Prefix: o.Settings.SubjectPrefix, Version: o.Version, Database: o.Database,
		Schemas: o.Settings.Schemas, OmitTombstones: !o.Settings.Tombstones, Decimal: dec})
	if err != nil {
		return nil, err
	}
	s := &Sink{set: o.Settings, pipeline: o.Pipeline, progress: progressSubject(o.Settings.SubjectPrefix, o.Pipeline),
		log: o.Log, enc: enc, m: newMetrics(), lost: make(chan struct{})}
	s.nc, s.js, err = connect(ctx, &s.set, o.Pipeline, s.connectionLost)
	if err != nil {
		return nil, err
	}
	if s.stream, err = openStream(ctx, s.js, &s.set, o.Pipeline, o.Log); err != nil {
		s.nc.Close()
		return nil, err
	}
	return s, nil
}

func (s *Sink) connectionLost() { s.lostOnce.Do(func() { close(s.lost) }) }

// AppliedPosition reads the last progress marker back from the stream: the
// last complete transaction. It also learns which records of an
// unfinished batch after it are stored, so the replay skips them.
func (s *Sink) AppliedPosition(ctx context.Context) (string, error) {
	pos, err := s.appliedPosition(ctx)
	return pos, classify(err)
}

func (s *Sink) appliedPosition(ctx context.Context) (string, error) {
	pos, seq, err := readProgress(ctx, s.stream, s.progress)
	if err != nil {
		return "", err
	}
	present, err := scanAfter(ctx, s.js, s.stream, s.set.SubjectPrefix+".>", s.pipeline, seq)
	if err != nil {
		return "", err
	}
	s.markerSeq, s.present = seq, present
	if len(present) > 0 {
		s.log.Info().Str("position", pos).Int("stored", len(present)).
			Msg("the stream holds records of a batch after its last progress marker; the replay skips them")
	}
	return pos, nil
}

// Apply publishes the transaction's events asynchronously; Flush waits
// for their acknowledgements.
func (s *Sink) Apply(ctx context.Context, txn *change.Txn) error {
	return classify(s.apply(ctx, txn))
}

func (s *Sink) apply(ctx context.Context, txn *change.Txn) error {
	if err := s.usable(); err != nil {
		return err
	}
	if txn.Position == nil {
		return fmt.Errorf("nats sink: transaction %s has no position (message ids and progress need one)", txn.ID)
	}
	pos := txn.Position.String()
	t := s.enc.Begin(envelope.InfoOf(txn))
	index := 0
	err := txn.Each(func(c *change.Change) error {
		var err error
		if s.recs, err = t.Change(s.recs[:0], c); err != nil {
			return err
		}
		for _, r := range s.recs {
			id := msgID(s.pipeline, pos, index)
			index++
			if _, stored := s.present[id]; stored {
				continue
			}
			if err := s.publish(r, id, pos); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		s.connectionLost() // nothing may follow what this left unsent
		return fmt.Errorf("publish transaction %s (position %s): %w", txn.ID, pos, err)
	}
	s.last, s.dirty = txn.Position, true
	return nil
}

// publish sends one record asynchronously.
func (s *Sink) publish(r envelope.Record, id, pos string) error {
	m := natsMsg(s.set.SubjectPrefix, r, pos)
	if s.started.IsZero() {
		s.started = time.Now()
	}
	// No retries: a retried message would overtake the ones after it.
	f, err := s.js.PublishMsgAsync(m, jetstream.WithMsgID(id), jetstream.WithStallWait(s.set.Timeout), jetstream.WithRetryAttempts(0))
	if err != nil {
		return s.lostOr(err)
	}
	s.futures = append(s.futures, f)
	if len(s.futures) >= maxFutures { // a large transaction: bound what is held
		if err := s.waitAcks(context.Background(), s.futures); err != nil {
			return err
		}
		s.futures = s.futures[:0]
	}
	return nil
}

// maxFutures is how many unacknowledged messages Apply holds before it
// waits for their acknowledgements (each bounded by the timeout).
const maxFutures = 16384

// Linger implements pipeline.Lingerer: a flush waits for the server's
// acknowledgements and publishes a progress marker, so a steady flow of
// small source transactions is better flushed a few milliseconds apart.
func (s *Sink) Linger() time.Duration { return 5 * time.Millisecond }

// Flush waits until JetStream acknowledged every message published since
// the last Flush, then publishes the progress marker: durable when it
// returns. On error the sink is done; the pipeline opens a new one and
// replays from the last marker.
func (s *Sink) Flush(ctx context.Context) error {
	return classify(s.flush(ctx))
}

func (s *Sink) flush(ctx context.Context) error {
	if err := s.usable(); err != nil {
		return err
	}
	if err := s.waitAcks(ctx, s.futures); err != nil {
		s.m.aborts.Inc()
		s.connectionLost() // later publishes must not overtake the lost ones
		return fmt.Errorf("flush: %w", err)
	}
	s.futures = s.futures[:0]
	if !s.dirty {
		return nil
	}
	if err := s.publishMarker(ctx, s.last.String()); err != nil {
		s.m.aborts.Inc()
		s.connectionLost()
		return fmt.Errorf("flush: %w", s.lostOr(err))
	}
	s.m.commits.Inc()
	if !s.started.IsZero() {
		s.m.latency.Observe(time.Since(s.started).Seconds())
	}
	s.dirty, s.started = false, time.Time{}
	return nil
}

// waitAcks waits for every future: each must be stored in our stream.
func (s *Sink) waitAcks(ctx context.Context, futures []jetstream.PubAckFuture) error {
	want := s.stream.CachedInfo().Config.Name
	for _, f := range futures {
		select {
		case ack := <-f.Ok():
			if ack.Stream != want {
				return fmt.Errorf("subject %s is stored in stream %s, not in %s (sink.nats.stream): give the streams subjects that do not overlap",
					f.Msg().Subject, ack.Stream, want)
			}
			if ack.Duplicate {
				s.m.duplicates.Inc()
				continue
			}
			s.m.records.Inc()
			s.m.bytes.Add(float64(len(f.Msg().Data)))
		case err := <-f.Err():
			return s.publishError(f.Msg().Subject, err)
		case <-s.lost:
			return ErrConnectionLost
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

func (s *Sink) publishError(subj string, err error) error {
	if errors.Is(err, jetstream.ErrNoStreamResponse) || errors.Is(err, nats.ErrNoResponders) {
		if covered(s.stream.CachedInfo().Config.Subjects, subj) {
			// the stream holds the subject but did not answer: it is
			// starting or electing a leader
			return &transientError{fmt.Errorf("publish to %s: stream %s did not answer: %w", subj, s.set.streamName(), err)}
		}
		return fmt.Errorf("publish to %s: no stream holds this subject (the stream %s's subjects must include it, e.g. %s.>): %w",
			subj, s.set.streamName(), s.set.SubjectPrefix, err)
	}
	return fmt.Errorf("publish to %s: %w", subj, s.lostOr(err))
}

// usable fails once the connection is gone or the sink closed.
func (s *Sink) usable() error {
	if s.closed.Load() {
		return errors.New("nats sink: closed")
	}
	select {
	case <-s.lost:
		return fmt.Errorf("%w; the pipeline replays from the last progress marker", ErrConnectionLost)
	default:
		return nil
	}
}

func (s *Sink) lostOr(err error) error {
	select {
	case <-s.lost:
		return fmt.Errorf("%w: %v", ErrConnectionLost, err)
	default:
		return err
	}
}

// Close drops what is not flushed and disconnects.
func (s *Sink) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	s.nc.Close()
	return nil
}

// Crash drops the connection at once, as a killed process would: what
// was published may or may not be stored, and no marker follows it.
func (s *Sink) Crash() { s.Close() } //nolint:errcheck // always nil

// natsMsg is a record as a message: the value is the body (empty for a
// tombstone), the key and the record's headers are headers.
func natsMsg(prefix string, r envelope.Record, pos string) *nats.Msg {
	m := &nats.Msg{Subject: subject(prefix, r.Table), Data: r.Value, Header: make(nats.Header, 4+len(r.Headers))}
	if pos != "" {
		m.Header.Set(HeaderPosition, pos)
	}
	if r.Key != nil {
		m.Header.Set(HeaderKey, string(r.Key))
	}
	for _, h := range r.Headers {
		m.Header.Set(h.Key, string(h.Value))
	}
	return m
}
