package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"
)

func (e *myEngine) workloads() []workload {
	o := e.opts
	ws := []workload{
		{name: "bulk", rows: o.myBulkRows, runs: o.runs, mode: live, table: "bench_rows", timeout: 6 * time.Minute, load: e.bulkLoad,
			what: fmt.Sprintf("%s rows (~150 B) in ONE transaction: INSERT ... SELECT FROM seq_<lo>_to_<hi> (Sequence engine)", thousands(o.myBulkRows))},
		{name: "small", rows: o.mySmallRows, runs: o.runs, mode: live, table: "bench_rows", timeout: 6 * time.Minute, load: e.smallLoad,
			what: fmt.Sprintf("%s single-row transactions (autocommit INSERTs) from %d connections", thousands(o.mySmallRows), writers)},
	}
	return onlyWorkloads(ws, o.only)
}

// bulkLoad inserts lo..hi in one statement, so one transaction.
func (e *myEngine) bulkLoad(ctx context.Context, lo, hi int64) error {
	q := fmt.Sprintf(`INSERT INTO bench_rows SELECT seq, seq %% 100, REPEAT('x', 100), seq * 1.5, NOW(6) FROM seq_%d_to_%d`, lo, hi)
	_, err := e.srcConns[0].ExecContext(ctx, q)
	return err
}

// smallLoad inserts lo..hi one row per transaction from several
// connections; connection w writes lo+w, lo+w+writers, ...
func (e *myEngine) smallLoad(ctx context.Context, lo, hi int64) error {
	const q = `INSERT INTO bench_rows VALUES (?, ? % 100, REPEAT('x', 100), ? * 1.5, NOW(6))`
	g, ctx := errgroup.WithContext(ctx)
	for w, conn := range e.srcConns {
		g.Go(func() error {
			for id := lo + int64(w); id <= hi; id += int64(len(e.srcConns)) {
				if _, err := conn.ExecContext(ctx, q, id, id, id); err != nil {
					return err
				}
			}
			return nil
		})
	}
	return g.Wait()
}

// newLeg empties the target table and makes the replicator for it.
func (e *myEngine) newLeg(ctx context.Context, s side, w workload, n int) (replica, error) {
	if _, err := e.tgtConn.ExecContext(ctx, "TRUNCATE TABLE "+w.table); err != nil {
		return nil, fmt.Errorf("empty the target: %w", err)
	}
	t := &myTarget{e: e, table: w.table}
	if s == native {
		return &myNative{myTarget: t}, nil
	}
	name := fmt.Sprintf("bench_s%d", n)
	cfg := fmt.Sprintf(`name: %s
source:
  kind: mysql
  dsn: %s
  tables: ["%s.*"]
  snapshot: never
  mysql:
    server_id: %d
sink:
  kind: mysql
  dsn: %s
checkpoint:
  path: %s
log:
  level: %s
`, name, e.src.DSN(myDBName), myDBName, mySluiceServerID, e.tgt.DSN(""),
		filepath.Join(e.dir, name+".checkpoint"), e.opts.logLevel)
	cfgPath := filepath.Join(e.dir, name+".yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		return nil, err
	}
	return &mySluice{myTarget: t, run: &sluiceRun{bin: e.bin, cfgPath: cfgPath, logPath: e.log}}, nil
}

// myTarget is the target table of a leg.
type myTarget struct {
	e     *myEngine
	table string
}

func (t *myTarget) complete(ctx context.Context, ids []int64, lo, hi int64) (bool, error) {
	var in []string
	for _, id := range ids {
		in = append(in, fmt.Sprint(id))
	}
	var n int64
	q := `SELECT COUNT(*) FROM ` + t.table + ` WHERE id IN (` + strings.Join(in, ",") + `)`
	if err := t.e.tgtConn.QueryRowContext(ctx, q).Scan(&n); err != nil {
		return false, err
	}
	if n < int64(len(ids)) {
		return false, nil
	}
	err := t.e.tgtConn.QueryRowContext(ctx, `SELECT COUNT(*) FROM `+t.table+` WHERE id BETWEEN ? AND ?`, lo, hi).Scan(&n)
	return n == hi-lo+1, err
}

