package transform

import (
	"context"
	"errors"
	"fmt"

	"github.com/sluicecdc/sluice/checkpoint"
	"github.com/sluicecdc/sluice/pkg/change"
	"github.com/sluicecdc/sluice/pkg/pipeline"
)

// Source is a pipeline.Source whose transactions and snapshot come out
// transformed. It is also a Snapshotter, a PartSource and a checker; each
// forwards to the wrapped source (and does nothing, or fails, when that
// lacks the ability).
type Source struct {
	inner   pipeline.Source
	set     *Set
	claimed bool // Claim succeeded
}

var (
	_ pipeline.Source      = (*Source)(nil)
	_ pipeline.Snapshotter = (*Source)(nil)
	_ pipeline.PartSource  = (*Source)(nil)
	_ pipeline.LogReporter = (*Source)(nil)
	_ pipeline.Backfiller  = (*Source)(nil)
	_ pipeline.Estimator   = (*snapshot)(nil)
)

// Wrap transforms what src yields with set.
func Wrap(src pipeline.Source, set *Set) *Source { return &Source{inner: src, set: set} }

// Unwrap returns the wrapped source, for callers looking for another
// optional ability by type assertion.
func (s *Source) Unwrap() pipeline.Source { return s.inner }

// Start claims the target names of the tables the source selects now (see
// Claim), unless that was done, then starts the wrapped source.
func (s *Source) Start(ctx context.Context, from change.Position) error {
	if err := s.Claim(ctx); err != nil {
		return err
	}
	return s.inner.Start(ctx, from)
}

// Claim checks the rules against every table the wrapped source selects
// now, as their first change would: a rule that does not fit, or two
// tables that would land in one target table, is an error before anything
// is read or written. Tables that appear later are checked at their first
// change. Without a Describer it does nothing.
func (s *Source) Claim(ctx context.Context) error {
	d, ok := s.inner.(pipeline.Describer)
	if !ok || s.claimed {
		return nil
	}
	tables, err := d.DescribeTables(ctx)
	if err != nil {
		return fmt.Errorf("describe the source tables to check their target names: %w", err)
	}
	for _, t := range tables {
		if _, err := s.set.shape(t); err != nil {
			return err
		}
	}
	s.claimed = true
	return nil
}

// Next returns the next transaction, transformed. A change a rule cannot
// apply (a column the rule names is missing, a filter fails) is an error:
// the pipeline stops rather than send a wrong row.
func (s *Source) Next(ctx context.Context) (*change.Txn, error) {
	in, err := s.inner.Next(ctx)
	if err != nil {
		return nil, err
	}
	out, err := s.set.Txn(in)
	if err != nil {
		in.Close()
		return nil, err
	}
	return out, nil
}

func (s *Source) Ack(ctx context.Context, pos change.Position) error { return s.inner.Ack(ctx, pos) }

func (s *Source) ParsePosition(text string) (change.Position, error) {
	return s.inner.ParsePosition(text)
}

func (s *Source) Close() error { return s.inner.Close() }

// DeliverParts forwards to the wrapped source; parts keep their Part, Sub
// and order, only their changes are transformed.
func (s *Source) DeliverParts() {
	if ps, ok := s.inner.(pipeline.PartSource); ok {
		ps.DeliverParts()
	}
}

// CheckBackfill forwards to the wrapped source (pipeline.Backfiller).
func (s *Source) CheckBackfill(ctx context.Context, b checkpoint.Backfill) error {
	bf, ok := s.inner.(pipeline.Backfiller)
	if !ok {
		return errors.New("this source cannot back-fill tables while it streams; use `sluice run --resnapshot` to copy every table again")
	}
	return bf.CheckBackfill(ctx, b)
}

// Backfill forwards to the wrapped source; a source that cannot back-fill
// was refused by CheckBackfill already.
func (s *Source) Backfill(bs []checkpoint.Backfill) {
	if bf, ok := s.inner.(pipeline.Backfiller); ok {
		bf.Backfill(bs)
	}
}

// WatchTables forwards to the wrapped source (pipeline.TableWatcher).
func (s *Source) WatchTables(request func(ctx context.Context, bs []checkpoint.Backfill) error) {
	if w, ok := s.inner.(pipeline.TableWatcher); ok {
		w.WatchTables(request)
	}
}

