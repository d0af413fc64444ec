package metrics

import (
	"strconv"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluicecdc/sluice/pkg/change"
)

// optional collects the metrics that exist only when known: log distances
// the source can tell, and the checkpoint position (one series at a time,
// so a moving position leaves no stale series behind).
type optional struct{ m *Metrics }

var (
	descLagBytes = prometheus.NewDesc("sluice_lag_bytes",
		"Source log bytes not yet applied to the target (PostgreSQL: current WAL LSN minus the applied or confirmed LSN; MySQL: binlog offset distance when in the same file).", nil, nil)
	descRetained = prometheus.NewDesc("sluice_slot_retained_wal_bytes",
		"WAL the PostgreSQL server keeps for the replication slot (current WAL LSN minus restart_lsn), with the slot's wal_status.", []string{"wal_status"}, nil)
	descCheckpoint = prometheus.NewDesc("sluice_checkpoint_position_info",
		"Always 1; the position label is the position last saved in the checkpoint store.", []string{"position"}, nil)
	descCheckpointLSN = prometheus.NewDesc("sluice_checkpoint_lsn",
		"The PostgreSQL LSN last saved in the checkpoint store, as a number.", nil, nil)
	descAcked = prometheus.NewDesc("sluice_acked_position_info",
		"Always 1; the position label is the newest position durable in the target and acknowledged to the source.", []string{"position"}, nil)
	descSourceUp = prometheus.NewDesc("sluice_source_reachable",
		"1 when the last probe of the source server succeeded.", nil, nil)
	descSinkUp = prometheus.NewDesc("sluice_sink_reachable",
		"1 when the last probe of the target server succeeded.", nil, nil)
)

// Describe sends nothing: the collector is unchecked, since its series come
// and go.
func (optional) Describe(chan<- *prometheus.Desc) {}

func (o optional) Collect(ch chan<- prometheus.Metric) {
	m := o.m
	m.mu.Lock()
	st := m.st
	m.mu.Unlock()
	if st.hasLog && st.sourceErr == "" {
		if st.log.BehindBytes >= 0 {
			ch <- prometheus.MustNewConstMetric(descLagBytes, prometheus.GaugeValue, float64(st.log.BehindBytes))
		}
		if st.log.RetainedBytes >= 0 {
			ch <- prometheus.MustNewConstMetric(descRetained, prometheus.GaugeValue, float64(st.log.RetainedBytes), st.log.SlotStatus)
		}
	}
	if st.checkpoint != nil {
		ch <- prometheus.MustNewConstMetric(descCheckpoint, prometheus.GaugeValue, 1, st.checkpoint.String())
		if lsn, ok := lsnValue(st.checkpoint); ok {
			ch <- prometheus.MustNewConstMetric(descCheckpointLSN, prometheus.GaugeValue, float64(lsn))
		}
	}
	if st.acked != nil {
		ch <- prometheus.MustNewConstMetric(descAcked, prometheus.GaugeValue, 1, st.acked.String())
	}
	if !st.probedAt.IsZero() {
		ch <- prometheus.MustNewConstMetric(descSourceUp, prometheus.GaugeValue, boolValue(st.sourceErr == ""))
	}
	if st.sinkProbed {
		ch <- prometheus.MustNewConstMetric(descSinkUp, prometheus.GaugeValue, boolValue(st.sinkErr == ""))
	}
}

// lsnValue reads a PostgreSQL LSN ("16/B374D848") as a number; other
// sources' positions have no single number.
func lsnValue(p change.Position) (uint64, bool) {
	hi, lo, ok := strings.Cut(p.String(), "/")
	if !ok {
		return 0, false
	}
	h, err1 := strconv.ParseUint(hi, 16, 32)
	l, err2 := strconv.ParseUint(lo, 16, 32)
	if err1 != nil || err2 != nil {
		return 0, false
	}
	return h<<32 | l, true
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
