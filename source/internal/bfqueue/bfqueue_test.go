package bfqueue

import (
	"context"
	"testing"
	"time"

	"github.com/sluicecdc/sluice/checkpoint"
)

// TestQueue: tables are copied one at a time in the order asked; asking
// again for a queued table replaces its request; a table asked again
// while it is copied is copied again with the new request.
func TestQueue(t *testing.T) {
	q := New()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	copied := make(chan checkpoint.Backfill)
	release := make(chan struct{})
	go q.Run(ctx, func(ctx context.Context, b checkpoint.Backfill) error {
		select {
		case copied <- b:
		case <-ctx.Done():
			return ctx.Err()
		}
		select {
		case <-release:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	})
	q.Add([]checkpoint.Backfill{{Table: "a", ID: "1"}, {Table: "b", ID: "2"}})
	got := <-copied
	if got.Table != "a" || !q.Busy() || !q.Has("a") || !q.Has("b") || q.Has("c") {
		t.Fatalf("first copy %+v, busy %v", got, q.Busy())
	}
	q.Add([]checkpoint.Backfill{{Table: "b", ID: "3"}, {Table: "a", ID: "4"}}) // b replaced; a asked again while copied
	release <- struct{}{}
	for _, want := range []string{"a/4", "b/3"} {
		got = <-copied
		if got.Table+"/"+got.ID != want {
			t.Fatalf("copied %s/%s, want %s", got.Table, got.ID, want)
		}
		release <- struct{}{}
	}
	deadline := time.Now().Add(5 * time.Second)
	for q.Busy() || q.Has("a") || q.Has("b") {
		if time.Now().After(deadline) {
			t.Fatalf("queue not empty and idle after the copies: busy %v", q.Busy())
		}
		time.Sleep(time.Millisecond)
	}
}
