package kafka

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// ErrFenced says another process took over the pipeline's transactional
// id: this one must stop, permanently (two writers would double events).
var ErrFenced = errors.New("fenced by another producer")

// ErrMissingTopic says a topic the sink writes to does not exist and
// sink.kafka.create_topics is not set.
var ErrMissingTopic = errors.New("topic does not exist")

// Error is a failure of the Kafka sink, classified: Transient says whether
// retrying later may succeed (a broker down or restarting, a timeout) or a
// person must act (authentication, authorization, a record too large, a
// missing topic, fencing).
type Error struct {
	Op        string // what failed: "produce", "commit the transaction", ...
	Err       error
	transient bool
}

func (e *Error) Error() string   { return "kafka: " + e.Op + ": " + e.Err.Error() }
func (e *Error) Unwrap() error   { return e.Err }
func (e *Error) Transient() bool { return e.transient }

// classify wraps err as an *Error saying whether it is transient. name is
// the pipeline (for the fencing message).
func classify(op, name string, err error) error {
	if err == nil {
		return nil
	}
	var done *Error
	if errors.As(err, &done) {
		return err
	}
	if fenced(err) {
		return &Error{Op: op, Err: fmt.Errorf("%w: another sluice with pipeline name %s took over the transactional id %s "+
			"(two processes must never publish one pipeline; stop the other one, or give this one another name): %v",
			ErrFenced, name, TransactionalID(name), err)}
	}
	return &Error{Op: op, Err: err, transient: transientErr(err)}
}

func fenced(err error) bool {
	return errors.Is(err, ErrFenced) || errors.Is(err, kerr.ProducerFenced) || errors.Is(err, kerr.InvalidProducerEpoch)
}

// transientErr tells failures worth a retry by their codes and types.
func transientErr(err error) bool {
	if errors.Is(err, context.Canceled) {
		return false
	}
	switch {
	case errors.Is(err, ErrMissingTopic),
		errors.Is(err, kerr.SaslAuthenticationFailed), errors.Is(err, kerr.IllegalSaslState),
		errors.Is(err, kerr.UnsupportedSaslMechanism),
		errors.Is(err, kerr.TopicAuthorizationFailed), errors.Is(err, kerr.ClusterAuthorizationFailed),
		errors.Is(err, kerr.TransactionalIDAuthorizationFailed), errors.Is(err, kerr.GroupAuthorizationFailed),
		errors.Is(err, kerr.MessageTooLarge), errors.Is(err, kerr.RecordListTooLarge),
		errors.Is(err, kerr.InvalidTopicException), errors.Is(err, kerr.InvalidRecord),
		errors.Is(err, kerr.InvalidTransactionTimeout), errors.Is(err, kerr.PolicyViolation),
		errors.Is(err, kerr.InvalidReplicationFactor), errors.Is(err, kerr.InvalidPartitions),
		errors.Is(err, kerr.UnsupportedVersion), errors.Is(err, kerr.UnsupportedForMessageFormat):
		return false
	case errors.Is(err, kgo.ErrRecordTimeout), errors.Is(err, kgo.ErrRecordRetries),
		errors.Is(err, context.DeadlineExceeded), errors.Is(err, kgo.ErrAborting), errors.Is(err, errStalled):
		return true
	}
	var ke *kerr.Error
	if errors.As(err, &ke) {
		return ke.Retriable || ke == kerr.TransactionAbortable || ke == kerr.UnknownServerError ||
			ke == kerr.ConcurrentTransactions || ke == kerr.OperationNotAttempted
	}
	var ne net.Error
	var op *net.OpError
	var dial *kgo.ErrFirstReadEOF
	return errors.As(err, &ne) || errors.As(err, &op) || errors.As(err, &dial) || errors.Is(err, net.ErrClosed) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, kgo.ErrClientClosed)
}
