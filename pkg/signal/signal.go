// Package signal turns rows inserted into a signal table on the source into
// online back-fill requests (source.snapshot_signals: true): the same
// request as `sluice snapshot --table T --where EXPR`, for setups where the
// HTTP port cannot be reached.
//
// Source wraps the log reader. It takes the signal table's changes out of
// every transaction (the target never sees the table) and puts the
// requests its inserted rows make on the transaction (change.Txn.Signals).
// The pipeline records them in the checkpoint together with the position of
// the transaction that carried them, and only then starts them; the row's
// id names the request, so a signal read again after a crash is not
// started twice (see pkg/pipeline/signals.go).
package signal

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/rs/zerolog"

	"github.com/sluicecdc/sluice/checkpoint"
	"github.com/sluicecdc/sluice/pkg/change"
	"github.com/sluicecdc/sluice/pkg/pipeline"
)

// Column names of the signal table.
const (
	ColID    = "id"
	ColTable = "table_name"
	ColWhere = "where_clause"
)

// CreateTable is the statement that creates the signal table t for a
// source of the given kind ("postgres" or "mysql").
func CreateTable(kind string, t change.TableID) string {
	if kind == "mysql" {
		return fmt.Sprintf("CREATE TABLE `%s`.`%s` (id BIGINT AUTO_INCREMENT PRIMARY KEY, table_name VARCHAR(255) NOT NULL, "+
			"where_clause TEXT, requested_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6))", t.Schema, t.Name)
	}
	return fmt.Sprintf("CREATE TABLE %q.%q (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, table_name text NOT NULL, "+
		"where_clause text, requested_at timestamptz NOT NULL DEFAULT now())", t.Schema, t.Name)
}

// Source is a pipeline.Source without the signal table's changes, whose
// transactions carry the requests the table's inserted rows make. It
// forwards every optional ability of the wrapped source.
type Source struct {
	inner pipeline.Source
	table change.TableID
	kind  string
	log   zerolog.Logger
	part  []segment // signals of the running transaction delivered in parts, by subtransaction
}

// segment holds the signals of one subtransaction of a running transaction
// (sub "" = its top level), as the pipeline counts changes (running.go): a
// Savepoint part begins one, a RollbackSub cuts from its segment on.
type segment struct {
	sub  string
	sigs []change.Signal
}

var (
	_ pipeline.Source       = (*Source)(nil)
	_ pipeline.Snapshotter  = (*Source)(nil)
	_ pipeline.PartSource   = (*Source)(nil)
	_ pipeline.LogReporter  = (*Source)(nil)
	_ pipeline.Backfiller   = (*Source)(nil)
	_ pipeline.TableWatcher = (*Source)(nil)
	_ pipeline.Describer    = (*Source)(nil)
)

// Wrap takes the changes of table out of what src yields; kind is the
// source kind, for the CREATE TABLE that Check prints.
func Wrap(src pipeline.Source, table change.TableID, kind string, log zerolog.Logger) *Source {
	return &Source{inner: src, table: table, kind: kind, log: log}
}

// Unwrap returns the wrapped source.
func (s *Source) Unwrap() pipeline.Source { return s.inner }

func (s *Source) Start(ctx context.Context, from change.Position) error {
	return s.inner.Start(ctx, from)
}

