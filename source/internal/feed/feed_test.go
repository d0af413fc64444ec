package feed

import (
	"context"
	"errors"
	"testing"

	"github.com/sluicecdc/sluice/pkg/change"
)

// TestNext: results in order, the stream's error, a closed feed, a feed
// never started and an ended context each say so.
func TestNext(t *testing.T) {
	ctx := context.Background()
	if _, err := Feed(nil).Next(ctx); err == nil {
		t.Error("a nil feed gave no error")
	}
	f := make(Feed, 2)
	txn, boom := &change.Txn{}, errors.New("boom")
	f <- Result{Txn: txn}
	f <- Result{Err: boom}
	if got, err := f.Next(ctx); got != txn || err != nil {
		t.Errorf("Next = %v, %v", got, err)
	}
	if _, err := f.Next(ctx); !errors.Is(err, boom) {
		t.Errorf("Next = %v, want the stream's error", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := f.Next(cctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Next = %v, want context.Canceled", err)
	}
	close(f)
	if _, err := f.Next(ctx); err == nil || err.Error() != "read source: stream stopped" {
		t.Errorf("Next on a closed feed = %v", err)
	}
}
