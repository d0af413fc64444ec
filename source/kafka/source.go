package kafka

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicecdc/sluice/pkg/change"
	"github.com/sluicecdc/sluice/pkg/pipeline"
)

// Options configure a Source.
type Options struct {
	Topics []string // names, or regular expressions (any with one of *+?[]()|^$\)
	Group  string   // the consumer group
	// Client are the connection options (brokers, TLS, SASL).
	Client []kgo.Opt
	// Positions returns the stored positions (Offsets texts) of every
	// member of the pipeline in the target, read on a connection of its
	// own: called when partitions are assigned.
	Positions func(ctx context.Context) ([]string, error)
	// Target types the values of events without schemas (may be nil).
	Target Columns
	// RevokeWait bounds how long revoked partitions wait for their changes
	// to be committed in the target (default 50 s, below Kafka's default
	// rebalance timeout of 60 s).
	RevokeWait time.Duration
	SpillDir   string
	Log        zerolog.Logger

	checkOpts []kgo.Opt  // the client options alone, for Check and Teardown
	forget    forgetFunc // deletes every member's stored positions (Teardown)
	prefix    string     // the name prefix of the members' positions rows
}

// Source reads Debezium change events as a member of a consumer group.
type Source struct {
	opts Options
	cl   *kgo.Client
	recs chan *kgo.Record
	dec  Decoder

	mu      sync.Mutex
	changed *sync.Cond
	owned   map[TopicPartition]bool
	next    map[TopicPartition]int64 // next offset to hand out (records below it are old)
	pos     Offsets                  // what was handed out, as the position of the last transaction
	acked   Offsets                  // committed in the target
	fatal   error
	closed  bool

	committing atomic.Bool // a mirror commit to Kafka is under way

	highWater  map[TopicPartition]int64    // the partitions' high watermarks, from the fetches
	inflight   map[TopicPartition][]handed // records handed out and not yet committed, oldest first
	rebalances counter
}

var (
	_ pipeline.Source = (*Source)(nil)
)

// ErrRevoked says partitions were taken from this member before their
// changes were committed in the target, or were lost with the member's
// group session: committing them now could apply them twice.
var ErrRevoked = errors.New("partitions revoked before their changes were committed")

// New makes a source; it connects on Start.
func New(opts Options) (*Source, error) {
	if len(opts.Topics) == 0 || opts.Group == "" || opts.Positions == nil {
		return nil, errors.New("kafka source: topics, group and positions are required")
	}
	if opts.RevokeWait <= 0 {
		opts.RevokeWait = 50 * time.Second
	}
	s := &Source{opts: opts, recs: make(chan *kgo.Record, 4096), owned: map[TopicPartition]bool{},
		next: map[TopicPartition]int64{}, pos: Offsets{}, acked: Offsets{},
		highWater: map[TopicPartition]int64{}, inflight: map[TopicPartition][]handed{}}
	s.changed = sync.NewCond(&s.mu)
	s.dec.Target = opts.Target
	return s, nil
}

var regexMeta = regexp.MustCompile(`[*+?\[\]()|^$\\]`)

// topicOpts subscribes to the topics: by name, or all as anchored regular
// expressions when any is a pattern.
func topicOpts(topics []string) ([]kgo.Opt, error) {
	pattern := false
	for _, t := range topics {
		if regexMeta.MatchString(t) {
			pattern = true
		}
	}
	if !pattern {
		return []kgo.Opt{kgo.ConsumeTopics(topics...)}, nil
	}
	res := make([]string, len(topics))
	for i, t := range topics {
		if !regexMeta.MatchString(t) {
			t = regexp.QuoteMeta(t)
		}
		if _, err := compileTopic(t); err != nil {
			return nil, err
		}
		res[i] = "^(?:" + t + ")$"
	}
	return []kgo.Opt{kgo.ConsumeTopics(res...), kgo.ConsumeRegex()}, nil
}

