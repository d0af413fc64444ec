package nats

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/sluicecdc/sluice/sink/envelope"
	"github.com/sluicecdc/sluice/sink/sinktest"
)

// stored is one message as a consumer reads it.
type stored struct {
	Subject string
	Seq     uint64
	Header  nats.Header
	Data    []byte
}

// readStream reads every message of stream on subjects matching filter, in
// stream order, with an ordered consumer as a user's program would.
func readStream(t testing.TB, url, stream, filter string) []stored {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatalf("connect to read %s: %v", filter, err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	st, err := js.Stream(ctx, stream)
	if err != nil {
		t.Fatalf("stream %s: %v", stream, err)
	}
	info, err := st.Info(ctx, jetstream.WithSubjectFilter(filter))
	if err != nil {
		t.Fatal(err)
	}
	var want uint64
	for _, n := range info.State.Subjects {
		want += n
	}
	if want == 0 {
		return nil
	}
	cons, err := js.OrderedConsumer(ctx, stream, jetstream.OrderedConsumerConfig{FilterSubjects: []string{filter}})
	if err != nil {
		t.Fatal(err)
	}
	it, err := cons.Messages()
	if err != nil {
		t.Fatal(err)
	}
	defer it.Stop()
	var out []stored
	for uint64(len(out)) < want {
		m, err := it.Next(jetstream.NextMaxWait(10 * time.Second))
		if err != nil {
			t.Fatalf("read %s: %d of %d messages, then %v", filter, len(out), want, err)
		}
		md, _ := m.Metadata()
		out = append(out, stored{Subject: m.Subject(), Seq: md.Sequence.Stream, Header: m.Headers(), Data: m.Data()})
	}
	return out
}

// events turns messages into the envelope events sinktest.Fold replays.
func events(msgs []stored) []sinktest.Event {
	out := make([]sinktest.Event, 0, len(msgs))
	for _, m := range msgs {
		e := sinktest.Event{}
		if k, ok := m.Header[HeaderKey]; ok {
			e.Key = []byte(k[0])
		}
		if len(m.Data) > 0 {
			e.Value = m.Data
		}
		out = append(out, e)
	}
	return out
}

// changeCount counts change events: tombstones and the delete half of a
// key change (it carries __debezium.newkey) not counted.
func changeCount(msgs []stored) int {
	n := 0
	for _, m := range msgs {
		if len(m.Data) > 0 && m.Header.Get(envelope.HeaderNewKey) == "" {
			n++
		}
	}
	return n
}
