package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// pgTarget is a leg's fresh target database.
type pgTarget struct {
	e     *pgEngine
	db    string
	table string
	conn  *pgx.Conn // polling and checks
}

func (t *pgTarget) complete(ctx context.Context, ids []int64, lo, hi int64) (bool, error) {
	var n int64
	if err := t.conn.QueryRow(ctx, `SELECT count(*) FROM `+t.table+` WHERE id = ANY($1)`, ids).Scan(&n); err != nil {
		return false, err
	}
	if n < int64(len(ids)) {
		return false, nil
	}
	err := t.conn.QueryRow(ctx, `SELECT count(*) FROM `+t.table+` WHERE id BETWEEN $1 AND $2`, lo, hi).Scan(&n)
	return n == hi-lo+1, err
}

// pgChecksum is an order-independent checksum of every column of the rows
// of a table matching a condition: the sum of the first 60 bits of each
// row's md5, summed exactly as numeric, next to the row count. Both sides
// read in UTC (pgConnect), so timestamps have the same text.
const pgChecksum = `SELECT count(*), coalesce(sum(('x' || left(md5(t::text), 15))::bit(60)::bigint::numeric), 0)::text FROM %s t WHERE %s`

// verify compares the whole target table with the source's rows lo..hi
// and warm.
func (t *pgTarget) verify(ctx context.Context, lo, hi, warm int64) error {
	var sn, tn int64
	var ss, ts string
	where := fmt.Sprintf("id BETWEEN %d AND %d OR id = %d", lo, hi, warm)
	if err := t.e.srcConns[0].QueryRow(ctx, fmt.Sprintf(pgChecksum, t.table, where)).Scan(&sn, &ss); err != nil {
		return fmt.Errorf("verify: source: %w", err)
	}
	if err := t.conn.QueryRow(ctx, fmt.Sprintf(pgChecksum, t.table, "true")).Scan(&tn, &ts); err != nil {
		return fmt.Errorf("verify: target: %w", err)
	}
	if sn != tn || ss != ts {
		return fmt.Errorf("verify: the target differs from the source: %d rows checksum %s, source (%s) %d rows checksum %s",
			tn, ts, where, sn, ss)
	}
	fmt.Printf("          verified: target = source (%s): %d rows, checksum %s\n", where, sn, ss)
	return nil
}

