package kafka

import (
	"context"
	"testing"

	"github.com/sluicecdc/sluice/internal/kafkatest"
)

// BenchmarkPublish publishes transactions of 1,000 inserts, each flush one
// Kafka transaction, to a kfake broker process (go test -bench Publish
// -run XXX ./sink/kafka/).
func BenchmarkPublish(b *testing.B) {
	br := kafkatest.Start(b)
	st := testSettings(br, 6)
	st.Schemas = false
	s, err := Open(context.Background(), Options{Settings: st, Pipeline: "bench", Version: "bench", Database: "db"})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	b.ResetTimer()
	for i := range b.N {
		txn := txnAt(i+1, 1000)
		if err := s.Apply(context.Background(), txn); err != nil {
			b.Fatal(err)
		}
		txn.Close()
		if err := s.Flush(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*1000)/b.Elapsed().Seconds(), "events/s")
}
