package kafka

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the sink's own: what it produced and how its transactions
// ended. The sink is a prometheus.Collector exporting them.
type metrics struct {
	records  prometheus.Counter
	bytes    prometheus.Counter
	latency  prometheus.Histogram
	commits  prometheus.Counter
	aborts   prometheus.Counter
	failures prometheus.Counter
}

func newMetrics() *metrics {
	return &metrics{
		records: prometheus.NewCounter(prometheus.CounterOpts{Name: "sluice_kafka_records_total",
			Help: "Records the Kafka sink produced and the broker acknowledged (events, tombstones, transaction events, progress records)."}),
		bytes: prometheus.NewCounter(prometheus.CounterOpts{Name: "sluice_kafka_bytes_total",
			Help: "Key and value bytes of the acknowledged records."}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "sluice_kafka_produce_latency_seconds",
			Help:    "Time from producing a record to the broker's acknowledgement.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2.5, 12)}),
		commits: prometheus.NewCounter(prometheus.CounterOpts{Name: "sluice_kafka_transaction_commits_total",
			Help: "Kafka transactions committed (exactly_once), or flushes completed (at least once)."}),
		aborts: prometheus.NewCounter(prometheus.CounterOpts{Name: "sluice_kafka_transaction_aborts_total",
			Help: "Kafka transactions aborted after a produce or commit error."}),
		failures: prometheus.NewCounter(prometheus.CounterOpts{Name: "sluice_kafka_produce_errors_total",
			Help: "Records the broker did not acknowledge."}),
	}
}

func (m *metrics) all() []prometheus.Collector {
	return []prometheus.Collector{m.records, m.bytes, m.latency, m.commits, m.aborts, m.failures}
}

func (m *metrics) acked(keyLen, valLen int, produced time.Time) {
	m.records.Inc()
	m.bytes.Add(float64(keyLen + valLen))
	m.latency.Observe(time.Since(produced).Seconds())
}

// Describe implements prometheus.Collector.
func (s *Sink) Describe(ch chan<- *prometheus.Desc) {
	for _, c := range s.m.all() {
		c.Describe(ch)
	}
}

// Collect implements prometheus.Collector.
func (s *Sink) Collect(ch chan<- prometheus.Metric) {
	for _, c := range s.m.all() {
		c.Collect(ch)
	}
}
