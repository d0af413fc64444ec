package webhook

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/sluicecdc/sluice/pkg/change"
	"github.com/sluicecdc/sluice/pkg/pipeline"
	"github.com/sluicecdc/sluice/sink/envelope"
	"github.com/sluicecdc/sluice/sink/jsonl"
)

// Sink posts batches of change events. Apply and Flush come from the
// pipeline; Load from several snapshot workers at once: one lock orders
// them.
type Sink struct {
	*jsonl.Metrics
	c         *client
	enc       *envelope.Encoder
	pipeline  string
	maxRows   int
	maxBytes  int
	log       zerolog.Logger
	mu        sync.Mutex
	items     [][]byte // events waiting for Flush
	size      int
	first     string // position of the first transaction waiting
	last      string
	snapshots int // snapshot requests sent, for their keys
	firstRow  bool
}

var (
	_ pipeline.Sink   = (*Sink)(nil)
	_ pipeline.Loader = (*Sink)(nil)
)

// Apply encodes a transaction's events; they are sent at Flush.
func (s *Sink) Apply(ctx context.Context, txn *change.Txn) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := len(s.items)
	size := s.size
	err := jsonl.Records(s.enc, txn, func(r envelope.Record) error {
		item := jsonl.Line(nil, s.enc, r)
		s.items = append(s.items, item)
		s.size += len(item) + 1
		return nil
	})
	if err != nil {
		s.items, s.size = s.items[:n], size // nothing of a failed transaction
		return err
	}
	if txn.Position != nil {
		if s.first == "" {
			s.first = txn.Position.String()
		}
		s.last = txn.Position.String()
	}
	return nil
}

// Linger implements pipeline.Lingerer: a flush is at least one HTTP
// request, so a steady flow of small source transactions is better sent
// in batches a few milliseconds apart.
func (s *Sink) Linger() time.Duration { return 5 * time.Millisecond }

// Flush posts everything applied, in requests within the batch limits,
// each with its Idempotency-Key; it returns when every one succeeded.
func (s *Sink) Flush(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.items) == 0 {
		s.first, s.last = "", ""
		return nil
	}
	base := s.pipeline + ":" + s.first + ".." + s.last
	if err := s.send(ctx, s.items, func(i int) string { return key(s.pipeline, base+":"+strconv.Itoa(i)) }); err != nil {
		return err
	}
	s.items, s.size, s.first, s.last = s.items[:0], 0, "", ""
	return nil
}

// key keeps an Idempotency-Key short.
func key(pipelineName, k string) string {
	if len(k) <= 200 {
		return k
	}
	h := sha256.Sum256([]byte(k))
	return pipelineName + ":sha256-" + hex.EncodeToString(h[:])
}

// send posts items in requests of at most maxRows events and maxBytes
// bytes (an event larger than maxBytes goes alone).
func (s *Sink) send(ctx context.Context, items [][]byte, keyOf func(i int) string) error {
	start := time.Now()
	var body []byte
	for i, from := 0, 0; from < len(items); i++ {
		body = append(body[:0], '[')
		to := from
		for to < len(items) && to-from < s.maxRows && (to == from || len(body)+len(items[to])+1 <= s.maxBytes) {
			if to > from {
				body = append(body, ',')
			}
			body = append(body, items[to]...)
			to++
		}
		body = append(body, ']')
		if err := s.c.post(ctx, body, keyOf(i)); err != nil {
			s.Aborts.Inc()
			return err
		}
		s.Records.Add(float64(to - from))
		s.Bytes.Add(float64(len(body)))
		from = to
	}
	s.Commits.Inc()
	s.Latency.Observe(time.Since(start).Seconds())
	return nil
}

// PrepareSnapshot has nothing to empty: a receiver gets the snapshot's
// rows as op "r" events (pipeline.Loader).
func (s *Sink) PrepareSnapshot(ctx context.Context, tables []*change.Table) error {
	s.mu.Lock()
	s.firstRow = true
	s.mu.Unlock()
	return nil
}

// Load posts a table's snapshot rows in batches (pipeline.Loader).
// Concurrent calls take turns.
func (s *Sink) Load(ctx context.Context, t *change.Table, rows func(yield func(change.Row) error) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var items [][]byte
	size := 0
	var recs []envelope.Record
	flush := func() error {
		if len(items) == 0 {
			return nil
		}
		err := s.send(ctx, items, func(int) string {
			s.snapshots++
			return s.pipeline + ":snapshot-" + strconv.Itoa(s.snapshots)
		})
		items, size = items[:0], 0
		return err
	}
	err := rows(func(r change.Row) error {
		marker := envelope.SnapshotTrue
		if s.firstRow {
			marker, s.firstRow = envelope.SnapshotFirst, false
		}
		var err error
		if recs, err = s.enc.Read(recs[:0], t, r, envelope.Snapshot{Marker: marker}); err != nil {
			return err
		}
		for _, rec := range recs {
			item := jsonl.Line(nil, s.enc, rec)
			items = append(items, item)
			size += len(item) + 1
		}
		if len(items) >= s.maxRows || size >= s.maxBytes {
			return flush()
		}
		return nil
	})
	if err != nil {
		return err
	}
	return flush()
}

// Close drops what was not flushed.
func (s *Sink) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.items, s.size = nil, 0
	s.c.http.CloseIdleConnections()
	return nil
}
