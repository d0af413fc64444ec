// Package feed is the hand-over from a source's stream loop to the
// pipeline: committed transactions, or the error that ended the stream,
// through a buffered channel that Next reads.
package feed

import (
	"context"
	"errors"

	"github.com/sluicecdc/sluice/pkg/change"
)

// Result is one transaction (or part) or the error that ended the stream.
type Result struct {
	Txn *change.Txn
	Err error
}

// Feed carries results from the stream loop; nil until the source starts.
type Feed chan Result

// Next returns the next result, or ctx's error when it ends first.
func (f Feed) Next(ctx context.Context) (*change.Txn, error) {
	if f == nil {
		return nil, errors.New("read source: Start was not called")
	}
	select {
	case r, ok := <-f:
		if !ok {
			return nil, errors.New("read source: stream stopped")
		}
		return r.Txn, r.Err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}
