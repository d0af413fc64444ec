package pipeline

import (
	"context"
	"slices"
	"time"

	"github.com/sluicecdc/sluice/checkpoint"
	"github.com/sluicecdc/sluice/pkg/change"
)

// signalCheckTimeout bounds the source round trip that checks one signal.
const signalCheckTimeout = 30 * time.Second

// takeSignals starts the back-fills that signal rows (change.Txn.Signals,
// see pkg/signal) asked for, in the transactions applied so far. Each is
// recorded in the checkpoint together with a position at or after the
// transaction that carried it, before the source starts it: a crash before
// that save reads the signal again (and starts it then); a crash after it
// resumes the back-fill, and the signal, if read again, finds its id among
// the recorded ones and starts nothing. A signal that cannot be served is
// logged, naming its row and the problem, and replication goes on.
func (b *batch) takeSignals(ctx context.Context) error {
	sigs := b.signals
	b.signals = nil
	known := b.p.bf.list()
	var tasks []checkpoint.Backfill
	for _, s := range sigs {
		log := b.p.opts.Log.With().Str("signal", s.ID).Str("table", s.Table).Str("where", s.Where).Logger()
		if s.Err != "" {
			log.Error().Str("error", s.Err).Msg("signal row ignored")
			continue
		}
		id := "signal-" + s.ID
		if slices.ContainsFunc(known, func(t checkpoint.Backfill) bool { return t.ID == id }) ||
			slices.ContainsFunc(tasks, func(t checkpoint.Backfill) bool { return t.ID == id }) {
			log.Info().Msg("signal read again: its back-fill is recorded already")
			continue
		}
		t, err := b.p.checkBackfill(ctx, s.Table, s.Where, id)
		if err != nil {
			log.Error().Err(err).Msg("signal row ignored: cannot back-fill")
			continue
		}
		log.Info().Msg("back-fill signalled")
		tasks = append(tasks, t)
	}
	if len(tasks) == 0 {
		return nil
	}
	// In the list first, so that every save from here on, the one that
	// covers the signal's transaction included, holds the tasks.
	for _, t := range tasks {
		b.p.bf.set(t, false)
	}
	if err := b.flush(ctx); err != nil {
		return err
	}
	if err := b.settle(ctx, true); err != nil {
		return err
	}
	return b.recordBackfills(ctx, tasks)
}

// checkBackfill makes the back-fill task for a table named by its text
// and checks with the source that it can run.
func (p *Pipeline) checkBackfill(ctx context.Context, table, where, id string) (checkpoint.Backfill, error) {
	bf, ok := p.src.(Backfiller)
	if !ok {
		return checkpoint.Backfill{}, errNoBackfill(p.opts.SourceKind)
	}
	tid, err := change.ParseTableID(table)
	if err != nil {
		return checkpoint.Backfill{}, err
	}
	t := checkpoint.Backfill{Table: tid.String(), Where: where, ID: id}
	cctx, cancel := context.WithTimeout(ctx, signalCheckTimeout)
	defer cancel()
	if err := bf.CheckBackfill(cctx, t); err != nil {
		return checkpoint.Backfill{}, err
	}
	return t, nil
}
