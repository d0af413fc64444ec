package nats

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Headers Sluice writes.
const (
	HeaderPosition = "Sluice-Position" // the source position of the change's transaction (and of a progress marker)
	HeaderKey      = "Sluice-Key"      // the event's key (Debezium's Kafka key); absent for a null key
)

// msgID is a record's Nats-Msg-Id: pipeline, the commit position of its
// transaction and its index among the transaction's records. The same
// change republished after a crash has the same id.
func msgID(pipeline, pos string, index int) string {
	if len(pos) > 64 { // a MySQL GTID set can be long
		sum := sha256.Sum256([]byte(pos))
		pos = "h" + hex.EncodeToString(sum[:12])
	}
	return pipeline + ":" + pos + ":" + strconv.Itoa(index)
}

// marker is the body of a progress marker.
type marker struct {
	Pipeline string `json:"pipeline"`
	Position string `json:"position"` // "" after a reset (a snapshot starts over)
	Time     string `json:"ts"`
}

// publishMarker records pos as the last complete transaction, after every
// record before it is acknowledged. Markers carry no Nats-Msg-Id: two with
// the same position (a resnapshot) must both be stored.
func (s *Sink) publishMarker(ctx context.Context, pos string) error {
	body, _ := json.Marshal(marker{Pipeline: s.pipeline, Position: pos, Time: time.Now().UTC().Format(time.RFC3339Nano)})
	m := &nats.Msg{Subject: s.progress, Data: body, Header: nats.Header{}}
	m.Header.Set(HeaderPosition, pos)
	ctx, cancel := context.WithTimeout(ctx, s.set.Timeout)
	defer cancel()
	ack, err := s.js.PublishMsg(ctx, m, jetstream.WithExpectStream(s.stream.CachedInfo().Config.Name))
	if err != nil {
		return fmt.Errorf("publish the progress marker on %s: %w", s.progress, err)
	}
	s.markerSeq = ack.Sequence
	return nil
}

// readProgress reads the last marker of the pipeline: the position of the
// last complete transaction ("" when none) and the marker's sequence.
func readProgress(ctx context.Context, st jetstream.Stream, subject string) (string, uint64, error) {
	m, err := st.GetLastMsgForSubject(ctx, subject)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return "", 0, nil
	}
	if err != nil {
		return "", 0, fmt.Errorf("read the last progress marker on %s: %w", subject, err)
	}
	var body marker
	if err := json.Unmarshal(m.Data, &body); err != nil {
		return "", 0, fmt.Errorf("progress marker %d on %s: %w", m.Sequence, subject, err)
	}
	return body.Position, m.Sequence, nil
}

// scanAfter collects the Nats-Msg-Ids of this pipeline's records stored
// after sequence seq: the records of a batch whose marker never came (the
// process died, or the connection broke, while it was published). A
// replay skips them, so exactly-once does not depend on the stream's
// duplicate window. Headers only; bounded by one unfinished batch (plus
// what other publishers wrote under the prefix meanwhile).
func scanAfter(ctx context.Context, js jetstream.JetStream, st jetstream.Stream, filter, pipeline string, seq uint64) (map[string]struct{}, error) {
	info, err := st.Info(ctx)
	if err != nil {
		return nil, fmt.Errorf("read stream info: %w", err)
	}
	present := map[string]struct{}{}
	if info.State.LastSeq <= seq {
		return present, nil
	}
	// A consumer's filter must lie within the stream's subjects: read
	// everything when the stream's subjects are narrower than filter.
	var filters []string
	if slices.Contains(info.Config.Subjects, filter) || slices.Contains(info.Config.Subjects, ">") {
		filters = []string{filter}
	}
	cons, err := js.OrderedConsumer(ctx, info.Config.Name, jetstream.OrderedConsumerConfig{FilterSubjects: filters,
		DeliverPolicy: jetstream.DeliverByStartSequencePolicy, OptStartSeq: seq + 1, HeadersOnly: true})
	if err != nil {
		return nil, fmt.Errorf("read the records after the last progress marker: %w", err)
	}
	prefix := pipeline + ":"
	for {
		batch, err := cons.FetchNoWait(1024) // all of it is stored already
		if err != nil {
			return nil, fmt.Errorf("read the records after the last progress marker: %w", err)
		}
		n, done := 0, false
		for m := range batch.Messages() {
			n++
			if id := m.Headers().Get(jetstream.MsgIDHeader); len(id) > len(prefix) && id[:len(prefix)] == prefix {
				present[id] = struct{}{}
			}
			if md, err := m.Metadata(); err == nil && (md.NumPending == 0 || md.Sequence.Stream >= info.State.LastSeq) {
				done = true
			}
		}
		if err := batch.Error(); err != nil && !errors.Is(err, nats.ErrTimeout) && !errors.Is(err, context.DeadlineExceeded) {
			return nil, fmt.Errorf("read the records after the last progress marker: %w", err)
		}
		if done || n == 0 {
			return present, nil
		}
	}
}