// drop closes the connection and drops the database.
func (t *pgTarget) drop() error {
	if t.conn != nil {
		t.conn.Close(context.Background())
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	return t.e.tgt.Exec(ctx, "postgres", fmt.Sprintf(`DROP DATABASE IF EXISTS %s WITH (FORCE)`, t.db))
}

// waitSlot waits until a slot is (active) or is not (!active) in use by a
// walsender.
func (e *pgEngine) waitSlot(ctx context.Context, slot string, active bool) error {
	deadline := time.Now().Add(90 * time.Second)
	for {
		var now bool
		err := e.srcConns[0].QueryRow(ctx, `SELECT coalesce(bool_or(active), false) FROM pg_replication_slots WHERE slot_name = $1`, slot).Scan(&now)
		if err != nil {
			return err
		}
		if now == active {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("slot %s: active is not %v after 90s", slot, active)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// printSlotStats prints what the walsender did with the leg's transactions
// (pg_stat_replication_slots): how much it spilled to disk and how much it
// streamed before the commit. Diagnostic: the two replicators use the same
// output plugin, so a difference in walsender CPU shows here first.
func (e *pgEngine) printSlotStats(ctx context.Context, slot string) {
	var spillN, spillB, streamN, streamB, totalN, totalB int64
	err := e.srcConns[0].QueryRow(ctx, `SELECT spill_txns, spill_bytes, stream_txns, stream_bytes, total_txns, total_bytes
		FROM pg_stat_replication_slots WHERE slot_name = $1`, slot).Scan(&spillN, &spillB, &streamN, &streamB, &totalN, &totalB)
	if err != nil {
		return // no stats yet: nothing was decoded
	}
	fmt.Printf("          slot %s: decoded %d txns (%.1f MB), spilled %d (%.1f MB), streamed %d (%.1f MB)%s\n",
		slot, totalN, float64(totalB)/(1<<20), spillN, float64(spillB)/(1<<20), streamN, float64(streamB)/(1<<20), e.senderSwitches(ctx, slot))
}

// senderSwitches describes how often the slot's walsender slept (voluntary
// context switches: waiting for WAL, for a writable socket or for the
// client) over its life, or "" when it is gone.
func (e *pgEngine) senderSwitches(ctx context.Context, slot string) string {
	var pid int
	if err := e.srcConns[0].QueryRow(ctx, `SELECT coalesce(max(active_pid), 0) FROM pg_replication_slots WHERE slot_name = $1`, slot).Scan(&pid); err != nil || pid == 0 {
		return ""
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return ""
	}
	var vol, invol int64
	for _, l := range strings.Split(string(b), "\n") {
		fmt.Sscanf(l, "voluntary_ctxt_switches: %d", &vol)
		fmt.Sscanf(l, "nonvoluntary_ctxt_switches: %d", &invol)
	}
	return fmt.Sprintf("; its walsender: %.2f CPU s, %d voluntary and %d involuntary context switches", cpuTime(pid).Seconds(), vol, invol)
}

// pgNative is a subscription: CREATE SUBSCRIPTION creates its slot at
// once, so a change committed after it returns is replicated.
type pgNative struct {
	*pgTarget
	sub, pub string
	copy     bool
	created  bool
}

func (n *pgNative) start(ctx context.Context) error {
	if n.created {
		return n.e.tgt.Exec(ctx, n.db, "ALTER SUBSCRIPTION "+n.sub+" ENABLE")
	}
	conninfo := fmt.Sprintf("host=127.0.0.1 port=%d dbname=%s user=postgres", n.e.src.Port, dbName)
	err := n.e.tgt.Exec(ctx, n.db, fmt.Sprintf(`CREATE SUBSCRIPTION %s CONNECTION '%s' PUBLICATION %s WITH (copy_data = %v, streaming = on)`,
		n.sub, conninfo, n.pub, n.copy))
	n.created = err == nil
	return err
}

func (n *pgNative) pause(ctx context.Context) error {
	if err := n.e.tgt.Exec(ctx, n.db, "ALTER SUBSCRIPTION "+n.sub+" DISABLE"); err != nil {
		return err
	}
	return n.e.waitSlot(ctx, n.sub, false)
}

func (n *pgNative) alive(context.Context) error { return nil }
func (n *pgNative) sluice() *sluiceRun          { return nil }

func (n *pgNative) close(ctx context.Context) error {
	var err error
	if n.created { // drops the slot on the source too
		n.e.printSlotStats(ctx, n.sub)
		err = n.e.tgt.Exec(ctx, n.db, "DROP SUBSCRIPTION "+n.sub)
	}
	if derr := n.drop(); err == nil {
		err = derr
	}
	return err
}

// pgSluice is a sluice pipeline of its own (slot and publication
// sluice_<name>).
type pgSluice struct {
	*pgTarget
	name string
	run  *sluiceRun
	copy bool
}

func (s *pgSluice) start(ctx context.Context) error {
	// A copy is timed from the start: nothing to wait for.
	return s.run.start(ctx, !s.copy)
}

func (s *pgSluice) pause(ctx context.Context) error {
	if err := s.run.stop(); err != nil {
		return err
	}
	return s.e.waitSlot(ctx, "sluice_"+s.name, false)
}

func (s *pgSluice) alive(context.Context) error {
	if s.run.p == nil {
		return nil
	}
	return s.run.p.exited()
}

func (s *pgSluice) sluice() *sluiceRun { return s.run }

func (s *pgSluice) close(ctx context.Context) error {
	s.e.printSlotStats(ctx, "sluice_"+s.name)
	err := s.run.stop()
	if err == nil {
		err = s.e.waitSlot(ctx, "sluice_"+s.name, false)
	}
	if _, derr := s.e.srcConns[0].Exec(ctx, `SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1`,
		"sluice_"+s.name); err == nil {
		err = derr
	}
	if _, derr := s.e.srcConns[0].Exec(ctx, `DROP PUBLICATION IF EXISTS sluice_`+s.name); err == nil {
		err = derr
	}
	if derr := s.drop(); err == nil {
		err = derr
	}
	return err
}
