package metrics

import (
	"sync"
	"time"

	"github.com/sluicecdc/sluice/pkg/change"
)

// lagGrain is the resolution of the lag: transactions read within it of
// the oldest one of a group share one entry, so the queue stays short
// however many small transactions wait.
const lagGrain = 50 * time.Millisecond

// lagQueue holds the commit times of transactions read but not yet
// applied, oldest first, grouped by lagGrain.
type lagQueue struct {
	mu sync.Mutex
	q  []lagEntry
	at int // q[:at] are popped
}

type lagEntry struct {
	oldest time.Time       // commit time of the group's first transaction
	last   change.Position // position of its last one
}

func (l *lagQueue) push(pos change.Position, commit time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if n := len(l.q); n > l.at && commit.Sub(l.q[n-1].oldest) < lagGrain {
		l.q[n-1].last = pos
		return
	}
	if l.at > 0 && l.at == len(l.q) { // empty: reuse the array
		l.q, l.at = l.q[:0], 0
	}
	l.q = append(l.q, lagEntry{oldest: commit, last: pos})
}

// pop forgets the groups applied up to pos. A group applied only in part
// stays, so the lag may read up to lagGrain too high, never too low.
func (l *lagQueue) pop(pos change.Position) {
	if pos == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for l.at < len(l.q) && l.q[l.at].last.Compare(pos) <= 0 {
		l.q[l.at] = lagEntry{}
		l.at++
	}
	if l.at > 1024 && l.at*2 > len(l.q) { // compact now and then
		l.q = append(l.q[:0], l.q[l.at:]...)
		l.at = 0
	}
}

// age is how long the oldest waiting transaction has been committed in
// the source; 0 when none waits.
func (l *lagQueue) age(now time.Time) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.at == len(l.q) {
		return 0
	}
	return max(0, now.Sub(l.q[l.at].oldest))
}
