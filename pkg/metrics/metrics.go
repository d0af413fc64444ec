// Package metrics observes a running pipeline: it implements
// pipeline.Observer, keeps Prometheus metrics in a private registry (with
// the Go runtime and process collectors) and the state that /status and
// /readyz report.
//
// Metric names start with sluice_ and carry a pipeline label (the config's
// name). Per-table counters are added once per transaction and per batch,
// through cached label children, never once per change.
//
// Replication lag (sluice_lag_seconds) is the age of the oldest change read
// from the source but not yet committed in the target, measured from its
// source commit time: 0 when everything read is applied, so an idle source
// shows 0, not an ever-growing number; a stalled target shows a growing
// one. It compares the source server's clock with this machine's.
package metrics

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/sluicecdc/sluice/pkg/change"
	"github.com/sluicecdc/sluice/pkg/pipeline"
)

// Metrics observes one pipeline. Safe for concurrent use.
type Metrics struct {
	reg   *prometheus.Registry
	start time.Time
	info  Info

	bf                     backfillMetrics
	vf                     verifyMetrics
	read, applied          *prometheus.CounterVec
	txns, batches          prometheus.Counter
	flushSeconds           prometheus.Histogram
	batchChanges           prometheus.Histogram
	batchBytes             prometheus.Histogram
	lastCommit, ckptSaved  prometheus.Gauge
	snapRows, snapEstimate *prometheus.GaugeVec
	errors, retries        *prometheus.CounterVec
	state                  *prometheus.GaugeVec

	lag           lagQueue
	sinkMetrics   swappable
	sourceMetrics swappable

	mu     sync.Mutex
	tables map[tableOp]*tableCounters
	st     status
}

// Info describes the pipeline for /status.
type Info struct {
	Pipeline   string // the config's name
	SourceKind string
	Source     string // where the source is, without secrets (e.g. a redacted DSN)
	SinkKind   string
	Sink       string
	Slot       string // PostgreSQL replication slot
	Version    string
}

type tableOp struct {
	table change.TableID
	op    change.Op
}

// tableCounters are the cached label children of one table and operation
// and their totals for /status.
type tableCounters struct {
	read, applied   prometheus.Counter
	nRead, nApplied int64
}

var _ pipeline.Observer = (*Metrics)(nil)

// New makes the metrics of one pipeline.
func New(info Info) *Metrics {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	r := prometheus.WrapRegistererWith(prometheus.Labels{"pipeline": info.Pipeline}, reg)
	m := &Metrics{reg: reg, start: time.Now(), info: info, tables: map[tableOp]*tableCounters{}}
	m.st.state, m.st.since = pipeline.StateStarting, m.start
	m.st.errors, m.st.retries = map[string]int64{}, map[string]int64{}
	m.st.snapshot = map[change.TableID]*snapTable{}
	f := factory{r}
	m.read = f.counterVec("sluice_changes_read_total", "Changes read from the source, by table and operation.", "table", "op")
	m.applied = f.counterVec("sluice_changes_applied_total", "Changes committed in the target, by table and operation (replays the target already held are not counted).", "table", "op")
	m.txns = f.counter("sluice_transactions_applied_total", "Source transactions committed in the target (including replays it already held).")
	m.batches = f.counter("sluice_batches_total", "Batches (target transactions) committed.")
	m.flushSeconds = f.histogram("sluice_batch_flush_seconds", "Time to commit one batch in the target.", prometheus.ExponentialBuckets(0.001, 2.5, 12))
	m.batchChanges = f.histogram("sluice_batch_changes", "Changes per batch.", prometheus.ExponentialBuckets(1, 4, 10))
	m.batchBytes = f.histogram("sluice_batch_bytes", "Approximate bytes of changes per batch.", prometheus.ExponentialBuckets(1024, 4, 10))
	m.lastCommit = f.gauge("sluice_last_applied_commit_timestamp_seconds", "Source commit time of the last transaction committed in the target (Unix seconds).")
	m.ckptSaved = f.gauge("sluice_checkpoint_saved_timestamp_seconds", "When the checkpoint was last saved (Unix seconds).")
	m.snapRows = f.gaugeVec("sluice_snapshot_rows_copied", "Rows the initial snapshot copied so far, by table.", "table")
	m.snapEstimate = f.gaugeVec("sluice_snapshot_rows_estimated", "Rows the source estimates each table of the snapshot has (absent when it cannot tell).", "table")
	m.bf = newBackfillMetrics(f)
	m.vf = newVerifyMetrics(f)
	m.errors = f.counterVec("sluice_errors_total", "Failures by kind: source, apply, flush, checkpoint, ack, snapshot, source_probe, sink_probe.", "kind")
	m.retries = f.counterVec("sluice_retries_total", "Retries by kind: source_reconnect (the source lost its connection and reconnects with backoff).", "kind")
	m.state = f.gaugeVec("sluice_state", "1 for the pipeline's current state (starting, snapshot, streaming, stopping, stopped, failed, retrying).", "state")
	m.state.WithLabelValues(string(pipeline.StateStarting)).Set(1)
	r.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "sluice_lag_seconds",
		Help: "Age of the oldest change read from the source and not yet committed in the target (0 when caught up)."},
		func() float64 { return m.lag.age(time.Now()).Seconds() }))
	r.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "sluice_ready",
		Help: "1 when the pipeline is connected to source and target and not failing (as /readyz)."},
		func() float64 {
			if ok, _ := m.Ready(); ok {
				return 1
			}
			return 0
		}))
	r.MustRegister(optional{m})
	r.MustRegister(&m.sinkMetrics)
	r.MustRegister(&m.sourceMetrics)
	return m
}

