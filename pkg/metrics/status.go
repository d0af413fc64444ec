package metrics

import (
	"slices"
	"strings"
	"time"

	"github.com/sluicecdc/sluice/pkg/change"
	"github.com/sluicecdc/sluice/pkg/pipeline"
)

// status is the state behind /status and /readyz; under Metrics.mu.
type status struct {
	state         pipeline.State
	stateErr      string
	since         time.Time
	applied       change.Position // last batch committed in the target
	appliedCommit time.Time
	flushedAt     time.Time
	acked         change.Position // durable in the target, acked to the source
	checkpoint    change.Position // in the checkpoint store
	savedAt       time.Time
	batches, txns int64
	snapshot      map[change.TableID]*snapTable
	snapOrder     []change.TableID
	backfills     []BackfillRow
	errors        map[string]int64
	retries       map[string]int64
	lastErr       errorAt
	reconnecting  bool
	log           pipeline.LogStatus
	hasLog        bool
	sourceErr     string
	probedAt      time.Time
	sinkErr       string
	sinkProbed    bool
}

type snapTable struct {
	rows, estimate int64
	done           bool
	started, ended time.Time
}

type errorAt struct {
	Kind    string    `json:"kind"`
	Message string    `json:"message"`
	At      time.Time `json:"at"`
}

// Status is what /status reports, and what `sluice status` prints.
type Status struct {
	Pipeline   string         `json:"pipeline"`
	Origin     string         `json:"origin"`         // "process" (the running pipeline) or "checkpoint" (read offline)
	Note       string         `json:"note,omitempty"` // e.g. why the running process could not be asked
	Version    string         `json:"version,omitempty"`
	State      string         `json:"state"`
	StateError string         `json:"state_error,omitempty"`
	Since      time.Time      `json:"since"`
	Uptime     float64        `json:"uptime_seconds"`
	Ready      bool           `json:"ready"`
	Reason     string         `json:"reason,omitempty"` // why not ready
	Source     Endpoint       `json:"source"`
	Sink       Endpoint       `json:"sink"`
	Position   Position       `json:"position"`
	Lag        Lag            `json:"lag"`
	Slot       *Slot          `json:"slot,omitempty"`
	Totals     Totals         `json:"totals"`
	Tables     []Table        `json:"tables"`
	Snapshot   []SnapshotRow  `json:"snapshot,omitempty"`
	Backfills  []BackfillRow  `json:"backfills,omitempty"`
	Errors     map[string]int `json:"errors,omitempty"`
	Retries    map[string]int `json:"retries,omitempty"`
	LastError  *errorAt       `json:"last_error,omitempty"`
}

// Endpoint is the source or the target.
type Endpoint struct {
	Kind      string `json:"kind"`
	Address   string `json:"address,omitempty"` // without secrets
	Reachable *bool  `json:"reachable,omitempty"`
	Error     string `json:"error,omitempty"`
}

// Position says how far the pipeline got.
type Position struct {
	Applied       string     `json:"applied,omitempty"`          // last batch committed in the target
	AppliedCommit *time.Time `json:"applied_commit,omitempty"`   // its source commit time
	Acked         string     `json:"acked,omitempty"`            // durable in the target and acked to the source
	Checkpoint    string     `json:"checkpoint,omitempty"`       // in the checkpoint store
	Phase         string     `json:"checkpoint_phase,omitempty"` // offline: snapshot (a copy started and did not finish) or streaming
	SavedAt       *time.Time `json:"checkpoint_saved_at,omitempty"`
	SourceHead    string     `json:"source_head,omitempty"` // the source log's current end
}

// Lag says how far behind the target is.
type Lag struct {
	Seconds *float64 `json:"seconds,omitempty"` // age of the oldest change read but not applied; 0 when caught up; unknown offline
	Bytes   *int64   `json:"bytes,omitempty"`   // log bytes not yet applied, where the source can tell
}

// Slot is a PostgreSQL replication slot.
type Slot struct {
	Name          string `json:"name,omitempty"`
	WALStatus     string `json:"wal_status,omitempty"`
	RetainedBytes *int64 `json:"retained_bytes,omitempty"`
	Confirmed     string `json:"confirmed_flush_lsn,omitempty"`
	Restart       string `json:"restart_lsn,omitempty"`
	Active        *bool  `json:"active,omitempty"`
}

// Totals are counts since the process started.
type Totals struct {
	Read         int64 `json:"changes_read"`
	Applied      int64 `json:"changes_applied"`
	Transactions int64 `json:"transactions_applied"`
	Batches      int64 `json:"batches"`
}

// Table is one table's changes since the process started, by operation.
type Table struct {
	Table   string           `json:"table"`
	Read    map[string]int64 `json:"read"`
	Applied map[string]int64 `json:"applied"`
}

// SnapshotRow is one table of the initial snapshot.
type SnapshotRow struct {
	Table    string  `json:"table"`
	Rows     int64   `json:"rows"`
	Estimate int64   `json:"estimate"` // -1: unknown
	Done     bool    `json:"done"`
	Rate     float64 `json:"rows_per_second,omitempty"`
	ETA      float64 `json:"eta_seconds,omitempty"`
}

// streamingGrace is how long after streaming starts a source that reports
// its reader as not connected is still taken as connecting.
const streamingGrace = 15 * time.Second