// Next returns the next transaction without the signal table's changes,
// with the requests its inserted rows make. Signals in a transaction
// delivered in parts are handed on with its Done part (its commit) and
// dropped with its Abort.
func (s *Source) Next(ctx context.Context) (*change.Txn, error) {
	in, err := s.inner.Next(ctx)
	if err != nil {
		return nil, err
	}
	if in.Backfill != nil {
		return in, nil // chunks of other tables (the signal table is never back-filled)
	}
	var sigs []change.Signal
	mine := false
	if err := in.Each(func(c *change.Change) error {
		if c.Table == nil || c.Table.ID != s.table {
			return nil
		}
		mine = true
		if c.Op == change.Insert {
			sigs = append(sigs, parse(c.Table, c.After))
		}
		return nil
	}); err != nil {
		in.Close()
		return nil, fmt.Errorf("read signals: %w", err)
	}
	out := in
	if mine {
		if out, err = without(in, s.table); err != nil {
			in.Close()
			return nil, err
		}
	}
	if in.Part != change.Whole && len(s.part) == 0 {
		s.part = []segment{{}}
	}
	switch in.Part {
	case change.Whole:
		out.Signals = append(out.Signals, sigs...)
	case change.Done:
		for _, seg := range s.part {
			out.Signals = append(out.Signals, seg.sigs...)
		}
		out.Signals = append(out.Signals, sigs...)
		s.part = nil
	case change.Abort:
		s.part = nil
	case change.Savepoint:
		s.part = append(s.part, segment{sub: in.Sub})
	case change.RollbackSub:
		for i, seg := range s.part {
			if i > 0 && seg.sub == in.Sub {
				s.part = append(s.part[:i], segment{}) // back in its parent
				break
			}
		}
	default:
		last := &s.part[len(s.part)-1]
		last.sigs = append(last.sigs, sigs...)
	}
	return out, nil
}

// without copies in without the changes of table.
func without(in *change.Txn, table change.TableID) (*change.Txn, error) {
	out := change.NewTxn("", 0)
	out.ID, out.Commit, out.Position, out.Part, out.Sub, out.Signals = in.ID, in.Commit, in.Position, in.Part, in.Sub, in.Signals
	err := in.Each(func(c *change.Change) error {
		if c.Table != nil && c.Table.ID == table {
			return nil
		}
		return out.Add(*c)
	})
	if err != nil {
		out.Close()
		return nil, fmt.Errorf("take the signal table's rows out of transaction %s: %w", in.ID, err)
	}
	out.OnClose(func() { in.Close() })
	return out, nil
}

// parse reads one inserted signal row.
func parse(t *change.Table, r change.Row) change.Signal {
	var sig change.Signal
	get := func(name string) (string, bool) {
		for i, c := range t.Columns {
			if c.Name == name && i < len(r) && r[i].State == change.Present {
				return string(r[i].Data), true
			}
		}
		return "", false
	}
	var ok bool
	if sig.ID, ok = get(ColID); !ok {
		sig.Err = fmt.Sprintf("the row has no %s value", ColID)
		return sig
	}
	sig.Where, _ = get(ColWhere)
	if sig.Table, ok = get(ColTable); !ok || sig.Table == "" {
		sig.Err = fmt.Sprintf("the row names no table (column %s, schema.table)", ColTable)
	}
	return sig
}

func (s *Source) Ack(ctx context.Context, pos change.Position) error { return s.inner.Ack(ctx, pos) }

func (s *Source) ParsePosition(text string) (change.Position, error) {
	return s.inner.ParsePosition(text)
}

func (s *Source) Close() error { return s.inner.Close() }

// DeliverParts forwards to the wrapped source.
func (s *Source) DeliverParts() {
	if ps, ok := s.inner.(pipeline.PartSource); ok {
		ps.DeliverParts()
	}
}

// LogStatus forwards to the wrapped source.
func (s *Source) LogStatus(ctx context.Context, applied change.Position) (pipeline.LogStatus, error) {
	if lr, ok := s.inner.(pipeline.LogReporter); ok {
		return lr.LogStatus(ctx, applied)
	}
	return pipeline.LogStatus{}, errors.ErrUnsupported
}

// CheckBackfill refuses the signal table and forwards the rest.
func (s *Source) CheckBackfill(ctx context.Context, b checkpoint.Backfill) error {
	if b.Table == s.table.String() {
		return fmt.Errorf("table %s is the signal table (source.signal_table): it is never copied", s.table)
	}
	bf, ok := s.inner.(pipeline.Backfiller)
	if !ok {
		return errors.New("this source cannot back-fill tables while it streams; use `sluice run --resnapshot` to copy every table again")
	}
	return bf.CheckBackfill(ctx, b)
}

// Backfill forwards to the wrapped source.
func (s *Source) Backfill(bs []checkpoint.Backfill) {
	bs = slices.DeleteFunc(slices.Clone(bs), func(b checkpoint.Backfill) bool { return b.Table == s.table.String() })
	if bf, ok := s.inner.(pipeline.Backfiller); ok && len(bs) > 0 {
		bf.Backfill(bs)
	}
}