// myChecksum is an order-independent checksum of every column of the rows
// matching a condition: the sum of the first 60 bits of each row's MD5
// (summed exactly as DECIMAL), next to the row count.
const myChecksum = `SELECT COUNT(*), COALESCE(SUM(CAST(CONV(LEFT(MD5(CONCAT_WS('|', id, k, payload, amount, created)), 15), 16, 10) AS UNSIGNED)), 0) FROM %s WHERE %s`

// verify compares the whole target table with the source's rows lo..hi
// and warm.
func (t *myTarget) verify(ctx context.Context, lo, hi, warm int64) error {
	var sn, tn int64
	var ss, ts string
	where := fmt.Sprintf("id BETWEEN %d AND %d OR id = %d", lo, hi, warm)
	if err := t.e.srcConns[0].QueryRowContext(ctx, fmt.Sprintf(myChecksum, t.table, where)).Scan(&sn, &ss); err != nil {
		return fmt.Errorf("verify: source: %w", err)
	}
	if err := t.e.tgtConn.QueryRowContext(ctx, fmt.Sprintf(myChecksum, t.table, "TRUE")).Scan(&tn, &ts); err != nil {
		return fmt.Errorf("verify: target: %w", err)
	}
	if sn != tn || ss != ts {
		return fmt.Errorf("verify: the target differs from the source: %d rows checksum %s, source (%s) %d rows checksum %s",
			tn, ts, where, sn, ss)
	}
	fmt.Printf("          verified: target = source (%s): %d rows, checksum %s\n", where, sn, ss)
	return nil
}

// myNative is the target server's GTID replica of the source, from the
// source's position when the leg starts.
type myNative struct {
	*myTarget
	created bool
}

func (n *myNative) start(ctx context.Context) error {
	if n.created {
		return n.e.tgt.Exec(ctx, "START SLAVE")
	}
	pos, err := n.e.src.QueryValue(ctx, "SELECT @@GLOBAL.gtid_binlog_pos")
	if err != nil {
		return err
	}
	if err := n.e.tgt.Exec(ctx, fmt.Sprintf("STOP SLAVE; RESET SLAVE ALL; SET GLOBAL gtid_slave_pos = '%s'; %s; START SLAVE",
		pos, n.e.nativeChannel())); err != nil {
		return fmt.Errorf("native replica: %w", err)
	}
	n.created = true
	return nil
}

func (n *myNative) pause(ctx context.Context) error { return n.e.tgt.Exec(ctx, "STOP SLAVE") }

func (n *myNative) alive(ctx context.Context) error {
	st, err := slaveStatus(ctx, n.e.tgtConn)
	if err != nil {
		return err
	}
	// Connecting takes a moment; only a stopped thread with an error is final.
	if st["Last_IO_Errno"] != "0" || st["Last_SQL_Errno"] != "0" {
		return replicaBroken(st)
	}
	return nil
}

func (n *myNative) sluice() *sluiceRun { return nil }

func (n *myNative) close(ctx context.Context) error {
	return n.e.tgt.Exec(ctx, "STOP SLAVE; RESET SLAVE ALL")
}

// mySluice is a sluice pipeline of its own.
type mySluice struct {
	*myTarget
	run *sluiceRun
}

func (s *mySluice) start(ctx context.Context) error { return s.run.start(ctx, true) }
func (s *mySluice) pause(context.Context) error     { return s.run.stop() }
func (s *mySluice) sluice() *sluiceRun              { return s.run }
func (s *mySluice) close(context.Context) error     { return s.run.stop() }

func (s *mySluice) alive(context.Context) error {
	if s.run.p == nil {
		return nil
	}
	return s.run.p.exited()
}
