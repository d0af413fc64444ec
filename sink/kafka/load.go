package kafka

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicecdc/sluice/pkg/change"
	"github.com/sluicecdc/sluice/sink/envelope"
)

// PrepareSnapshot makes sure the tables' topics exist and, with
// exactly_once, forgets the pipeline's position (a tombstone on its
// progress record, committed): a snapshot starts over. Topics are not
// emptied: a repeated snapshot publishes every row again (op r), as
// Debezium does.
func (s *Sink) PrepareSnapshot(ctx context.Context, tables []*change.Table) error {
	var names []string
	for _, t := range tables {
		names = append(names, s.topic(&envelope.Record{Table: t.ID}))
	}
	if err := s.topics.ensure(ctx, names...); err != nil {
		return err
	}
	if !s.exactly {
		return nil
	}
	if s.failed != nil {
		return s.failed
	}
	if err := s.begin(); err != nil {
		return err
	}
	s.send(ctx, &kgo.Record{Topic: s.s.ProgressTopic, Key: []byte(s.name)})
	if err := s.flushClient(ctx, s.cl); err != nil {
		return s.abort(classify("forget the progress record", s.name, err))
	}
	if err := s.producedErr(); err != nil {
		return s.abort(classify("forget the progress record", s.name, err))
	}
	if err := s.cl.EndTransaction(ctx, kgo.TryCommit); err != nil {
		return s.abort(classify("forget the progress record", s.name, err))
	}
	s.inTxn = false
	return nil
}

// snapshotClient is the producer of snapshot rows: with exactly_once a
// second, idempotent producer outside transactions (Load runs
// concurrently, a transactional producer has one transaction at a time,
// and a snapshot that fails is repeated whole anyway); else the sink's.
func (s *Sink) snapshotClient() (*kgo.Client, error) {
	if !s.exactly {
		return s.cl, nil
	}
	s.loadMu.Lock()
	defer s.loadMu.Unlock()
	if s.loader == nil {
		cl, err := kgo.NewClient(append(s.conn[:len(s.conn):len(s.conn)], producerOpts(s.s, "")...)...)
		if err != nil {
			return nil, fmt.Errorf("kafka: %w", err)
		}
		s.loader = cl
	}
	return s.loader, nil
}

// Load publishes a table's snapshot rows as op r events and returns once
// the broker acknowledged all of them. source.snapshot is "first" for the
// first row of the call, "last" for its last row (also when it is the
// only one) and "true" in between: Debezium marks the first and last row
// of the whole snapshot, Sluice those of each table (each Load call; a
// source that reads a table in chunks marks each chunk so).
func (s *Sink) Load(ctx context.Context, t *change.Table, rows func(yield func(change.Row) error) error) error {
	cl, err := s.snapshotClient()
	if err != nil {
		return err
	}
	topic := s.topic(&envelope.Record{Table: t.ID})
	if err := s.topics.ensure(ctx, topic); err != nil {
		return err
	}
	var (
		mu   sync.Mutex
		perr error
		prev change.Row // a copy of the row before, published once the next one is read
		have bool
		n    int
		recs []envelope.Record
	)
	promise := func(r *kgo.Record, err error) {
		s.acks.Add(1)
		if err != nil {
			mu.Lock()
			if perr == nil {
				perr = err
			}
			mu.Unlock()
			s.m.failures.Inc()
			return
		}
		s.m.acked(len(r.Key), len(r.Value), r.Timestamp)
	}
	publish := func(row change.Row, marker envelope.SnapshotMarker) error {
		var err error
		recs, err = s.enc.Read(recs[:0], t, row, envelope.Snapshot{Marker: marker})
		if err != nil {
			return fmt.Errorf("kafka: snapshot of %s: %w", t.ID, err)
		}
		for i := range recs {
			kr := toKgo(topic, &recs[i])
			kr.Timestamp = time.Now()
			cl.Produce(ctx, kr, promise)
		}
		mu.Lock()
		defer mu.Unlock()
		return perr
	}
	err = rows(func(r change.Row) error {
		if have {
			marker := envelope.SnapshotTrue
			if n == 1 {
				marker = envelope.SnapshotFirst
			}
			if err := publish(prev, marker); err != nil {
				return err
			}
		}
		prev, have = copyRow(prev, r), true
		n++
		return nil
	})
	if err == nil && have {
		err = publish(prev, envelope.SnapshotLast)
	}
	if ferr := s.flushClient(ctx, cl); err == nil {
		err = ferr
	}
	mu.Lock()
	if err == nil {
		err = perr
	}
	mu.Unlock()
	if err != nil {
		return classify("publish the snapshot of "+t.ID.String(), s.name, err)
	}
	return nil
}

// copyRow copies src into dst's storage (the source reuses its rows).
func copyRow(dst, src change.Row) change.Row {
	if cap(dst) < len(src) {
		dst = make(change.Row, len(src))
	}
	dst = dst[:len(src)]
	for i, v := range src {
		dst[i].State = v.State
		if v.Data == nil {
			dst[i].Data = nil
			continue
		}
		dst[i].Data = append(dst[i].Data[:0:cap(dst[i].Data)], v.Data...)
		if dst[i].Data == nil {
			dst[i].Data = []byte{}
		}
	}
	return dst
}
