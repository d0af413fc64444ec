package metrics

// Retry counts one restart of the pipeline after a transient failure of
// the given kind (e.g. "pipeline_restart").
func (m *Metrics) Retry(kind string) {
	m.retries.WithLabelValues(kind).Inc()
	m.mu.Lock()
	m.st.retries[kind]++
	m.mu.Unlock()
}
