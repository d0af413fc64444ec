package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluicecdc/sluice/pkg/pipeline"
)

// BackfillRow is one table's online back-fill in /status.
type BackfillRow struct {
	Table   string    `json:"table"`
	Where   string    `json:"where,omitempty"`
	Rows    int64     `json:"rows"`
	Done    bool      `json:"done"`
	Error   string    `json:"error,omitempty"`
	Started time.Time `json:"started"`
	Rate    float64   `json:"rows_per_second,omitempty"`
}

var _ pipeline.BackfillObserver = (*Metrics)(nil)

// backfillMetrics are the gauges of the online back-fills.
type backfillMetrics struct {
	rows    *prometheus.GaugeVec
	running *prometheus.GaugeVec
}

func newBackfillMetrics(f factory) backfillMetrics {
	return backfillMetrics{
		rows:    f.gaugeVec("sluice_backfill_rows_copied", "Rows an online back-fill (sluice snapshot --table, or a resumed one) applied so far, by table.", "table"),
		running: f.gaugeVec("sluice_backfill_running", "1 while a table's online back-fill is queued or running, 0 once done.", "table"),
	}
}

// Backfill records the progress of a table's online back-fill.
func (m *Metrics) Backfill(b pipeline.BackfillProgress) {
	m.mu.Lock()
	var row *BackfillRow
	for i := range m.st.backfills {
		if m.st.backfills[i].Table == b.Table {
			row = &m.st.backfills[i]
		}
	}
	if row == nil || (row.Done && !b.Done) { // new, or asked again
		m.st.backfills = append(m.st.backfills, BackfillRow{Table: b.Table, Started: time.Now()})
		if row != nil {
			m.st.backfills = deleteRow(m.st.backfills, b.Table)
		}
		row = &m.st.backfills[len(m.st.backfills)-1]
	}
	row.Where, row.Rows, row.Done, row.Error = b.Where, b.Rows, b.Done, b.Err
	if d := time.Since(row.Started).Seconds(); d > 0 {
		row.Rate = float64(b.Rows) / d
	}
	m.mu.Unlock()
	m.bf.rows.WithLabelValues(b.Table).Set(float64(b.Rows))
	running := 1.0
	if b.Done {
		running = 0
	}
	m.bf.running.WithLabelValues(b.Table).Set(running)
}

// deleteRow removes the first (older) row of table, keeping the last.
func deleteRow(rows []BackfillRow, table string) []BackfillRow {
	for i := range rows[:len(rows)-1] {
		if rows[i].Table == table {
			return append(rows[:i], rows[i+1:]...)
		}
	}
	return rows
}
