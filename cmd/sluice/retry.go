package main

import (
	"context"
	"time"

	"github.com/rs/zerolog"

	"github.com/sluicecdc/sluice/pkg/errkind"
	"github.com/sluicecdc/sluice/pkg/pipeline"
)

// The pipeline restarts from its checkpoint after a transient failure,
// waiting retryMin, doubling up to retryMax; an attempt that ran for
// healthyAfter starts the next episode at retryMin again.
const (
	retryMin     = time.Second
	retryMax     = 30 * time.Second
	healthyAfter = time.Minute
)

// retrier decides whether and when a failed attempt is retried, and logs
// once per episode of failures.
type retrier struct {
	log     zerolog.Logger
	retried func(kind string)
	state   func(s pipeline.State, err error)
	wait    time.Duration
	since   time.Time // the episode began; zero while none
	n       int
}

// again reports whether to retry after err ended an attempt that ran for
// ran, after waiting; false when err is permanent or ctx ended.
func (r *retrier) again(ctx context.Context, err error, ran time.Duration) bool {
	if ctx.Err() != nil || !transient(err) {
		return false
	}
	if r.since.IsZero() || ran >= healthyAfter {
		r.wait, r.since, r.n = retryMin, time.Now(), 0
		r.log.Warn().Err(err).Msg("transient failure: restarting from the checkpoint with backoff (1 s doubling to 30 s; logged once until it recovers)")
	}
	r.n++
	r.retried("pipeline_restart")
	r.state(pipeline.StateRetrying, err)
	r.log.Debug().Err(err).Int("attempt", r.n).Dur("wait", r.wait).Msg("retrying")
	select {
	case <-ctx.Done():
		return false
	case <-time.After(r.wait):
	}
	r.wait = min(2*r.wait, retryMax)
	return true
}

// flushed is called when an attempt commits a batch in the target: a
// running episode is over.
func (r *retrier) flushed() {
	if r.since.IsZero() {
		return
	}
	r.log.Info().Int("restarts", r.n).Dur("after", time.Since(r.since).Round(time.Second)).Msg("recovered from the transient failure")
	r.since = time.Time{}
}

// transient tells a failure that may go away by itself (a server restart
// or shutdown, a cut connection, a lock or deadlock timeout, too many
// connections) from one that needs a person (credentials, a missing
// table, a value the target refuses, a lost slot or purged binlog). The
// kinds mark the server errors they know by code; errkind knows the
// network and a Transienter's own verdict. No codes or texts here.
func transient(err error) bool { return errkind.Transient(kinds.Classify(err)) }

// attemptObserver notes whether an attempt got to streaming and when it
// commits in the target.
type attemptObserver struct {
	pipeline.Observer
	streaming func()
	flushed   func()
}

// Backfill forwards back-fill progress when the wrapped observer wants it.
func (o attemptObserver) Backfill(b pipeline.BackfillProgress) {
	if bo, ok := o.Observer.(pipeline.BackfillObserver); ok {
		bo.Backfill(b)
	}
}

func (o attemptObserver) Flushed(f pipeline.FlushInfo) {
	o.flushed()
	o.Observer.Flushed(f)
}

func (o attemptObserver) State(s pipeline.State, err error) {
	if s == pipeline.StateStreaming {
		o.streaming()
	}
	o.Observer.State(s, err)
}
