package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// VerifyRun is what `sluice verify` reports to the running sluice of its
// config when it ends (POST /admin/verify): the last run's results become
// the sluice_verify_* gauges.
type VerifyRun struct {
	Time   time.Time     `json:"time"` // when the run ended
	Tables []VerifyTable `json:"tables"`
}

// VerifyTable is one table's outcome in a verify run.
type VerifyTable struct {
	Table  string `json:"table"`
	Status string `json:"status"` // equal | differ | skipped | error
	Diffs  int64  `json:"diffs"`  // differing rows found (after --repair: those left)
}

// verifyMetrics are the gauges of the last verify run.
type verifyMetrics struct {
	last   prometheus.Gauge
	tables *prometheus.GaugeVec
	diffs  prometheus.Gauge
	table  *prometheus.GaugeVec
}

func newVerifyMetrics(f factory) verifyMetrics {
	return verifyMetrics{
		last:   f.gauge("sluice_verify_last_run_timestamp_seconds", "When the last `sluice verify` reported to this process ended (Unix seconds); 0 before the first."),
		tables: f.gaugeVec("sluice_verify_tables", "Tables of the last verify run by outcome: equal, differ, skipped (unverifiable) or error.", "status"),
		diffs:  f.gauge("sluice_verify_differing_rows", "Rows the last verify run found different (all tables; after --repair, those left)."),
		table:  f.gaugeVec("sluice_verify_table_differing_rows", "Rows the last verify run found different, by table (only the tables it compared).", "table"),
	}
}

// Verified records a verify run, replacing the previous run's results.
func (m *Metrics) Verified(r VerifyRun) {
	v := m.vf
	v.tables.Reset()
	v.table.Reset()
	for _, s := range []string{"equal", "differ", "skipped", "error"} {
		v.tables.WithLabelValues(s).Set(0)
	}
	var total int64
	for _, t := range r.Tables {
		v.tables.WithLabelValues(t.Status).Inc()
		if t.Status == "equal" || t.Status == "differ" {
			v.table.WithLabelValues(t.Table).Set(float64(t.Diffs))
		}
		total += t.Diffs
	}
	v.diffs.Set(float64(total))
	v.last.Set(float64(r.Time.UnixNano()) / 1e9)
}
