package main

import (
	"context"
	"strings"
	"testing"
	"time"
)

// TestSlotWALWarning: while the target is down the slot holds WAL; once it
// holds more than max_wal_size (wal_status extended) Sluice warns, in the
// log and in the metric's label, and after the target is back the target
// ends equal to the source.
func TestSlotWALWarning(t *testing.T) {
	t.Parallel()
	e := newEnvWith(t, "", map[string]string{"max_wal_size": "32MB", "min_wal_size": "32MB"})
	base := e.withHTTP()
	e.srcExec(`CREATE TABLE pad (id int PRIMARY KEY, v text)`)
	p := e.start()
	e.waitEqual(60*time.Second, p, "pad")
	if err := e.dst.Stop(); err != nil {
		t.Fatal(err)
	}
	e.srcExec(`INSERT INTO pad SELECT g, repeat(md5(g::text), 40) FROM generate_series(1, 60000) g; CHECKPOINT`)
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(p.logText(), "retains WAL beyond max_wal_size") {
		if time.Now().After(deadline) {
			st, _ := e.src.QueryValue(context.Background(), "app", "SELECT wal_status FROM pg_replication_slots")
			t.Fatalf("no warning about the slot's WAL (wal_status %s); log:\n%s", st, tail(p.logText(), 3000))
		}
		time.Sleep(500 * time.Millisecond)
	}
	if _, body := get(t, base+"/metrics"); !strings.Contains(body, `sluice_slot_retained_wal_bytes{pipeline="test",wal_status="extended"}`) {
		t.Errorf("/metrics does not show wal_status extended")
	}
	if err := e.dst.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	e.waitEqual(90*time.Second, p, "pad")
	p.stop(t)
}
