package metrics

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/sluicecdc/sluice/pkg/change"
	"github.com/sluicecdc/sluice/pkg/pipeline"
)

type pos int

func (p pos) String() string { return fmt.Sprintf("0/%X", int(p)) }
func (p pos) Compare(o change.Position) int {
	q := o.(pos)
	switch {
	case p < q:
		return -1
	case p > q:
		return 1
	}
	return 0
}

var tbl = change.TableID{Schema: "public", Name: "t"}

func TestCountsAndLag(t *testing.T) {
	m := New(Info{Pipeline: "p1", SourceKind: "postgres", SinkKind: "postgres"})
	m.State(pipeline.StateStreaming, nil)
	old := time.Now().Add(-3 * time.Second)
	m.Read(pipeline.ReadInfo{Counts: []pipeline.Count{{Table: tbl, Op: change.Insert, N: 5}}, Position: pos(1), Commit: old})
	m.Read(pipeline.ReadInfo{Counts: []pipeline.Count{{Table: tbl, Op: change.Delete, N: 2}}, Position: pos(2), Commit: time.Now()})
	if lag := m.lag.age(time.Now()); lag < 3*time.Second || lag > 4*time.Second {
		t.Fatalf("lag with a 3 s old change waiting = %v", lag)
	}
	m.Flushed(pipeline.FlushInfo{Txns: 1, Changes: 5, Position: pos(1), Commit: old,
		Counts: []pipeline.Count{{Table: tbl, Op: change.Insert, N: 5}}})
	if lag := m.lag.age(time.Now()); lag > time.Second {
		t.Fatalf("lag after the old change was applied = %v, want the newer one's age", lag)
	}
	m.Flushed(pipeline.FlushInfo{Txns: 1, Changes: 2, Position: pos(2), Commit: time.Now(),
		Counts: []pipeline.Count{{Table: tbl, Op: change.Delete, N: 2}}})
	time.Sleep(10 * time.Millisecond)
	if lag := m.lag.age(time.Now()); lag != 0 {
		t.Fatalf("lag when caught up = %v, want 0 (an idle source must not show growing lag)", lag)
	}
	if got := testutil.ToFloat64(m.applied.WithLabelValues("public.t", "insert")); got != 5 {
		t.Fatalf("applied inserts = %v", got)
	}
	s := m.Status()
	if s.Totals.Read != 7 || s.Totals.Applied != 7 || s.Totals.Batches != 2 || len(s.Tables) != 1 || s.Tables[0].Applied["delete"] != 2 {
		t.Fatalf("status totals: %+v tables %+v", s.Totals, s.Tables)
	}
	m.Acked(pos(2), true)
	out, err := testutil.GatherAndCount(m.Registry(), "sluice_checkpoint_lsn", "sluice_checkpoint_position_info")
	if err != nil || out != 2 {
		t.Fatalf("checkpoint metrics: %d, %v", out, err)
	}
	if err := testutil.GatherAndCompare(m.Registry(), strings.NewReader(`
# HELP sluice_checkpoint_lsn The PostgreSQL LSN last saved in the checkpoint store, as a number.
# TYPE sluice_checkpoint_lsn gauge
sluice_checkpoint_lsn{pipeline="p1"} 2
`), "sluice_checkpoint_lsn"); err != nil {
		t.Fatal(err)
	}
}

func TestLagQueueGroupsAndCompacts(t *testing.T) {
	var l lagQueue
	base := time.Now().Add(-time.Hour)
	for i := range 10000 {
		l.push(pos(i), base.Add(time.Duration(i)*time.Millisecond))
	}
	if n := len(l.q); n > 10000/int(lagGrain/time.Millisecond)+1 {
		t.Fatalf("%d entries for 10 s of transactions; want them grouped", n)
	}
	l.pop(pos(4999))
	if age := time.Since(base.Add(5 * time.Second)); l.age(time.Now())-age > lagGrain {
		t.Fatalf("age %v, want about %v", l.age(time.Now()), age)
	}
	l.pop(pos(9999))
	if l.age(time.Now()) != 0 {
		t.Fatal("want 0 when everything is applied")
	}
	l.push(pos(10000), time.Now())
	if l.at != 0 || len(l.q) != 1 {
		t.Fatalf("an empty queue is reused: at=%d len=%d", l.at, len(l.q))
	}
}

