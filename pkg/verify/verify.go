// Package verify compares a pipeline's target with its source while the
// pipeline runs, and names the rows that differ.
//
// Each table is read in primary-key ranges (chunks) sized to a target time.
// For each chunk both servers compute, over a canonical text of each row,
// the count and the exact sum of 64-bit row hashes: only those two numbers
// cross the network. A chunk whose sums differ is read again once the
// target has applied past the source position of the chunk's snapshot,
// then split down (bisected) to ranges small enough to compare key by key
// (a key and a hash per row), and each differing key is compared again,
// after waiting for the target each time, a few times: only differences
// that persist are reported. A table without a key is one multiset: the
// same sum over the whole table, and on a difference the rows' hash counts.
//
// The source is only read (REPEATABLE READ snapshots); repair writes to the
// target only (see Repair).
package verify

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/sluicecdc/sluice/pkg/change"
	"github.com/sluicecdc/sluice/pkg/transform"
)

// Options say what to connect to and how hard to look.
type Options struct {
	SourceKind, SourceDSN string // postgres | mysql
	TargetKind, TargetDSN string
	// Pipeline names the target's row in the sink's positions table (the
	// config's name): the position the target holds.
	Pipeline string
	// ParsePosition reads a position of the source (the pipeline source's).
	ParsePosition func(string) (change.Position, error)
	// Slot is the PostgreSQL source's replication slot ("" = none): its
	// confirmed position also shows how far the pipeline got, which moves
	// when the source writes WAL no selected table changes.
	Slot      string
	ChunkTime time.Duration // target time to compare one chunk; default 250ms
	Rechecks  int           // how often a differing key is compared again; default 3
	Wait      time.Duration // longest wait for the target to pass a position; default 30s
	MaxDiffs  int           // differing keys kept per table; default 1000
	// Progress, when set, is told the rows compared so far of each table.
	Progress func(table string, rows int64)
}

// Verifier compares tables of one source and one target.
type Verifier struct {
	opts     Options
	src, dst engine
}

// New connects to both servers.
func New(ctx context.Context, opts Options) (*Verifier, error) {
	if opts.ChunkTime <= 0 {
		opts.ChunkTime = 250 * time.Millisecond
	}
	if opts.Rechecks <= 0 {
		opts.Rechecks = 3
	}
	if opts.Wait <= 0 {
		opts.Wait = 30 * time.Second
	}
	if opts.MaxDiffs <= 0 {
		opts.MaxDiffs = 1000
	}
	src, err := open(ctx, opts.SourceKind, opts.SourceDSN)
	if err != nil {
		return nil, fmt.Errorf("connect to source: %w", err)
	}
	dst, err := open(ctx, opts.TargetKind, opts.TargetDSN)
	if err != nil {
		src.close()
		return nil, fmt.Errorf("connect to target: %w", err)
	}
	return &Verifier{opts: opts, src: src, dst: dst}, nil
}

// Close disconnects.
func (v *Verifier) Close() {
	v.src.close()
	v.dst.close()
}

// Plan works out how source table t is compared (see Plan).
func (v *Verifier) Plan(t *change.Table, set *transform.Set, sinkSchema string, m Mode) (*Table, error) {
	return Plan(v.src, v.dst, t, set, sinkSchema, m)
}

// Status is a table's outcome.
type Status string

const (
	Equal   Status = "equal"
	Differ  Status = "differ"
	Skipped Status = "skipped" // not comparable; Note says why
	Failed  Status = "error"   // could not be compared; Err says why
)