func compileTopic(pattern string) (*regexp.Regexp, error) {
	re, err := regexp.Compile("^(?:" + pattern + ")$")
	if err != nil {
		return nil, fmt.Errorf("source.kafka.topics: %q is not a regular expression: %v", pattern, err)
	}
	return re, nil
}

// Start joins the group. from is this member's own last stored position;
// where each partition starts is decided when it is assigned (the greatest
// offset any member stored).
func (s *Source) Start(ctx context.Context, from change.Position) error {
	if o, ok := from.(Offsets); ok {
		s.mu.Lock()
		maps.Copy(s.pos, o)
		maps.Copy(s.acked, o)
		s.mu.Unlock()
	}
	topics, err := topicOpts(s.opts.Topics)
	if err != nil {
		return err
	}
	opts := append(append([]kgo.Opt{}, s.opts.Client...), topics...)
	opts = append(opts,
		kgo.ConsumerGroup(s.opts.Group),
		kgo.DisableAutoCommit(),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.AdjustFetchOffsetsFn(s.assign),
		kgo.OnPartitionsRevoked(s.revoke),
		kgo.OnPartitionsLost(s.lose),
	)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return fmt.Errorf("kafka source: %w", err)
	}
	s.cl = cl
	go s.poll(ctx)
	return nil
}

// poll fetches records into s.recs until ctx ends or the client closes.
func (s *Source) poll(ctx context.Context) {
	for {
		fs := s.cl.PollFetches(ctx)
		if fs.IsClientClosed() || ctx.Err() != nil {
			return
		}
		var ferr error
		fs.EachError(func(topic string, p int32, err error) {
			if errors.Is(err, context.Canceled) {
				return
			}
			s.opts.Log.Warn().Str("topic", topic).Int32("partition", p).Err(err).Msg("fetch failed; retrying")
			if ferr == nil && isFatalFetch(err) {
				ferr = fmt.Errorf("read %s partition %d: %w", topic, p, err)
			}
		})
		if ferr != nil {
			s.fail(ferr)
			return
		}
		s.mu.Lock()
		fs.EachPartition(func(p kgo.FetchTopicPartition) {
			if p.Err == nil && p.HighWatermark >= 0 {
				s.highWater[TopicPartition{p.Topic, p.Partition}] = p.HighWatermark
			}
		})
		s.mu.Unlock()
		it := fs.RecordIter()
		for !it.Done() {
			select {
			case s.recs <- it.Next():
			case <-ctx.Done():
				return
			}
		}
	}
}

// isFatalFetch tells fetch errors that retrying does not cure.
func isFatalFetch(err error) bool {
	var de *kgo.ErrDataLoss
	return errors.As(err, &de)
}

func (s *Source) fail(err error) {
	s.mu.Lock()
	if s.fatal == nil {
		s.fatal = err
	}
	s.mu.Unlock()
	s.changed.Broadcast()
}

// assign is called with the offsets Kafka has for newly assigned
// partitions; it replaces them with the positions stored in the target.
func (s *Source) assign(ctx context.Context, offsets map[string]map[int32]kgo.Offset) (map[string]map[int32]kgo.Offset, error) {
	texts, err := s.opts.Positions(ctx)
	if err != nil {
		if ctx.Err() != nil {
			// A new rebalance began: the group fetches these partitions'
			// offsets again in the next session.
			return nil, ctx.Err()
		}
		err = fmt.Errorf("read the group's positions from the target: %w", err)
		s.fail(err)
		return nil, err
	}
	stored, err := MaxOffsets(texts)
	if err != nil {
		err = fmt.Errorf("the group's positions in the target: %w", err)
		s.fail(err)
		return nil, err
	}
	s.rebalances.n.Add(1)
	s.mu.Lock()
	defer s.mu.Unlock()
	ev := s.opts.Log.Info()
	for topic, parts := range offsets {
		for p := range parts {
			tp := TopicPartition{topic, p}
			off, ok := stored[tp]
			if ok {
				parts[p] = kgo.NewOffset().At(off).WithEpoch(-1)
			} else {
				parts[p] = kgo.NewOffset().AtStart()
			}
			s.owned[tp] = true
			s.next[tp] = off // 0 when none stored: from the start
			if off > s.pos[tp] {
				s.pos[tp] = off
			}
			if off > s.acked[tp] {
				s.acked[tp] = off
			}
			ev = ev.Int64(tp.String(), off)
		}
	}
	ev.Msg("partitions assigned; reading from the offsets stored in the target")
	return offsets, nil
}