// SetSourceCollector exports the metrics of the source of the current
// attempt (a kafka source's lag per partition, ...); nil stops.
func (m *Metrics) SetSourceCollector(c prometheus.Collector) { m.sourceMetrics.set(c) }

// SetSinkCollector exports the metrics of the sink of the current attempt
// (a stream sink's records, bytes, produce latency, ...) with the
// pipeline's; nil stops. The pipeline label is added.
func (m *Metrics) SetSinkCollector(c prometheus.Collector) { m.sinkMetrics.set(c) }

// swappable is a collector standing for whichever one is set now: each
// attempt of a retried pipeline opens a new sink, registered once here.
// It describes nothing, so the registry treats it as unchecked.
type swappable struct {
	mu sync.Mutex
	c  prometheus.Collector
}

func (s *swappable) set(c prometheus.Collector) {
	s.mu.Lock()
	s.c = c
	s.mu.Unlock()
}

func (s *swappable) Describe(chan<- *prometheus.Desc) {}

func (s *swappable) Collect(ch chan<- prometheus.Metric) {
	s.mu.Lock()
	c := s.c
	s.mu.Unlock()
	if c != nil {
		c.Collect(ch)
	}
}

// Registry is the private registry holding every metric, for /metrics.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// State records what the pipeline does.
func (m *Metrics) State(s pipeline.State, err error) {
	m.mu.Lock()
	m.st.state, m.st.since = s, time.Now()
	m.st.stateErr = ""
	if err != nil {
		m.st.stateErr = err.Error()
	}
	m.mu.Unlock()
	m.state.Reset()
	m.state.WithLabelValues(string(s)).Set(1)
}

// Read counts a transaction read from the source.
func (m *Metrics) Read(r pipeline.ReadInfo) {
	if r.Position != nil && !r.Commit.IsZero() {
		m.lag.push(r.Position, r.Commit)
	}
	if len(r.Counts) == 0 {
		return
	}
	m.mu.Lock()
	for _, c := range r.Counts {
		tc := m.counters(c.Table, c.Op)
		tc.read.Add(float64(c.N))
		tc.nRead += int64(c.N)
	}
	m.mu.Unlock()
}

// Flushed counts a batch committed in the target.
func (m *Metrics) Flushed(f pipeline.FlushInfo) {
	m.lag.pop(f.Position)
	m.batches.Inc()
	m.txns.Add(float64(f.Txns))
	m.flushSeconds.Observe(f.Took.Seconds())
	m.batchChanges.Observe(float64(f.Changes))
	m.batchBytes.Observe(float64(f.Bytes))
	if !f.Commit.IsZero() {
		m.lastCommit.Set(float64(f.Commit.UnixNano()) / 1e9)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, c := range f.Counts {
		tc := m.counters(c.Table, c.Op)
		tc.applied.Add(float64(c.N))
		tc.nApplied += int64(c.N)
	}
	m.st.applied, m.st.appliedCommit, m.st.flushedAt = f.Position, f.Commit, time.Now()
	m.st.batches++
	m.st.txns += int64(f.Txns)
}

// counters returns the cached children of a table and operation; m.mu is held.
func (m *Metrics) counters(t change.TableID, op change.Op) *tableCounters {
	k := tableOp{t, op}
	tc := m.tables[k]
	if tc == nil {
		name, o := t.String(), op.String()
		tc = &tableCounters{read: m.read.WithLabelValues(name, o), applied: m.applied.WithLabelValues(name, o)}
		m.tables[k] = tc
	}
	return tc
}

// Acked records the position durable in the target and acked to the source.
func (m *Metrics) Acked(pos change.Position, saved bool) {
	now := time.Now()
	m.mu.Lock()
	m.st.acked = pos
	if saved {
		m.st.checkpoint, m.st.savedAt = pos, now
	}
	m.mu.Unlock()
	if saved {
		m.ckptSaved.Set(float64(now.UnixNano()) / 1e9)
	}
}

// SnapshotStarted records the tables of a snapshot and their estimates.
func (m *Metrics) SnapshotStarted(tables []pipeline.SnapshotTable) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.st.snapshot = map[change.TableID]*snapTable{}
	m.st.snapOrder = nil
	for _, t := range tables {
		m.st.snapshot[t.Table] = &snapTable{estimate: t.Estimate}
		m.st.snapOrder = append(m.st.snapOrder, t.Table)
		m.snapRows.WithLabelValues(t.Table.String()).Set(0)
		if t.Estimate >= 0 {
			m.snapEstimate.WithLabelValues(t.Table.String()).Set(float64(t.Estimate))
		}
	}
}

