package jsonl

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/rs/zerolog"

	"github.com/sluicecdc/sluice/pkg/change"
	"github.com/sluicecdc/sluice/pkg/pipeline"
	"github.com/sluicecdc/sluice/sink/envelope"
)

// output is where the lines go: data files or standard output.
type output interface {
	write(p []byte) error
	boundary() error                        // between transactions
	commit(pos string, snapshot bool) error // durable, pos (and the snapshot's start) recorded (files)
	prepareSnapshot() error
	close() error
	crash()
}

// Options configure a Sink.
type Options struct {
	Path     string // "-" for standard output
	Pipeline string
	MaxBytes int64 // rotate a file once it holds this much; 0 never
	Keep     int   // files kept; 0 all
	Encoder  *envelope.Encoder
	Log      zerolog.Logger
}

// Sink writes change events as JSON lines. Apply, Flush and Load may be
// called from several goroutines (Load is, during a snapshot): one lock
// orders them.
type Sink struct {
	*Metrics
	enc *envelope.Encoder
	log zerolog.Logger

	mu     sync.Mutex
	out    output
	pos    string // the position of the last transaction written
	dirty  bool   // written or moved since the last commit
	broken error  // a write failed half-way: nothing more may be committed
	first  bool   // the next snapshot row is the snapshot's first
	// snapshot: no transaction has followed the last snapshot yet, so the
	// pipeline may still copy it again (it records that the snapshot is
	// done after the sink recorded the snapshot's position).
	snapshot bool
	buf      []byte
	started  time.Time
}

var (
	_ pipeline.Sink           = (*Sink)(nil)
	_ pipeline.Loader         = (*Sink)(nil)
	_ pipeline.PositionKeeper = (*keeper)(nil)
)

// keeper is a Sink writing files: it keeps the applied position.
type keeper struct{ *Sink }

// AppliedPosition is the position of the last transaction the files hold
// (pipeline.PositionKeeper).
func (k keeper) AppliedPosition(context.Context) (string, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.pos, nil
}

// Open opens the sink: files at opts.Path, brought back to their last
// flush, as a pipeline.PositionKeeper; or standard output.
func Open(opts Options) (pipeline.Sink, error) {
	s := &Sink{Metrics: NewMetrics("jsonl"), enc: opts.Encoder, log: opts.Log}
	if opts.Path == "-" {
		s.out = &stdout{w: bufio.NewWriterSize(os.Stdout, 256<<10)}
		return s, nil
	}
	fs, err := openFiles(opts.Path, opts.Pipeline, opts.MaxBytes, opts.Keep, opts.Log)
	if err != nil {
		return nil, err
	}
	s.out, s.pos, s.snapshot = fs, fs.st.Position, fs.st.Snapshot != nil
	return keeper{s}, nil
}

// Apply writes a transaction's events (buffered until Flush). A transaction
// without changes moves the position only.
func (s *Sink) Apply(ctx context.Context, txn *change.Txn) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.broken != nil {
		return s.broken
	}
	if !s.dirty {
		s.started = time.Now()
	}
	s.dirty = true
	err := Records(s.enc, txn, func(r envelope.Record) error { return s.writeRecord(r) })
	if err == nil {
		err = s.out.boundary()
	}
	if err != nil {
		s.broken = fmt.Errorf("jsonl: a transaction was written in part (%w): restart from the last flush", err)
		return err
	}
	if txn.Position != nil {
		s.pos = txn.Position.String()
	}
	if txn.Len() > 0 {
		s.snapshot = false
	}
	return nil
}

func (s *Sink) writeRecord(r envelope.Record) error {
	s.buf = append(Line(s.buf[:0], s.enc, r), '\n')
	if err := s.out.write(s.buf); err != nil {
		return fmt.Errorf("jsonl: write: %w", err)
	}
	s.Records.Inc()
	s.Bytes.Add(float64(len(s.buf)))
	return nil
}

// Linger implements pipeline.Lingerer: a flush to files is an fsync and a
// state file write, so a steady flow of small source transactions is
// better flushed a few milliseconds apart.
func (s *Sink) Linger() time.Duration { return 5 * time.Millisecond }

// Flush makes everything written durable and records the position.
func (s *Sink) Flush(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.commit()
}

func (s *Sink) commit() error {
	if s.broken != nil {
		s.Aborts.Inc()
		return s.broken
	}
	if !s.dirty {
		return nil
	}
	if err := s.out.commit(s.pos, s.snapshot); err != nil {
		s.Aborts.Inc()
		s.broken = err
		return err
	}
	s.Commits.Inc()
	s.Latency.Observe(time.Since(s.started).Seconds())
	s.dirty = false
	return nil
}

// PrepareSnapshot forgets the position (pipeline.Loader): the snapshot's
// rows follow what the files hold. The rows of an unfinished earlier
// snapshot are cut off first.
func (s *Sink) PrepareSnapshot(ctx context.Context, tables []*change.Table) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.broken != nil {
		return s.broken
	}
	if err := s.out.prepareSnapshot(); err != nil {
		s.broken = err
		return err
	}
	s.pos, s.first, s.snapshot = "", true, true
	return nil
}

// Load writes a table's snapshot rows as op "r" events and makes them
// durable (pipeline.Loader). Concurrent calls take turns.
func (s *Sink) Load(ctx context.Context, t *change.Table, rows func(yield func(change.Row) error) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.broken != nil {
		return s.broken
	}
	if !s.dirty {
		s.started = time.Now()
	}
	s.dirty = true
	var recs []envelope.Record
	n := 0
	err := rows(func(r change.Row) error {
		if n++; n%1024 == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		marker := envelope.SnapshotTrue
		if s.first {
			marker, s.first = envelope.SnapshotFirst, false
		}
		var err error
		if recs, err = s.enc.Read(recs[:0], t, r, envelope.Snapshot{Marker: marker}); err != nil {
			return fmt.Errorf("encode %s snapshot row: %w", t.ID, err)
		}
		for _, rec := range recs {
			if err := s.writeRecord(rec); err != nil {
				return err
			}
		}
		return nil
	})
	if err == nil {
		err = s.out.boundary()
	}
	if err != nil {
		s.broken = fmt.Errorf("jsonl: a snapshot chunk was written in part (%w): the snapshot starts over", err)
		return err
	}
	return s.commit()
}

// Close closes the files; what was not flushed is cut off at the next
// start.
func (s *Sink) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.out.close()
}

// Crash drops the sink as kill -9 would: what was written reaches the
// file, unflushed and unrecorded (for the conformance suite).
func (s *Sink) Crash() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.out.crash()
}

// stdout writes to standard output: nothing is kept, the pipeline's
// checkpoint says where to resume (at least once).
type stdout struct{ w *bufio.Writer }

func (o *stdout) write(p []byte) error { _, err := o.w.Write(p); return err }
func (o *stdout) boundary() error      { return nil }
func (o *stdout) prepareSnapshot() error {
	return nil
}

func (o *stdout) commit(string, bool) error {
	if err := o.w.Flush(); err != nil {
		return fmt.Errorf("jsonl: write to standard output: %w", err)
	}
	// A file or device is synced; a pipe or terminal cannot be.
	if err := os.Stdout.Sync(); err != nil && !errors.Is(err, syscall.EINVAL) && !errors.Is(err, syscall.ENOTSUP) {
		return fmt.Errorf("jsonl: sync standard output: %w", err)
	}
	return nil
}

func (o *stdout) close() error { return o.w.Flush() }
func (o *stdout) crash()       {}
