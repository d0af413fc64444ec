package metrics

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/sluicecdc/sluice/pkg/pipeline"
)

// TestWriteText: the offline status names its origin, the checkpoint, the
// lag in bytes and the slot; a process status its readiness and totals.
func TestWriteText(t *testing.T) {
	s := Status{Pipeline: "p", Origin: "checkpoint", State: "unknown", Source: Endpoint{Kind: "postgres", Address: "db:5432", Reachable: ptr(true)},
		Sink: Endpoint{Kind: "mysql", Address: "dwh:3306", Reachable: ptr(false), Error: "refused"}}
	s.Position.Checkpoint = "0/16"
	s.SetOfflineLog(pipeline.LogStatus{Head: "0/20", BehindBytes: 2048, RetainedBytes: 4096, SlotStatus: "extended", Reading: pipeline.ReadingIdle}, "sluice_p")
	var b bytes.Buffer
	WriteText(&b, s)
	for _, want := range []string{"p (from the checkpoint file and the source)", "not running (no reader on the slot)", "db:5432 (reachable)",
		"dwh:3306 (UNREACHABLE: refused)", "checkpoint   0/16", "2.0 KiB of log", "sluice_p wal_status=extended inactive, retains 4.0 KiB of WAL"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("no %q in\n%s", want, b.String())
		}
	}
	p := Status{Pipeline: "p", Origin: "process", State: "streaming", Since: time.Now(), Reason: "target unreachable: x",
		Errors: map[string]int{"sink": 2, "source": 1}, Backfills: []BackfillRow{{Table: "public.t", Rows: 5, Done: true}}}
	b.Reset()
	WriteText(&b, p)
	for _, want := range []string{"NOT READY: target unreachable: x", "0 changes read", "sink=2 source=1", "back-fills", "public.t  5 rows, done"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("no %q in\n%s", want, b.String())
		}
	}
}

// TestLogWatch: a slot's wal_status is logged when it worsens or recovers,
// once; a purged binlog once until it is back.
func TestLogWatch(t *testing.T) {
	var b bytes.Buffer
	log := zerolog.New(&b)
	var w LogWatch
	for _, st := range []string{"reserved", "extended", "extended", "unreserved", "reserved", "lost"} {
		w.See(log, pipeline.LogStatus{SlotStatus: st})
	}
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if len(lines) != 4 || !strings.Contains(lines[0], "beyond max_wal_size") || !strings.Contains(lines[2], "back within") || !strings.Contains(lines[3], `"level":"error"`) {
		t.Errorf("slot warnings:\n%s", b.String())
	}
	b.Reset()
	for _, p := range []bool{true, true, false, true} {
		w.See(log, pipeline.LogStatus{Purged: p, Restart: "bin.000042"})
	}
	if n := strings.Count(b.String(), "purged the binlog"); n != 2 {
		t.Errorf("%d purge errors, want 2:\n%s", n, b.String())
	}
}
