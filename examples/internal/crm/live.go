package crm

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/sluicecdc/sluice/internal/pgtest"
)

// Event is something an example does at a point of a live phase.
type Event struct {
	At  time.Duration // from the start of the phase
	Run func(context.Context) error
}

// Live runs the workload (with extra operations) for dur, runs the events
// when they are due, fails when running says something stopped that should
// not have, and calls status every second with a "[  Ns]" label and the
// transaction rate as suffix.
func (w *Workload) Live(ctx context.Context, dur time.Duration, extra []Op, events []Event,
	running func() error, status func(ctx context.Context, label, suffix string) error) error {
	stop := w.Start(ctx, extra...)
	defer stop()
	start := time.Now()
	lastTxns, lastTick := w.Txns(), start
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	next := time.Second
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
		elapsed := time.Since(start)
		for len(events) > 0 && events[0].At <= elapsed {
			if err := events[0].Run(ctx); err != nil {
				return err
			}
			events = events[1:]
		}
		if err := running(); err != nil {
			return err
		}
		if elapsed >= next {
			next += time.Second
			txns, now := w.Txns(), time.Now()
			rate := float64(txns-lastTxns) / now.Sub(lastTick).Seconds()
			lastTxns, lastTick = txns, now
			if err := status(ctx, fmt.Sprintf("[%3ds]", int(elapsed.Round(time.Second)/time.Second)), fmt.Sprintf(" | %.0f txn/s", rate)); err != nil {
				return err
			}
		}
		if elapsed >= dur && len(events) == 0 {
			return nil
		}
	}
}

// RemoveAll removes the clusters and the temp dir (with keep, stops the
// clusters and leaves both), saying what it did.
func RemoveAll(say func(string, ...any), keep bool, dir string, clusters ...*pgtest.Cluster) {
	some := false
	for _, c := range clusters {
		if c == nil {
			continue
		}
		some = true
		if keep {
			c.Stop()
			say("kept cluster %s", filepath.Dir(c.Dir))
			continue
		}
		if err := c.Remove(); err != nil {
			say("cleanup: %v", err)
		}
	}
	switch {
	case keep:
		say("kept %s", dir)
	case dir != "":
		os.RemoveAll(dir)
	}
	if some && !keep {
		say("clusters and temp files removed")
	}
}
