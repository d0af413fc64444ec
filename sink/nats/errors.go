package nats

import (
	"context"
	"errors"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// transientError is a failure that goes away by itself (the server
// restarting, a cut connection, an acknowledgement that timed out): the
// pipeline retries with a new sink. cmd/sluice asks Transient.
type transientError struct{ err error }

func (e *transientError) Error() string   { return e.err.Error() }
func (e *transientError) Unwrap() error   { return e.err }
func (e *transientError) Transient() bool { return true }

// transientCauses are the NATS failures a restart or a network cut gives.
var transientCauses = []error{ErrConnectionLost, nats.ErrNoServers, nats.ErrConnectionClosed, nats.ErrConnectionDraining,
	nats.ErrConnectionReconnecting, nats.ErrDisconnected, nats.ErrStaleConnection, nats.ErrTimeout,
	jetstream.ErrAsyncPublishTimeout, jetstream.ErrNoHeartbeat, context.DeadlineExceeded}

// classify marks the transient failures; others keep the caller's
// default verdict (network errors are transient there too).
func classify(err error) error {
	if err == nil {
		return nil
	}
	for _, c := range transientCauses {
		if errors.Is(err, c) {
			return &transientError{err}
		}
	}
	return err
}