// revoke waits, before the partitions go to another member, until every
// change handed out of them is committed in the target.
func (s *Source) revoke(ctx context.Context, _ *kgo.Client, revoked map[string][]int32) {
	deadline := time.Now().Add(s.opts.RevokeWait)
	s.mu.Lock()
	defer s.mu.Unlock()
	var tps []TopicPartition
	for topic, parts := range revoked {
		for _, p := range parts {
			tp := TopicPartition{topic, p}
			delete(s.owned, tp)
			tps = append(tps, tp)
		}
	}
	if len(tps) == 0 {
		return
	}
	s.rebalances.n.Add(1)
	stop := time.AfterFunc(s.opts.RevokeWait, s.changed.Broadcast)
	defer stop.Stop()
	for {
		pending := ""
		for _, tp := range tps {
			if s.pos[tp] > s.acked[tp] {
				pending = tp.String()
				break
			}
		}
		if pending == "" {
			for _, tp := range tps {
				delete(s.inflight, tp)
			}
			s.opts.Log.Info().Int("partitions", len(tps)).Msg("partitions revoked; their changes are committed in the target")
			return
		}
		if s.closed || s.fatal != nil || time.Now().After(deadline) || ctx.Err() != nil {
			if s.fatal == nil {
				s.fatal = fmt.Errorf("%w: %s is given up with changes not yet committed in the target (waited %s); "+
					"stopping so that they are not applied twice (the next member reads them again from the target's position)",
					ErrRevoked, pending, s.opts.RevokeWait)
			}
			return
		}
		s.changed.Wait()
	}
}

// lose stops the source: the partitions may already be another member's.
func (s *Source) lose(_ context.Context, _ *kgo.Client, lost map[string][]int32) {
	s.mu.Lock()
	n := 0
	for topic, parts := range lost {
		for _, p := range parts {
			tp := TopicPartition{topic, p}
			delete(s.owned, tp)
			delete(s.inflight, tp)
			if s.pos[tp] > s.acked[tp] && s.fatal == nil {
				s.fatal = fmt.Errorf("%w: the group session was lost with changes of %s not yet committed in the target; "+
					"stopping so that they are not applied twice", ErrRevoked, tp)
			}
			n++
		}
	}
	s.mu.Unlock()
	s.changed.Broadcast()
	if n > 0 {
		s.opts.Log.Warn().Int("partitions", n).Msg("partitions lost with the group session")
	}
}

// Next returns the next change event as a transaction of its own.
func (s *Source) Next(ctx context.Context) (*change.Txn, error) {
	for {
		s.mu.Lock()
		err := s.fatal
		s.mu.Unlock()
		if err != nil {
			return nil, err
		}
		var r *kgo.Record
		select {
		case r = <-s.recs:
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(200 * time.Millisecond):
			continue // look at fatal again
		}
		tp := TopicPartition{r.Topic, r.Partition}
		if !s.current(tp, r.Offset, false) {
			continue // fetched before a revoke, or read again after a reassignment
		}
		ev, err := s.dec.Decode(r.Topic, r.Key, r.Value)
		if errors.Is(err, ErrSkip) {
			s.current(tp, r.Offset, true)
			continue
		}
		if err != nil {
			if !s.current(tp, r.Offset, false) {
				continue
			}
			return nil, &DecodeError{Topic: r.Topic, Partition: r.Partition, Offset: r.Offset, Err: err}
		}
		txn := change.NewTxn(s.opts.SpillDir, 0)
		if err := txn.Add(ev.Change); err != nil {
			txn.Close()
			return nil, fmt.Errorf("read %s/%d at offset %d: %w", r.Topic, r.Partition, r.Offset, err)
		}
		txn.ID = ev.TxID
		if txn.ID == "" {
			txn.ID = fmt.Sprintf("%s/%d@%d", r.Topic, r.Partition, r.Offset)
		}
		txn.Commit = ev.Commit
		if txn.Commit.IsZero() {
			txn.Commit = r.Timestamp
		}
		// Taken and handed out in one step under the lock, so a revoke
		// either sees it pending (and waits for its commit) or has
		// already dropped the partition (and it is not handed out).
		s.mu.Lock()
		if !s.owned[tp] || r.Offset < s.next[tp] {
			s.mu.Unlock()
			txn.Close()
			continue
		}
		s.next[tp] = r.Offset + 1
		s.pos[tp] = r.Offset + 1
		s.inflight[tp] = append(s.inflight[tp], handed{next: r.Offset + 1, ts: r.Timestamp})
		txn.Position = maps.Clone(s.pos)
		s.mu.Unlock()
		return txn, nil
	}
}

