package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"
)

// myWorkload is one kind of MariaDB load; each run writes ids lo..hi,
// disjoint from every other run.
type myWorkload struct {
	name    string
	rows    int64
	runs    int
	timeout time.Duration // per run, for the load and both targets to complete
	load    func(ctx context.Context, e *myEnv, lo, hi int64) error
	what    string // for the settings list
}

func myWorkloads(o options) []myWorkload {
	// small first, as in the PostgreSQL comparison, so its memory peak is
	// not what a bulk run left behind.
	return []myWorkload{
		{name: "small", rows: o.mySmallRows, runs: o.runs, timeout: 6 * time.Minute, load: mySmallLoad,
			what: fmt.Sprintf("%s single-row transactions (autocommit INSERTs) from %d connections", thousands(o.mySmallRows), writers)},
		{name: "bulk", rows: o.myBulkRows, runs: o.runs, timeout: 6 * time.Minute, load: myBulkLoad,
			what: fmt.Sprintf("%s rows (~150 B) in ONE transaction: INSERT ... SELECT FROM seq_<lo>_to_<hi> (Sequence engine)", thousands(o.myBulkRows))},
	}
}

// myBulkLoad inserts lo..hi in one statement, so one transaction.
func myBulkLoad(ctx context.Context, e *myEnv, lo, hi int64) error {
	q := fmt.Sprintf(`INSERT INTO bench_rows SELECT seq, seq %% 100, REPEAT('x', 100), seq * 1.5, NOW(6) FROM seq_%d_to_%d`, lo, hi)
	_, err := e.srcConns[0].ExecContext(ctx, q)
	return err
}

