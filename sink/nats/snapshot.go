package nats

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/sluicecdc/sluice/pkg/change"
	"github.com/sluicecdc/sluice/sink/envelope"
)

// PrepareSnapshot forgets the applied position: it publishes a progress
// marker with no position, so a restart before the snapshot's end starts
// the copy over. A stream is never emptied: the snapshot's op r events
// follow what the stream holds, as in Debezium.
func (s *Sink) PrepareSnapshot(ctx context.Context, _ []*change.Table) error {
	return classify(s.prepareSnapshot(ctx))
}

func (s *Sink) prepareSnapshot(ctx context.Context) error {
	if err := s.usable(); err != nil {
		return err
	}
	s.snapNonce = strconv.FormatInt(time.Now().UnixNano(), 36)
	s.snapFirst.Store(true)
	if err := s.publishMarker(ctx, ""); err != nil {
		return fmt.Errorf("prepare the snapshot: %w", err)
	}
	s.last, s.dirty, s.present = nil, false, nil
	return nil
}

// Load publishes a snapshot chunk's rows as op r events (source.snapshot
// "first" for the snapshot's first row, "true" after it) and waits until
// JetStream acknowledged them all. Safe for concurrent use.
func (s *Sink) Load(ctx context.Context, t *change.Table, rows func(yield func(change.Row) error) error) error {
	return classify(s.load(ctx, t, rows))
}

func (s *Sink) load(ctx context.Context, t *change.Table, rows func(yield func(change.Row) error) error) error {
	if err := s.usable(); err != nil {
		return err
	}
	// Ids tell this chunk's rows apart from every other's, so none is
	// dropped as a duplicate; a restarted snapshot publishes its rows again.
	base := s.pipeline + ":snapshot:" + s.snapNonce + ":" + strconv.FormatInt(s.loads.Add(1), 36) + ":"
	var futures []jetstream.PubAckFuture
	var recs []envelope.Record
	n := 0
	err := rows(func(r change.Row) error {
		marker := envelope.SnapshotTrue
		if s.snapFirst.CompareAndSwap(true, false) {
			marker = envelope.SnapshotFirst
		}
		var err error
		if recs, err = s.enc.Read(recs[:0], t, r, envelope.Snapshot{Marker: marker}); err != nil {
			return err
		}
		for _, rec := range recs {
			f, err := s.publishSnapshot(rec, base+strconv.Itoa(n))
			if err != nil {
				return err
			}
			n++
			futures = append(futures, f)
		}
		if len(futures) >= 4096 { // bound what is held in memory
			if err := s.waitAcks(ctx, futures); err != nil {
				return err
			}
			futures = futures[:0]
		}
		return nil
	})
	if err == nil {
		err = s.waitAcks(ctx, futures)
	}
	if err != nil {
		return fmt.Errorf("snapshot of %s: %w", t.ID, err)
	}
	return nil
}

func (s *Sink) publishSnapshot(r envelope.Record, id string) (jetstream.PubAckFuture, error) {
	m := natsMsg(s.set.SubjectPrefix, r, "")
	f, err := s.js.PublishMsgAsync(m, jetstream.WithMsgID(id), jetstream.WithStallWait(s.set.Timeout), jetstream.WithRetryAttempts(0))
	if err != nil {
		return nil, s.lostOr(err)
	}
	return f, nil
}