// current tells whether the record at offset of tp is still to be handed
// out: the partition is this member's and the offset not behind; with
// take, it also moves past it (a record skipped: a tombstone).
func (s *Source) current(tp TopicPartition, offset int64, take bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	ok := s.owned[tp] && offset >= s.next[tp]
	if ok && take {
		s.next[tp] = offset + 1
	}
	return ok
}

// DecodeError is a message that cannot be decoded: the pipeline stops on it.
type DecodeError struct {
	Topic     string
	Partition int32
	Offset    int64
	Err       error
}

func (e *DecodeError) Error() string {
	return fmt.Sprintf("decode the message of topic %s partition %d at offset %d: %v (fix the producer, or move past the message "+
		"by raising the offset of this partition in sluice.positions)", e.Topic, e.Partition, e.Offset, e.Err)
}

func (e *DecodeError) Unwrap() error { return e.Err }

// Ack records what is committed in the target; Kafka's committed offsets
// mirror it for monitoring.
func (s *Source) Ack(ctx context.Context, pos change.Position) error {
	o, ok := pos.(Offsets)
	if !ok {
		return nil
	}
	commit := map[string]map[int32]kgo.EpochOffset{}
	s.mu.Lock()
	for tp, off := range o {
		if off > s.acked[tp] {
			s.acked[tp] = off
		}
		q := s.inflight[tp]
		n := 0
		for n < len(q) && q[n].next <= off {
			n++
		}
		if n > 0 {
			s.inflight[tp] = append(q[:0], q[n:]...)
		}
		if s.owned[tp] {
			if commit[tp.Topic] == nil {
				commit[tp.Topic] = map[int32]kgo.EpochOffset{}
			}
			commit[tp.Topic][tp.Partition] = kgo.EpochOffset{Epoch: -1, Offset: off}
		}
	}
	s.mu.Unlock()
	s.changed.Broadcast()
	if s.cl != nil && len(commit) > 0 && s.committing.CompareAndSwap(false, true) {
		// In the background: a commit waits for a rebalance in progress,
		// and the rebalance may be waiting for this very ack.
		go func() {
			defer s.committing.Store(false)
			cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			s.cl.CommitOffsetsSync(cctx, commit, func(_ *kgo.Client, _ *kmsg.OffsetCommitRequest, _ *kmsg.OffsetCommitResponse, err error) {
				if err != nil {
					s.opts.Log.Debug().Err(err).Msg("mirror the target's offsets to the group's committed offsets")
				}
			})
		}()
	}
	return nil
}

// ParsePosition reads an Offsets text.
func (s *Source) ParsePosition(text string) (change.Position, error) {
	o, err := ParseOffsets(text)
	if err != nil {
		return nil, err
	}
	return o, nil
}

// Close leaves the group.
func (s *Source) Close() error {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.changed.Broadcast()
	if s.cl != nil {
		s.cl.Close()
	}
	return nil
}
