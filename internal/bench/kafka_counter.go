package main

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// counter reads a topic from the start with read_committed, as a consumer
// of exactly-once output must, and counts its records and distinct keys.
type counter struct {
	cl     *kgo.Client
	n      atomic.Int64
	last   atomic.Int64 // unix nanos when the count last grew
	mu     sync.Mutex
	keys   map[string]struct{}
	stop   context.CancelFunc
	wg     sync.WaitGroup
	failed atomic.Value // error
}

func newCounter(addr, topic string) (*counter, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumeTopics(topic),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.AllowAutoTopicCreation(), kgo.FetchMaxWait(50*time.Millisecond))
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	c := &counter{cl: cl, keys: map[string]struct{}{}, stop: cancel}
	c.wg.Go(func() {
		for ctx.Err() == nil {
			fs := cl.PollFetches(ctx)
			fs.EachError(func(t string, p int32, err error) {
				if ctx.Err() == nil && !errors.Is(err, context.Canceled) {
					c.failed.Store(fmt.Errorf("consume %s/%d: %w", t, p, err))
				}
			})
			got := int64(0)
			c.mu.Lock()
			fs.EachRecord(func(r *kgo.Record) {
				if r.Value == nil {
					return // a tombstone
				}
				c.keys[string(r.Key)] = struct{}{}
				got++
			})
			c.mu.Unlock()
			if got > 0 {
				c.n.Add(got)
				c.last.Store(time.Now().UnixNano())
			}
		}
	})
	return c, nil
}

// wait waits until want records were read.
func (c *counter) wait(ctx context.Context, want int64, timeout time.Duration, p *sluiceProc) error {
	deadline := time.Now().Add(timeout)
	for c.n.Load() < want {
		if err, _ := c.failed.Load().(error); err != nil {
			return err
		}
		if err := p.exited(); err != nil {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("Kafka holds %d of %d records after %v", c.n.Load(), want, timeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
	if got := c.n.Load(); got != want {
		return fmt.Errorf("Kafka holds %d records, want %d: duplicates", got, want)
	}
	return nil
}

func (c *counter) doneAt() time.Time { return time.Unix(0, c.last.Load()) }

func (c *counter) distinct() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return int64(len(c.keys))
}

func (c *counter) close() {
	c.stop()
	c.wg.Wait()
	c.cl.Close()
}