// Ready tells whether the pipeline is connected to source and target and
// neither failing nor retrying; reason says why not.
func (m *Metrics) Ready() (bool, string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.readyLocked(time.Now())
}

func (m *Metrics) readyLocked(now time.Time) (bool, string) {
	st := &m.st
	var why []string
	switch st.state {
	case pipeline.StateSnapshot, pipeline.StateStreaming:
	case pipeline.StateFailed:
		why = append(why, "pipeline failed: "+st.stateErr)
	case pipeline.StateRetrying:
		why = append(why, "pipeline retrying after: "+st.stateErr)
	default:
		why = append(why, "pipeline is "+string(st.state))
	}
	if st.reconnecting {
		why = append(why, "source connection lost; reconnecting")
	}
	if st.sourceErr != "" {
		why = append(why, "source unreachable: "+st.sourceErr)
	} else if st.hasLog && st.state == pipeline.StateStreaming && now.Sub(st.since) > streamingGrace {
		switch {
		case st.log.SlotStatus == "lost" || st.log.SlotStatus == "missing":
			why = append(why, "replication slot is "+st.log.SlotStatus)
		case st.log.Purged:
			why = append(why, "the source purged the binlog the checkpoint needs")
		case st.log.Reading == pipeline.ReadingIdle:
			why = append(why, "source does not see the log reader connected")
		}
	}
	if st.sinkErr != "" {
		why = append(why, "target unreachable: "+st.sinkErr)
	}
	if len(why) > 0 {
		return false, strings.Join(why, "; ")
	}
	return true, ""
}

// Status returns the current status.
func (m *Metrics) Status() Status {
	now := time.Now()
	lag := m.lag.age(now)
	m.mu.Lock()
	defer m.mu.Unlock()
	st := &m.st
	s := Status{
		Pipeline: m.info.Pipeline, Version: m.info.Version,
		State: string(st.state), StateError: st.stateErr, Since: st.since,
		Uptime: now.Sub(m.start).Seconds(),
		Source: Endpoint{Kind: m.info.SourceKind, Address: m.info.Source, Error: st.sourceErr},
		Sink:   Endpoint{Kind: m.info.SinkKind, Address: m.info.Sink, Error: st.sinkErr},
		Origin: "process",
		Lag:    Lag{Seconds: ptr(lag.Seconds())},
		Totals: Totals{Transactions: st.txns, Batches: st.batches},
	}
	s.Ready, s.Reason = m.readyLocked(now)
	if !st.probedAt.IsZero() {
		s.Source.Reachable = ptr(st.sourceErr == "")
	}
	if st.sinkProbed {
		s.Sink.Reachable = ptr(st.sinkErr == "")
	}
	s.Position.Applied = text(st.applied)
	if !st.appliedCommit.IsZero() {
		s.Position.AppliedCommit = ptr(st.appliedCommit)
	}
	s.Position.Acked = text(st.acked)
	s.Position.Checkpoint = text(st.checkpoint)
	if !st.savedAt.IsZero() {
		s.Position.SavedAt = ptr(st.savedAt)
	}
	if st.hasLog {
		s.setLog(st.log, m.info.Slot)
	}
	byTable := map[change.TableID]*Table{}
	var ids []change.TableID
	for k, tc := range m.tables {
		t := byTable[k.table]
		if t == nil {
			t = &Table{Table: k.table.String(), Read: map[string]int64{}, Applied: map[string]int64{}}
			byTable[k.table] = t
			ids = append(ids, k.table)
		}
		t.Read[k.op.String()] += tc.nRead
		t.Applied[k.op.String()] += tc.nApplied
		s.Totals.Read += tc.nRead
		s.Totals.Applied += tc.nApplied
	}
	slices.SortFunc(ids, func(a, b change.TableID) int { return strings.Compare(a.String(), b.String()) })
	s.Tables = make([]Table, 0, len(ids))
	for _, id := range ids {
		s.Tables = append(s.Tables, *byTable[id])
	}
	for _, id := range st.snapOrder {
		t := st.snapshot[id]
		row := SnapshotRow{Table: id.String(), Rows: t.rows, Estimate: t.estimate, Done: t.done}
		if !t.started.IsZero() {
			end := now
			if t.done {
				end = t.ended
			}
			if d := end.Sub(t.started).Seconds(); d > 0 {
				row.Rate = float64(t.rows) / d
			}
			if !t.done && row.Rate > 0 && t.estimate > t.rows {
				row.ETA = float64(t.estimate-t.rows) / row.Rate
			}
		}
		s.Snapshot = append(s.Snapshot, row)
	}
	s.Backfills = append([]BackfillRow(nil), st.backfills...)
	s.Errors, s.Retries = intMap(st.errors), intMap(st.retries)
	if st.lastErr.Kind != "" {
		e := st.lastErr
		s.LastError = &e
	}
	return s
}

func text(p change.Position) string {
	if p == nil {
		return ""
	}
	return p.String()
}

func ptr[T any](v T) *T { return &v }

func intMap(m map[string]int64) map[string]int {
	if len(m) == 0 {
		return nil
	}
	out := make(map[string]int, len(m))
	for k, v := range m {
		out[k] = int(v)
	}
	return out
}
