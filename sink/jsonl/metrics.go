package jsonl

import "github.com/prometheus/client_golang/prometheus"

// Metrics are a stream sink's own series: records and bytes written,
// flush latency, flushes that committed and that failed. The webhook sink
// uses them too, with its kind as the label.
type Metrics struct {
	Records, Bytes  prometheus.Counter
	Commits, Aborts prometheus.Counter
	Retries         prometheus.Counter // requests retried (webhook)
	Latency         prometheus.Histogram
}

// NewMetrics makes the series of a sink kind.
func NewMetrics(kind string) *Metrics {
	l := prometheus.Labels{"sink": kind}
	return &Metrics{
		Records: prometheus.NewCounter(prometheus.CounterOpts{Name: "sluice_sink_records_total", ConstLabels: l,
			Help: "Change events (and transaction events) the sink wrote."}),
		Bytes: prometheus.NewCounter(prometheus.CounterOpts{Name: "sluice_sink_bytes_total", ConstLabels: l,
			Help: "Bytes of change events the sink wrote."}),
		Commits: prometheus.NewCounter(prometheus.CounterOpts{Name: "sluice_sink_commits_total", ConstLabels: l,
			Help: "Flushes that made what the sink wrote durable (delivered)."}),
		Aborts: prometheus.NewCounter(prometheus.CounterOpts{Name: "sluice_sink_aborts_total", ConstLabels: l,
			Help: "Flushes that failed."}),
		Retries: prometheus.NewCounter(prometheus.CounterOpts{Name: "sluice_sink_retries_total", ConstLabels: l,
			Help: "Requests the sink retried after a failure that may pass."}),
		Latency: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "sluice_sink_produce_seconds", ConstLabels: l,
			Help: "Time a flush took to make the sink's writes durable (delivered).", Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16)}),
	}
}

func (m *Metrics) each(f func(prometheus.Collector)) {
	for _, c := range []prometheus.Collector{m.Records, m.Bytes, m.Commits, m.Aborts, m.Retries, m.Latency} {
		f(c)
	}
}

// Describe implements prometheus.Collector.
func (m *Metrics) Describe(ch chan<- *prometheus.Desc) {
	m.each(func(c prometheus.Collector) { c.Describe(ch) })
}

// Collect implements prometheus.Collector.
func (m *Metrics) Collect(ch chan<- prometheus.Metric) {
	m.each(func(c prometheus.Collector) { c.Collect(ch) })
}