// WatchTables forwards to the wrapped source; a signal table created while
// the source runs is not back-filled (its rows so far are no requests).
func (s *Source) WatchTables(request func(ctx context.Context, bs []checkpoint.Backfill) error) {
	w, ok := s.inner.(pipeline.TableWatcher)
	if !ok {
		return
	}
	w.WatchTables(func(ctx context.Context, bs []checkpoint.Backfill) error {
		bs = slices.DeleteFunc(bs, func(b checkpoint.Backfill) bool { return b.Table == s.table.String() })
		if len(bs) == 0 {
			return nil
		}
		return request(ctx, bs)
	})
}

// DescribeTables forwards, without the signal table.
func (s *Source) DescribeTables(ctx context.Context) ([]*change.Table, error) {
	d, ok := s.inner.(pipeline.Describer)
	if !ok {
		return nil, nil
	}
	ts, err := d.DescribeTables(ctx)
	return slices.DeleteFunc(ts, func(t *change.Table) bool { return t.ID == s.table }), err
}

// Check runs the wrapped source's checks and says how to create the signal
// table when the source lacks it: Sluice never creates it.
func (s *Source) Check(ctx context.Context) []string {
	var problems []string
	if c, ok := s.inner.(interface {
		Check(context.Context) []string
	}); ok {
		problems = c.Check(ctx)
	}
	d, ok := s.inner.(pipeline.Describer)
	if !ok {
		return problems
	}
	ts, err := d.DescribeTables(ctx)
	if err != nil {
		return append(problems, fmt.Sprintf("source.snapshot_signals: cannot list the source tables: %v", err))
	}
	i := slices.IndexFunc(ts, func(t *change.Table) bool { return t.ID == s.table })
	if i < 0 {
		return append(problems, fmt.Sprintf("source.snapshot_signals: the signal table %s does not exist (Sluice does not create it); create it on the source: %s",
			s.table, CreateTable(s.kind, s.table)))
	}
	t := ts[i]
	for _, col := range []string{ColID, ColTable, ColWhere} {
		if !slices.ContainsFunc(t.Columns, func(c change.Column) bool { return c.Name == col }) {
			problems = append(problems, fmt.Sprintf("source.snapshot_signals: the signal table %s lacks the column %s; it should be: %s",
				s.table, col, CreateTable(s.kind, s.table)))
		}
	}
	return problems
}

// Teardown forwards to the wrapped source.
func (s *Source) Teardown(ctx context.Context, dryRun bool) ([]string, error) {
	if t, ok := s.inner.(interface {
		Teardown(context.Context, bool) ([]string, error)
	}); ok {
		return t.Teardown(ctx, dryRun)
	}
	return nil, nil
}

// Snapshot starts the wrapped source's snapshot, without the signal table.
func (s *Source) Snapshot(ctx context.Context) (pipeline.Snapshot, error) {
	sn, ok := s.inner.(pipeline.Snapshotter)
	if !ok {
		return nil, errors.New("source.snapshot: initial is not supported by this source; use never")
	}
	inner, err := sn.Snapshot(ctx)
	if err != nil {
		return nil, err
	}
	return &snapshot{Snapshot: inner, table: s.table}, nil
}

// snapshot is a pipeline.Snapshot without the signal table.
type snapshot struct {
	pipeline.Snapshot
	table change.TableID
}

func (sn *snapshot) Tables() []*change.Table {
	return slices.DeleteFunc(slices.Clone(sn.Snapshot.Tables()), func(t *change.Table) bool { return t.ID == sn.table })
}

func (sn *snapshot) Chunks(ctx context.Context) ([]pipeline.Chunk, error) {
	cs, err := sn.Snapshot.Chunks(ctx)
	return slices.DeleteFunc(cs, func(c pipeline.Chunk) bool { return c.Table.ID == sn.table }), err
}

// Estimate forwards to the wrapped snapshot.
func (sn *snapshot) Estimate(ctx context.Context, t *change.Table) (int64, error) {
	if e, ok := sn.Snapshot.(pipeline.Estimator); ok {
		return e.Estimate(ctx, t)
	}
	return -1, nil
}
