package kafka

import (
	"context"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/sluicecdc/sluice/internal/kafkatest"
	"github.com/sluicecdc/sluice/pkg/change"
	"github.com/sluicecdc/sluice/pkg/pipeline"
	"github.com/sluicecdc/sluice/sink/envelope"
	"github.com/sluicecdc/sluice/sink/sinktest"
)

// testSettings are the settings the package's tests publish with.
func testSettings(b *kafkatest.Broker, partitions int) *Settings {
	return &Settings{Brokers: []string{b.Addr()}, TopicPrefix: "sluice", Schemas: true, ExactlyOnce: true, Tombstones: true,
		ProgressTopic: DefaultProgressTopic, CreateTopics: CreateTopics{Partitions: partitions, ReplicationFactor: 1}}
}

func openSink(t *testing.T, s *Settings, name string) pipeline.Sink {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	sk, err := Open(ctx, Options{Settings: s, Pipeline: name, Version: "test", Database: "db", Log: zerolog.Nop()})
	if err != nil {
		t.Fatalf("open the kafka sink: %v", err)
	}
	return sk
}

// readTopic reads a topic with kcat, read_committed.
func readTopic(t *testing.T, b *kafkatest.Broker, topic string) []kafkatest.Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	msgs, err := kafkatest.Read(ctx, b.Addr(), topic)
	if err != nil {
		t.Fatalf("read %s: %v", topic, err)
	}
	return msgs
}

// events turns messages into the fold's events; with forCount it leaves
// out the delete half of key changes (the __debezium.newkey header), so
// each source change counts once.
func events(msgs []kafkatest.Message, forCount bool) []sinktest.Event {
	var out []sinktest.Event
	for _, m := range msgs {
		if _, half := m.Headers[envelope.HeaderNewKey]; forCount && half {
			continue
		}
		var e sinktest.Event
		if m.Key != nil {
			e.Key = []byte(*m.Key)
		}
		if m.Value != nil {
			e.Value = []byte(*m.Value)
		}
		out = append(out, e)
	}
	return out
}

func fold(t *testing.T, msgs []kafkatest.Message, forCount bool) *sinktest.Stream {
	t.Helper()
	s, err := sinktest.Fold(events(msgs, forCount))
	if err != nil {
		t.Fatalf("fold the events: %v", err)
	}
	return s
}

// target is the conformance harness: one partition per topic, so that a
// truncate (a null key, partition 0) stays ordered with every key's
// events when the suite folds a whole topic.
func target(b *kafkatest.Broker) sinktest.Target {
	s := testSettings(b, 1)
	topic := func(id change.TableID) string { return envelope.Topic(s.TopicPrefix, id) }
	return sinktest.Target{
		Open: func(t *testing.T, name string) pipeline.Sink { return openSink(t, s, name) },
		Rows: func(t *testing.T, id change.TableID) []string {
			return fold(t, readTopic(t, b, topic(id)), false).Rows(id)
		},
		Changes: func(t *testing.T, id change.TableID) int {
			return fold(t, readTopic(t, b, topic(id)), true).Changes(id)
		},
		Down: func(t *testing.T) {
			if err := b.Stop(); err != nil {
				t.Fatal(err)
			}
		},
		Up: func(t *testing.T) {
			if err := b.Start(); err != nil {
				t.Fatal(err)
			}
		},
	}
}

// TestConformance runs the suite every sink passes.
func TestConformance(t *testing.T) {
	sinktest.Run(t, target(kafkatest.Start(t)))
}
