package kafka

import (
	"context"
	"encoding/json"
	"slices"
	"testing"

	"github.com/sluicecdc/sluice/internal/kafkatest"
	"github.com/sluicecdc/sluice/pkg/pipeline"
	"github.com/sluicecdc/sluice/sink/envelope"
)

// exactly_once: false is an idempotent producer without a progress
// record: not a PositionKeeper, the pipeline replays from its checkpoint.
// Transaction metadata goes to <prefix>.transaction; a template names the
// topics; schemas wrap every event.
func TestAtLeastOnceWithTransactionTopicAndTemplate(t *testing.T) {
	b := kafkatest.Start(t)
	st := testSettings(b, 2)
	st.ExactlyOnce, st.TransactionTopic, st.Topic = false, true, "cdc.{schema}.{table}"
	s := openSink(t, st, "alo")
	defer s.Close()
	if _, keeper := s.(pipeline.PositionKeeper); keeper {
		t.Fatal("an at-least-once sink claims to keep its position")
	}
	if err := applyTxns(t, s, 1, 2, 3); err != nil {
		t.Fatal(err)
	}
	if err := s.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if msgs := readTopic(t, b, "cdc.app.items"); len(msgs) != 6 {
		t.Errorf("cdc.app.items holds %d events, want 6", len(msgs))
	} else {
		var ev struct {
			Schema  map[string]any `json:"schema"`
			Payload struct {
				Transaction struct {
					ID         string `json:"id"`
					TotalOrder int    `json:"total_order"`
				} `json:"transaction"`
			} `json:"payload"`
		}
		if err := json.Unmarshal([]byte(*msgs[0].Value), &ev); err != nil || ev.Schema["name"] != "sluice.app.items.Envelope" ||
			ev.Payload.Transaction.ID == "" || ev.Payload.Transaction.TotalOrder < 1 {
			t.Errorf("event %s: want the schema sluice.app.items.Envelope and a transaction block (%v)", *msgs[0].Value, err)
		}
	}
	var statuses []string
	for _, m := range readTopic(t, b, envelope.TransactionTopic("sluice")) {
		var ev struct {
			Payload struct {
				Status     string `json:"status"`
				EventCount *int   `json:"event_count"`
			} `json:"payload"`
		}
		if err := json.Unmarshal([]byte(*m.Value), &ev); err != nil {
			t.Fatal(err)
		}
		statuses = append(statuses, ev.Payload.Status)
	}
	if len(statuses) != 4 {
		t.Errorf("sluice.transaction holds %q, want BEGIN and END of two transactions", statuses)
	}
	topics, err := kafkatest.Topics(context.Background(), b.Addr())
	if err != nil {
		t.Fatal(err)
	}
	if slices.Contains(topics, DefaultProgressTopic) {
		t.Errorf("an at-least-once sink made the progress topic (topics %q)", topics)
	}
}