// mySmallLoad inserts lo..hi one row per transaction from several
// connections; connection w writes lo+w, lo+w+writers, ...
func mySmallLoad(ctx context.Context, e *myEnv, lo, hi int64) error {
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

// runAll runs every workload, checks the targets after every run and at
// the end, and returns the report.
func (e *myEnv) runAll(ctx context.Context) (*myReport, error) {
	rep := &myReport{env: e}
	next := int64(1) // id 0 is the warm-up row
	for _, w := range myWorkloads(e.opts) {
		rep.workloads = append(rep.workloads, w)
		var rs []runResult
		for i := range w.runs {
			lo, hi := next, next+w.rows-1
			next = hi + 1
			step(fmt.Sprintf("mariadb %s run %d/%d: ids %d..%d", w.name, i+1, w.runs, lo, hi))
			r, err := e.runOnce(ctx, w, lo, hi)
			if err != nil {
				return nil, fmt.Errorf("mariadb %s run %d: %w", w.name, i+1, err)
			}
			fmt.Printf("          load %.2fs  native %.2fs  sluice %.2fs  ratio %.2f  sluice peak RSS %.1f MB\n"+
				"          (CPU used in the run: sluice %.2fs, sluice's target server %.2fs, native replica server %.2fs;\n"+
				"           applying thread: sluice's target connection %.2fs, native SQL thread %.2fs)\n",
				r.load.Seconds(), r.native.Seconds(), r.sluice.Seconds(), ratio(r), mb(r.rssKB),
				r.cpu.Seconds(), r.sluSrvCPU.Seconds(), r.natSrvCPU.Seconds(), r.sluApply.Seconds(), r.natApply.Seconds())
			if err := e.verify(ctx, fmt.Sprintf("id BETWEEN %d AND %d", lo, hi)); err != nil {
				return nil, fmt.Errorf("mariadb %s run %d: %w", w.name, i+1, err)
			}
			rs = append(rs, r)
		}
		rep.results = append(rep.results, rs)
	}
	step("final check: every target equals the source (count, checksum over all rows)")
	if err := e.verify(ctx, "TRUE"); err != nil {
		return nil, err
	}
	// Sluice must not have won by changing the target's settings.
	if after, err := e.checkTargetsAlike(ctx); err != nil {
		return nil, err
	} else if after != e.tgtSettings {
		return nil, fmt.Errorf("the targets' settings changed during the run:\n  before: %s\n  after:  %s", e.tgtSettings, after)
	}
	rep.verified = true
	rep.lifetimeRSSKB = e.rss.lifetime()
	rep.logSummary = summarizeLog(e.logPath)
	return rep, nil
}

// runOnce starts the load and polls both targets until each holds every
// row of lo..hi; times are from the start of the load.
func (e *myEnv) runOnce(ctx context.Context, w myWorkload, lo, hi int64) (runResult, error) {
	var r runResult
	ctx, cancel := context.WithTimeout(ctx, w.timeout)
	defer cancel()
	e.rss.reset()
	cpu0 := cpuTime(e.proc.pid())
	nat0, slu0 := cpuTime(e.nat.Pid()), cpuTime(e.slu.Pid())
	natT0, sluT0 := threadTimes(e.nat.Pid()), threadTimes(e.slu.Pid())
	g, gctx := errgroup.WithContext(ctx)
	t0 := time.Now()
	g.Go(func() error {
		err := w.load(gctx, e, lo, hi)
		r.load = time.Since(t0)
		if err != nil {
			return fmt.Errorf("load: %w", err)
		}
		return nil
	})
	g.Go(func() (err error) {
		r.native, err = e.waitComplete(gctx, "native", e.natConn, t0, lo, hi)
		return err
	})
	g.Go(func() (err error) {
		r.sluice, err = e.waitComplete(gctx, "sluice", e.sluConn, t0, lo, hi)
		return err
	})
	err := g.Wait()
	r.rssKB = e.rss.peak()
	r.cpu = cpuTime(e.proc.pid()) - cpu0
	r.natSrvCPU, r.sluSrvCPU = cpuTime(e.nat.Pid())-nat0, cpuTime(e.slu.Pid())-slu0
	r.natApply, r.sluApply = busiestThread(natT0, threadTimes(e.nat.Pid())), busiestThread(sluT0, threadTimes(e.slu.Pid()))
	if err != nil && errors.Is(ctx.Err(), context.DeadlineExceeded) {
		err = fmt.Errorf("%w (per-run limit %v)", err, w.timeout)
	}
	return r, err
}

// waitComplete polls a target until it holds all of lo..hi and returns how
// long after t0 it was first seen complete. Like the PostgreSQL side, each
// poll first probes the highest ids (the last of every writer; both
// replicators apply in source commit order) and only then counts the
// range. The native replica's threads are checked about once a second, so
// a stopped replica fails the run at once.
func (e *myEnv) waitComplete(ctx context.Context, name string, conn *sql.Conn, t0 time.Time, lo, hi int64) (time.Duration, error) {
	var ids []string
	for id := hi; id >= lo && id > hi-writers; id-- {
		ids = append(ids, fmt.Sprint(id))
	}
	probe := `SELECT COUNT(*) FROM bench_rows WHERE id IN (` + strings.Join(ids, ",") + `)`
	want := hi - lo + 1
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	for polls := 1; ; polls++ {
		at := time.Now()
		var n int
		if err := conn.QueryRowContext(ctx, probe).Scan(&n); err != nil {
			return 0, e.notComplete(ctx, name, conn, lo, hi, err)
		}
		if n == len(ids) {
			var have int64
			if err := conn.QueryRowContext(ctx, `SELECT COUNT(*) FROM bench_rows WHERE id BETWEEN ? AND ?`, lo, hi).Scan(&have); err != nil {
				return 0, e.notComplete(ctx, name, conn, lo, hi, err)
			}
			if have == want {
				return at.Sub(t0), nil
			}
		}
		switch {
		case name == "sluice":
			if err := e.proc.exited(); err != nil {
				return 0, err
			}
		case polls%50 == 0:
			st, err := slaveStatus(ctx, conn)
			if err == nil {
				err = replicaBroken(st)
			}
			if err != nil {
				return 0, e.notComplete(ctx, name, conn, lo, hi, err)
			}
		}
		select {
		case <-ctx.Done():
			return 0, e.notComplete(ctx, name, conn, lo, hi, ctx.Err())
		case <-tick.C:
		}
	}
}

// notComplete describes a target that did not complete, with its row count.
func (e *myEnv) notComplete(ctx context.Context, name string, conn *sql.Conn, lo, hi int64, err error) error {
	if errors.Is(err, context.Canceled) && ctx.Err() != nil && !errors.Is(context.Cause(ctx), context.DeadlineExceeded) {
		return err // another part of the run failed first
	}
	cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var have int64
	if cerr := conn.QueryRowContext(cctx, `SELECT COUNT(*) FROM bench_rows WHERE id BETWEEN ? AND ?`, lo, hi).Scan(&have); cerr != nil {
		return fmt.Errorf("%s target: %w", name, err)
	}
	return fmt.Errorf("%s target holds %d of the %d rows: %w", name, have, hi-lo+1, err)
}

// myChecksum is an order-independent checksum of every column of the rows
// matching a condition: the sum of the first 60 bits of each row's MD5
// (summed exactly as DECIMAL), next to the row count.
const myChecksum = `SELECT COUNT(*), COALESCE(SUM(CAST(CONV(LEFT(MD5(CONCAT_WS('|', id, k, payload, amount, created)), 15), 16, 10) AS UNSIGNED)), 0) FROM bench_rows WHERE `

// verify compares count and checksum of the rows matching where on all
// three servers.
func (e *myEnv) verify(ctx context.Context, where string) error {
	type sum struct {
		n   int64
		sum string
	}
	var got [3]sum
	conns := []*sql.Conn{e.srcConns[0], e.natConn, e.sluConn}
	g, gctx := errgroup.WithContext(ctx)
	for i, c := range conns {
		g.Go(func() error { return c.QueryRowContext(gctx, myChecksum+where).Scan(&got[i].n, &got[i].sum) })
	}
	if err := g.Wait(); err != nil {
		return fmt.Errorf("verify: %w", err)
	}
	for i, name := range []string{"native", "sluice"} {
		if got[i+1] != got[0] {
			return fmt.Errorf("verify (%s): %s target differs from the source: %d rows checksum %s, source %d rows checksum %s",
				where, name, got[i+1].n, got[i+1].sum, got[0].n, got[0].sum)
		}
	}
	fmt.Printf("          verified (%s): %d rows, checksum %s equal on source, native replica and sluice target\n", where, got[0].n, got[0].sum)
	return nil
}

// thousands formats n with thousands separators: 30000 → "30,000".
func thousands(n int64) string {
	s := fmt.Sprint(n)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}
