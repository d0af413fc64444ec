package main

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"
)

// TestIdleSlotAdvances: while only tables Sluice does not replicate change
// (another schema, another database of the same server), the slot's
// confirmed_flush_lsn follows the server's WAL end, so the slot holds no
// more WAL than a few keepalive intervals' worth.
func TestIdleSlotAdvances(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "")
	ctx := context.Background()
	e.srcExec(`CREATE TABLE t (id int PRIMARY KEY); CREATE SCHEMA other; CREATE TABLE other.x (id serial PRIMARY KEY, v text);
		INSERT INTO t VALUES (1)`)
	if err := e.src.CreateDB(ctx, "elsewhere"); err != nil {
		t.Fatal(err)
	}
	if err := e.src.Exec(ctx, "elsewhere", "CREATE TABLE y (id serial PRIMARY KEY, v text)"); err != nil {
		t.Fatal(err)
	}
	p := e.start()
	e.waitEqual(60*time.Second, p, "t")
	lsn := func(q string) uint64 {
		t.Helper()
		v, err := e.src.QueryValue(ctx, "app", "SELECT ("+q+" - '0/0')::bigint")
		if err != nil {
			t.Fatal(err)
		}
		n, _ := strconv.ParseUint(v, 10, 64)
		return n
	}
	start := lsn("pg_current_wal_lsn()")
	for i := 0; i < 20; i++ { // about 10 s of unselected traffic
		e.srcExec(fmt.Sprintf("INSERT INTO other.x (v) SELECT repeat('o', 200) FROM generate_series(1, %d)", 200+i))
		if err := e.src.Exec(ctx, "elsewhere", "INSERT INTO y (v) SELECT repeat('e', 200) FROM generate_series(1, 200)"); err != nil {
			t.Fatal(err)
		}
		time.Sleep(500 * time.Millisecond)
	}
	end := lsn("pg_current_wal_lsn()")
	var confirmed uint64
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(time.Second) {
		confirmed = lsn("(SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = 'sluice_test')")
		if confirmed >= end {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the slot's confirmed_flush_lsn stayed %d bytes behind the WAL end (the unselected writes made %d bytes)", end-confirmed, end-start)
		}
	}
	t.Logf("unselected writes made %d bytes of WAL; the slot followed to the WAL end", end-start)
	// The target recorded the position before the slot was told: it is
	// never behind the slot, so a restart does not take it for a target
	// that lost commits.
	v, err := e.dst.QueryValue(ctx, "dwh", "SELECT (position::pg_lsn - '0/0')::bigint FROM sluice.positions WHERE pipeline = 'test'")
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := strconv.ParseUint(v, 10, 64); n < confirmed {
		t.Fatalf("the target's position %d is behind the slot's confirmed_flush_lsn %d", n, confirmed)
	}
	// The replicated table still flows, also after a restart.
	e.srcExec("INSERT INTO t VALUES (2)")
	e.waitEqual(30*time.Second, p, "t")
	p.stop(t)
	p = e.start()
	e.srcExec("INSERT INTO t VALUES (3)")
	e.waitEqual(30*time.Second, p, "t")
	p.stop(t)
}