// Check runs the wrapped source's preflight checks, then checks the rules
// against the current shapes of the tables the source replicates.
func (s *Source) Check(ctx context.Context) []string {
	var problems []string
	if c, ok := s.inner.(interface {
		Check(ctx context.Context) []string
	}); ok {
		problems = c.Check(ctx)
	}
	d, ok := s.inner.(pipeline.Describer)
	if !ok {
		return problems
	}
	tables, err := d.DescribeTables(ctx)
	if err != nil {
		return append(problems, fmt.Sprintf("transforms: cannot read the source tables' shapes to check the rules against them: %v", err))
	}
	return append(problems, s.set.CheckTables(tables)...)
}

// LogStatus forwards to the wrapped source; errors.ErrUnsupported when it
// cannot tell.
func (s *Source) LogStatus(ctx context.Context, applied change.Position) (pipeline.LogStatus, error) {
	if lr, ok := s.inner.(pipeline.LogReporter); ok {
		return lr.LogStatus(ctx, applied)
	}
	return pipeline.LogStatus{}, errors.ErrUnsupported
}

// Snapshot starts the wrapped source's snapshot. Every table's rules are
// checked against its shape here, before any row is copied.
func (s *Source) Snapshot(ctx context.Context) (pipeline.Snapshot, error) {
	sn, ok := s.inner.(pipeline.Snapshotter)
	if !ok {
		return nil, errors.New("source.snapshot: initial is not supported by this source; use never")
	}
	inner, err := sn.Snapshot(ctx)
	if err != nil {
		return nil, err
	}
	snap := &snapshot{inner: inner, set: s.set, bySrc: map[*change.Table]*shape{}, byOut: map[*change.Table]outTable{}}
	for _, t := range inner.Tables() {
		sh, err := s.set.shape(t)
		if err != nil {
			inner.Close()
			return nil, err
		}
		snap.bySrc[t] = sh
		snap.byOut[sh.out] = outTable{src: t, sh: sh}
		snap.tables = append(snap.tables, sh.out)
	}
	return snap, nil
}

// snapshot is a pipeline.Snapshot whose tables and rows are transformed.
type snapshot struct {
	inner  pipeline.Snapshot
	set    *Set
	tables []*change.Table
	bySrc  map[*change.Table]*shape
	byOut  map[*change.Table]outTable
}

type outTable struct {
	src *change.Table // the wrapped snapshot's table
	sh  *shape
}

func (sn *snapshot) Tables() []*change.Table { return sn.tables }

func (sn *snapshot) Chunks(ctx context.Context) ([]pipeline.Chunk, error) {
	chunks, err := sn.inner.Chunks(ctx)
	if err != nil {
		return nil, err
	}
	for i := range chunks {
		sh := sn.bySrc[chunks[i].Table]
		if sh == nil {
			return nil, errors.New("transform snapshot: a chunk of a table the snapshot did not list (a bug in the source)")
		}
		chunks[i].Table = sh.out
	}
	return chunks, nil
}

// Read passes on the chunk's rows that match the filters, reshaped.
func (sn *snapshot) Read(ctx context.Context, c pipeline.Chunk, fn func(change.Row) error) error {
	ot, ok := sn.byOut[c.Table]
	if !ok {
		return errors.New("transform snapshot: a chunk of a table the snapshot did not list")
	}
	c.Table = ot.src
	sh := ot.sh
	if sh.passThrough() {
		return sn.inner.Read(ctx, c, fn)
	}
	var buf change.Row
	return sn.inner.Read(ctx, c, func(r change.Row) error {
		if len(sh.filters) > 0 {
			v, lack, err := sh.test(r, nil)
			switch {
			case err != nil:
				return err
			case v == unknown:
				return sh.lackError(lack)
			case v == no:
				return nil
			}
		}
		if sh.cols == nil {
			return fn(r)
		}
		buf = sh.projectInto(buf, r)
		return fn(buf)
	})
}

// Estimate forwards the source table's estimate (before the filter: an
// upper bound); -1 when the wrapped snapshot cannot tell.
func (sn *snapshot) Estimate(ctx context.Context, t *change.Table) (int64, error) {
	e, ok := sn.inner.(pipeline.Estimator)
	ot, known := sn.byOut[t]
	if !ok || !known {
		return -1, nil
	}
	return e.Estimate(ctx, ot.src)
}

func (sn *snapshot) Position() change.Position { return sn.inner.Position() }

func (sn *snapshot) Close() error { return sn.inner.Close() }