func TestReady(t *testing.T) {
	m := New(Info{Pipeline: "p"})
	if ok, why := m.Ready(); ok || !strings.Contains(why, "starting") {
		t.Fatalf("ready while starting: %v %q", ok, why)
	}
	m.State(pipeline.StateStreaming, nil)
	m.SetSinkProbe(nil)
	m.SetLogStatus(pipeline.LogStatus{BehindBytes: 10, RetainedBytes: 20, SlotStatus: "reserved", Reading: pipeline.ReadingActive}, nil)
	if ok, why := m.Ready(); !ok {
		t.Fatalf("not ready: %s", why)
	}
	m.SetSinkProbe(errors.New("dial tcp 127.0.0.1:1: connection refused"))
	if ok, why := m.Ready(); ok || !strings.Contains(why, "target unreachable") {
		t.Fatalf("ready with the target down: %q", why)
	}
	m.SetSinkProbe(nil)
	m.SourceReconnecting(true)
	m.SourceReconnecting(true)
	if ok, why := m.Ready(); ok || !strings.Contains(why, "reconnecting") {
		t.Fatalf("ready while reconnecting: %q", why)
	}
	if got := testutil.ToFloat64(m.retries.WithLabelValues("source_reconnect")); got != 1 {
		t.Fatalf("one episode counts one retry, got %v", got)
	}
	m.SourceReconnecting(false)
	// A MySQL source that purged the checkpoint's binlog: not ready once
	// streaming has settled.
	m.SetLogStatus(pipeline.LogStatus{BehindBytes: -1, RetainedBytes: -1, Purged: true, Restart: "binlog.000009"}, nil)
	if ok, why := m.readyLocked(time.Now().Add(time.Minute)); ok || !strings.Contains(why, "purged the binlog the checkpoint needs") {
		t.Fatalf("ready with the checkpoint's binlog purged: %q", why)
	}
	m.SetLogStatus(pipeline.LogStatus{BehindBytes: 10, RetainedBytes: 20, SlotStatus: "reserved", Reading: pipeline.ReadingActive}, nil)
	m.State(pipeline.StateFailed, errors.New("flush to target: boom"))
	if ok, why := m.Ready(); ok || !strings.Contains(why, "boom") {
		t.Fatalf("ready after failing: %q", why)
	}
	if n, err := testutil.GatherAndCount(m.Registry(), "sluice_slot_retained_wal_bytes", "sluice_lag_bytes"); err != nil || n != 2 {
		t.Fatalf("log metrics: %d %v", n, err)
	}
	// Every sluice_ metric carries the pipeline label; the Go collectors are there.
	mfs, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	var goSeen bool
	for _, mf := range mfs {
		name := mf.GetName()
		goSeen = goSeen || strings.HasPrefix(name, "go_")
		if !strings.HasPrefix(name, "sluice_") {
			continue
		}
		for _, mt := range mf.GetMetric() {
			found := false
			for _, lp := range mt.GetLabel() {
				found = found || lp.GetName() == "pipeline" && lp.GetValue() == "p"
			}
			if !found {
				t.Fatalf("%s has no pipeline label", name)
			}
		}
	}
	if !goSeen {
		t.Fatal("no go_ runtime metrics")
	}
}

// BenchmarkRead is the cost per transaction the reader pays for metrics.
func BenchmarkRead(b *testing.B) {
	m := New(Info{Pipeline: "p"})
	counts := []pipeline.Count{{Table: tbl, Op: change.Insert, N: 1}}
	now := time.Now()
	for i := 0; b.Loop(); i++ {
		m.Read(pipeline.ReadInfo{Counts: counts, Position: pos(i), Commit: now})
		if i%100 == 99 {
			m.Flushed(pipeline.FlushInfo{Txns: 100, Position: pos(i), Counts: counts})
		}
	}
}

// A sink's own metrics appear with the pipeline's, labelled, and follow
// the sink of the current attempt.
func TestSinkCollector(t *testing.T) {
	m := New(Info{Pipeline: "p"})
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: "sluice_sink_records_total", Help: "test"})
	c.Add(3)
	m.SetSinkCollector(c)
	if err := testutil.GatherAndCompare(m.Registry(), strings.NewReader(`
# HELP sluice_sink_records_total test
# TYPE sluice_sink_records_total counter
sluice_sink_records_total{pipeline="p"} 3
`), "sluice_sink_records_total"); err != nil {
		t.Fatal(err)
	}
	m.SetSinkCollector(nil)
	if n, err := testutil.GatherAndCount(m.Registry(), "sluice_sink_records_total"); err != nil || n != 0 {
		t.Fatalf("the sink's counter is still exported after the sink went away (%d, %v)", n, err)
	}
}
