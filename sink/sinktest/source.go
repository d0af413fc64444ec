package sinktest

// The scripted source (with its snapshot) and the in-memory checkpoint
// store the suite runs the real pipeline with.

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sluicecdc/sluice/checkpoint"
	"github.com/sluicecdc/sluice/pkg/change"
	"github.com/sluicecdc/sluice/pkg/pipeline"
)

// script is a list of source transactions, by position 1, 2, ...
type script [][]change.Change

func (s script) txn(i int) *change.Txn {
	t := change.NewTxn("", 0)
	t.ID, t.Position, t.Commit = strconv.Itoa(i+1), Pos(i+1), time.Date(2024, 1, 1, 0, 0, i, 0, time.UTC)
	for _, c := range s[i] {
		t.Add(c) //nolint:errcheck // in memory
	}
	return t
}

// source replays a script from any position, as a log does; with a
// snapshot it is also a Snapshotter of tables at position 0.
type source struct {
	script   script
	snapshot map[*change.Table][]change.Row
	mu       sync.Mutex
	next     int
	stopAt   int // Next blocks (as an idle log) once this many are sent
	acked    Pos
}

func (s *source) Start(_ context.Context, from change.Position) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.next = 0
	if p, ok := from.(Pos); ok {
		s.next = int(p)
	}
	return nil
}

func (s *source) Next(ctx context.Context) (*change.Txn, error) {
	s.mu.Lock()
	if s.next < min(len(s.script), s.stopAt) {
		i := s.next
		s.next++
		s.mu.Unlock()
		return s.script.txn(i), nil
	}
	s.mu.Unlock()
	<-ctx.Done()
	return nil, ctx.Err()
}

func (s *source) Ack(_ context.Context, p change.Position) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.acked = max(s.acked, p.(Pos))
	return nil
}

func (s *source) ParsePosition(v string) (change.Position, error) {
	n, err := strconv.Atoi(v)
	return Pos(n), err
}

func (s *source) Close() error { return nil }

func (s *source) ackedAt() Pos {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.acked
}

// snapshotter is source with a snapshot.
type snapshotter struct{ *source }

func (s snapshotter) Snapshot(context.Context) (pipeline.Snapshot, error) { return snap{s.source}, nil }

type snap struct{ s *source }

func (n snap) Tables() []*change.Table {
	var out []*change.Table
	for t := range n.s.snapshot {
		out = append(out, t)
	}
	slices.SortFunc(out, func(a, b *change.Table) int { return strings.Compare(a.ID.Name, b.ID.Name) })
	return out
}

func (n snap) Chunks(context.Context) ([]pipeline.Chunk, error) {
	var out []pipeline.Chunk
	for _, t := range n.Tables() {
		out = append(out, pipeline.Chunk{Table: t, Of: 1})
	}
	return out, nil
}

func (n snap) Read(_ context.Context, c pipeline.Chunk, fn func(change.Row) error) error {
	for _, r := range n.s.snapshot[c.Table] {
		if err := fn(r); err != nil {
			return err
		}
	}
	return nil
}

func (n snap) Position() change.Position { return Pos(0) }
func (n snap) Close() error              { return nil }

// memStore is a checkpoint store in memory (it survives a "crash" of the
// pipeline within the test, as the file does).
type memStore struct {
	mu sync.Mutex
	cp *checkpoint.Checkpoint
}

func (m *memStore) Load(context.Context) (checkpoint.Checkpoint, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cp == nil {
		return checkpoint.Checkpoint{}, checkpoint.ErrNotFound
	}
	return *m.cp, nil
}

func (m *memStore) Save(_ context.Context, cp checkpoint.Checkpoint) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.cp = &cp
	return nil
}
