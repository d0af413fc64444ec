package nats

import "github.com/prometheus/client_golang/prometheus"

// metrics are the sink's own, exported with the pipeline's (the sink is a
// prometheus.Collector; cmd/sluice adds the pipeline label).
type metrics struct {
	records, bytes, duplicates, commits, aborts prometheus.Counter
	latency                                     prometheus.Histogram
}

func newMetrics() *metrics {
	c := func(name, help string) prometheus.Counter {
		return prometheus.NewCounter(prometheus.CounterOpts{Name: name, Help: help})
	}
	return &metrics{
		records:    c("sluice_sink_records_total", "Messages the NATS sink published and JetStream acknowledged (progress markers not counted)."),
		bytes:      c("sluice_sink_bytes_total", "Payload bytes of the acknowledged messages."),
		duplicates: c("sluice_sink_duplicates_total", "Messages JetStream dropped as duplicates (same Nats-Msg-Id, a replay)."),
		commits:    c("sluice_sink_txn_commits_total", "Flushes made durable: every message acknowledged, then the progress marker."),
		aborts:     c("sluice_sink_txn_aborts_total", "Flushes that failed (a publish or acknowledgement failed; the pipeline replays)."),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "sluice_sink_produce_latency_seconds",
			Help:    "Time from a flush's first publish until its last acknowledgement and progress marker.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16)}),
	}
}

func (m *metrics) all() []prometheus.Collector {
	return []prometheus.Collector{m.records, m.bytes, m.duplicates, m.commits, m.aborts, m.latency}
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