// SnapshotRows records rows copied.
func (m *Metrics) SnapshotRows(t change.TableID, n int64, done bool) {
	m.mu.Lock()
	st := m.st.snapshot[t]
	if st == nil {
		st = &snapTable{estimate: -1}
		m.st.snapshot[t] = st
		m.st.snapOrder = append(m.st.snapOrder, t)
	}
	st.rows += n
	st.done = st.done || done
	if st.started.IsZero() {
		st.started = time.Now()
	}
	if done {
		st.ended = time.Now()
	}
	rows := st.rows
	m.mu.Unlock()
	m.snapRows.WithLabelValues(t.String()).Set(float64(rows))
}

// Error counts a failure and remembers the last one for /status.
func (m *Metrics) Error(kind string, err error) {
	m.errors.WithLabelValues(kind).Inc()
	m.mu.Lock()
	m.st.errors[kind]++
	m.st.lastErr = errorAt{Kind: kind, Message: err.Error(), At: time.Now()}
	m.mu.Unlock()
}

// SourceReconnecting records that the source lost its connection and
// retries (true), or is connected again (false).
func (m *Metrics) SourceReconnecting(on bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if on && !m.st.reconnecting {
		m.retries.WithLabelValues("source_reconnect").Inc()
		m.st.retries["source_reconnect"]++
	}
	m.st.reconnecting = on
}

// SetLogStatus records what the source told about its log (err: the
// source could not be asked).
func (m *Metrics) SetLogStatus(ls pipeline.LogStatus, err error) {
	if err != nil {
		m.errors.WithLabelValues("source_probe").Inc()
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.st.probedAt = time.Now()
	m.st.sourceErr = ""
	if err != nil {
		m.st.sourceErr = err.Error()
		return
	}
	m.st.log, m.st.hasLog = ls, true
}

// SetSinkProbe records whether the target accepted a connection.
func (m *Metrics) SetSinkProbe(err error) {
	if err != nil {
		m.errors.WithLabelValues("sink_probe").Inc()
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.st.sinkErr, m.st.sinkProbed = "", true
	if err != nil {
		m.st.sinkErr = err.Error()
	}
}

// Applied is the position of the last batch committed in the target (nil
// before the first), for asking the source how far behind it is.
func (m *Metrics) Applied() change.Position {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.st.applied != nil {
		return m.st.applied
	}
	return m.st.acked
}

// factory registers metrics with the pipeline label.
type factory struct{ r prometheus.Registerer }

func (f factory) counter(name, help string) prometheus.Counter {
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: name, Help: help})
	f.r.MustRegister(c)
	return c
}

func (f factory) counterVec(name, help string, labels ...string) *prometheus.CounterVec {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels)
	f.r.MustRegister(c)
	return c
}

func (f factory) gauge(name, help string) prometheus.Gauge {
	g := prometheus.NewGauge(prometheus.GaugeOpts{Name: name, Help: help})
	f.r.MustRegister(g)
	return g
}

func (f factory) gaugeVec(name, help string, labels ...string) *prometheus.GaugeVec {
	g := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: name, Help: help}, labels)
	f.r.MustRegister(g)
	return g
}

func (f factory) histogram(name, help string, buckets []float64) prometheus.Histogram {
	h := prometheus.NewHistogram(prometheus.HistogramOpts{Name: name, Help: help, Buckets: buckets})
	f.r.MustRegister(h)
	return h
}