// Result is one table's verification.
type Result struct {
	Table     string        `json:"table"`  // the source table
	Target    string        `json:"target"` // the target table
	Status    Status        `json:"status"`
	Rows      int64         `json:"rows"`      // source rows compared
	Chunks    int           `json:"chunks"`    // key ranges compared
	Rechecked int           `json:"rechecked"` // chunks that differed at first and were equal once the target caught up
	Diffs     []Diff        `json:"diffs,omitempty"`
	DiffCount int           `json:"diff_count"` // all differences found; Diffs holds at most MaxDiffs
	Note      string        `json:"note,omitempty"`
	Err       string        `json:"error,omitempty"`
	Elapsed   time.Duration `json:"-"`
	Seconds   float64       `json:"seconds"`
	Keyless   bool          `json:"keyless,omitempty"` // compared as a multiset of rows
	// Hashed says where row hashes were computed: "servers" (sums per
	// chunk in SQL, rows read only where a chunk differs) or "sluice"
	// (across engines, for types the servers cannot agree on: every row
	// read, Note says why).
	Hashed string `json:"hashed,omitempty"`
	// RowsFetched counts the rows read into Sluice (keys and hashes of
	// differing chunks, re-checked rows, or every row when hashed here).
	RowsFetched int64 `json:"rows_fetched"`
	// Unsure are rows that differed at first and that the source kept
	// changing during every reading until Options.Wait ran out: neither
	// equal nor different for sure. They make the table's status Failed.
	Unsure      []Diff `json:"unsure,omitempty"`
	UnsureCount int    `json:"unsure_count,omitempty"`
}

// Diff is one differing row.
type Diff struct {
	Key  []string `json:"key,omitempty"` // the key values as text (keyed tables)
	Kind string   `json:"kind"`          // missing (from the target) | extra (on the target) | changed
	// Keyless tables: the row's canonical text and how often each side
	// holds it.
	Row    string `json:"row,omitempty"`
	Source int64  `json:"source_count,omitempty"`
	Target int64  `json:"target_count,omitempty"`
	hash   string
	sure   int // readings that found it different while its source row stood still
}

// Table compares one table.
func (v *Verifier) Table(ctx context.Context, p *Table) Result {
	start := time.Now()
	r := Result{Table: p.Source.String(), Target: p.Target.String(), Keyless: !p.keyed()}
	if p.Skip != "" {
		r.Status, r.Note = Skipped, p.Skip
		return r
	}
	r.Hashed = "servers"
	if p.cross != nil && p.cross.canon == nil {
		r.Hashed = "sluice"
		r.Note = "compared row by row in Sluice, every row read: " + p.cross.why
	}
	var err error
	switch {
	case !p.keyed():
		err = v.multiset(ctx, p, &r)
	case p.cross != nil && !p.cross.order && p.cross.canon != nil:
		err = v.buckets(ctx, p, &r)
	case p.cross != nil && !p.cross.order:
		err = v.whole(ctx, p, &r)
	case intKey(p):
		err = v.keyedInt(ctx, p, &r)
	default:
		err = v.keyed(ctx, p, &r)
	}
	r.RowsFetched = p.fetched.Load()
	r.Elapsed = time.Since(start)
	r.Seconds = r.Elapsed.Seconds()
	switch {
	case err != nil:
		r.Status, r.Err = Failed, err.Error()
	case r.DiffCount > 0:
		r.Status = Differ
	case r.UnsureCount > 0:
		r.Status, r.Err = Failed, fmt.Sprintf("%d rows changed on the source during every re-reading for %s: run verify again when the source is less busy, or raise --wait", r.UnsureCount, v.opts.Wait)
	default:
		r.Status = Equal
	}
	return r
}

func (v *Verifier) addDiffs(r *Result, ds []Diff) {
	r.DiffCount += len(ds)
	for _, d := range ds {
		if len(r.Diffs) < v.opts.MaxDiffs {
			r.Diffs = append(r.Diffs, d)
		}
	}
}

func (v *Verifier) addUnsure(r *Result, ds []Diff) {
	r.UnsureCount += len(ds)
	for _, d := range ds {
		if len(r.Unsure) < v.opts.MaxDiffs {
			r.Unsure = append(r.Unsure, d)
		}
	}
}

// errNoPosition means the target holds no applied position for the pipeline.
var errNoPosition = errors.New("the target holds no applied position for the pipeline")
