// Package bfqueue is the queue of online back-fills a source works
// through, one table at a time, while it streams (both sources' Backfill).
package bfqueue

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/sluicecdc/sluice/checkpoint"
)

// Queue holds the back-fills asked for and not yet finished. Safe for
// concurrent use.
type Queue struct {
	mu    sync.Mutex
	queue []checkpoint.Backfill
	wake  chan struct{}
	busy  atomic.Bool // a back-fill is being read
}

// New returns an empty queue.
func New() *Queue { return &Queue{wake: make(chan struct{}, 1)} }

// Add queues back-fills; one for a table already queued replaces it (asked
// again: it starts over with the new request).
func (q *Queue) Add(tasks []checkpoint.Backfill) {
	q.mu.Lock()
	for _, t := range tasks {
		if i := slices.IndexFunc(q.queue, func(have checkpoint.Backfill) bool { return have.Table == t.Table }); i >= 0 {
			q.queue[i] = t
			continue
		}
		q.queue = append(q.queue, t)
	}
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// Has tells whether a back-fill of table is queued or running.
func (q *Queue) Has(table string) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return slices.ContainsFunc(q.queue, func(have checkpoint.Backfill) bool { return have.Table == table })
}

// Busy tells whether a back-fill is being read (the stream then collects
// the keys each transaction changes).
func (q *Queue) Busy() bool { return q.busy.Load() }

// Run copies the queued tables one at a time with copyTable until ctx
// ends; copyTable returns an error only when ctx ends.
func (q *Queue) Run(ctx context.Context, copyTable func(context.Context, checkpoint.Backfill) error) {
	for {
		q.mu.Lock()
		var task checkpoint.Backfill
		have := len(q.queue) > 0
		if have {
			task = q.queue[0]
		}
		q.mu.Unlock()
		if !have {
			q.busy.Store(false)
			select {
			case <-q.wake:
				continue
			case <-ctx.Done():
				return
			}
		}
		q.busy.Store(true)
		if err := copyTable(ctx, task); err != nil {
			return // ctx ended
		}
		q.mu.Lock()
		if len(q.queue) > 0 && q.queue[0].Table == task.Table && q.queue[0].ID == task.ID { // not asked again meanwhile
			q.queue = q.queue[1:]
		}
		q.mu.Unlock()
	}
}
