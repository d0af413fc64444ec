package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"golang.org/x/sync/errgroup"
)

// pollInterval is how often each target is asked whether it is complete.
const pollInterval = 20 * time.Millisecond

// workload is one kind of load; each run writes ids lo..hi, disjoint from
// every other run.
type workload struct {
	name    string
	rows    int64
	runs    int
	timeout time.Duration // per run, for the load and both targets to complete
	load    func(ctx context.Context, e *env, lo, hi int64) error
	what    string // for the settings list
}

func workloads(o options) []workload {
	// small runs first, so its memory peak is not the memory a bulk run
	// left behind (the Go runtime returns freed memory to the OS lazily);
	// the report lists them in the usual order.
	ws := []workload{
		{name: "small", rows: 30_000, runs: o.runs, timeout: 4 * time.Minute, load: smallLoad,
			what: fmt.Sprintf("30,000 single-row transactions (autocommit INSERTs) from %d connections", writers)},
		{name: "bulk", rows: 300_000, runs: o.runs, timeout: 4 * time.Minute, load: bulkLoad(100, "x"),
			what: "300,000 rows (~150 B) in ONE transaction: INSERT ... SELECT FROM generate_series"},
	}
	if o.large {
		ws = append(ws, workload{name: "large", rows: 1_000_000, runs: 1, timeout: 8 * time.Minute, load: bulkLoad(500, "y"),
			what: "1,000,000 wide rows (~560 B, payload repeat('y', 500)) in ONE transaction, 1 run"},
			workload{name: "open", rows: openRunning + openOthers, runs: 1, timeout: 10 * time.Minute, load: openLoad,
				what: fmt.Sprintf("a transaction of %s wide rows (streamed while it runs) kept open while %s wide rows (~%d MB) "+
					"commit in %d-row transactions from %d connections, then it commits; 1 run (sluice's RSS must stay under 256 MB)",
					thousands(openRunning), thousands(openOthers), openOthers*560>>20, openChunk, writers-1)})
	}
	if o.only != "" {
		ws = slices.DeleteFunc(ws, func(w workload) bool { return w.name != o.only })
	}
	return ws
}

// bulkLoad inserts lo..hi in one statement, so one transaction.
func bulkLoad(width int, ch string) func(context.Context, *env, int64, int64) error {
	sql := fmt.Sprintf(`INSERT INTO bench_rows SELECT g, g %% 100, repeat('%s', %d), g * 1.5, now() FROM generate_series($1::bigint, $2::bigint) g`, ch, width)
	return func(ctx context.Context, e *env, lo, hi int64) error {
		_, err := e.srcConns[0].Exec(ctx, sql, lo, hi)
		return err
	}
}

// The open workload: a running transaction large enough to be streamed
// (above logical_decoding_work_mem) stays open while about 500 MB of other
// transactions commit, which the replicators must keep (the native
// subscriber on disk, sluice applied and kept for a re-apply) until it ends.
const (
	openRunning = 150_000 // rows of the running transaction (~85 MB)
	openOthers  = 900_000 // rows committed meanwhile (~500 MB)
	openChunk   = 1_800   // rows per committed transaction (~1 MB)
)

// openLoad writes the open workload: the running transaction inserts the
// highest ids (it commits last) on the first connection; the others insert
// the rest in openChunk-row transactions meanwhile.
func openLoad(ctx context.Context, e *env, lo, hi int64) error {
	const ins = `INSERT INTO bench_rows SELECT g, g % 100, repeat('o', 500), g * 1.5, now() FROM generate_series($1::bigint, $2::bigint) g`
	running, others := e.srcConns[0], e.srcConns[1:]
	tx, err := running.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx) //nolint:errcheck // after Commit a no-op
	if _, err := tx.Exec(ctx, ins, hi-openRunning+1, hi); err != nil {
		return err
	}
	g, gctx := errgroup.WithContext(ctx)
	for w, conn := range others {
		g.Go(func() error {
			for from := lo + int64(w)*openChunk; from <= hi-openRunning; from += int64(len(others)) * openChunk {
				if _, err := conn.Exec(gctx, ins, from, min(from+openChunk-1, hi-openRunning)); err != nil {
					return err
				}
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	return tx.Commit(ctx)
}

// smallLoad inserts lo..hi one row per transaction from several
// connections; connection w writes lo+w, lo+w+writers, ...
func smallLoad(ctx context.Context, e *env, lo, hi int64) error {
	const sql = `INSERT INTO bench_rows SELECT $1::bigint, $1::bigint % 100, repeat('x', 100), $1::bigint * 1.5, now()`
	g, ctx := errgroup.WithContext(ctx)
	for w, conn := range e.srcConns {
		g.Go(func() error {
			for id := lo + int64(w); id <= hi; id += int64(len(e.srcConns)) {
				if _, err := conn.Exec(ctx, sql, id); err != nil {
					return err
				}
			}
			return nil
		})
	}
	return g.Wait()
}

// runResult is one run of one workload.
type runResult struct {
	load, native, sluice time.Duration
	rssKB                int64 // sluice's peak RSS during the run
	// When each walsender had sent all of the load's WAL (diagnostic: the
	// rest of a target's time is its receiving and applying).
	sentNative, sentSluice time.Duration
	cpu                    time.Duration // CPU time sluice used during the run
	// CPU time the two target servers used during the run (MariaDB only).
	natSrvCPU, sluSrvCPU time.Duration
	// CPU time of each target server's busiest thread: its applier.
	natApply, sluApply time.Duration
}

// runAll runs every workload, checks the targets after every run and at
// the end, and returns the report.
func (e *env) runAll(ctx context.Context) (*report, error) {
	rep := &report{env: e}
	next := int64(1) // id 0 is the warm-up row
	for _, w := range workloads(e.opts) {
		rep.workloads = append(rep.workloads, w)
		var rs []runResult
		for i := range w.runs {
			lo, hi := next, next+w.rows-1
			next = hi + 1
			step(fmt.Sprintf("%s run %d/%d: ids %d..%d", w.name, i+1, w.runs, lo, hi))
			r, err := e.runOnce(ctx, w, lo, hi)
			if err != nil {
				return nil, fmt.Errorf("%s run %d: %w", w.name, i+1, err)
			}
			fmt.Printf("          load %.2fs  native %.2fs  sluice %.2fs  ratio %.2f  sluice peak RSS %.1f MB\n"+
				"          (all WAL sent by the walsender to: native %.2fs, sluice %.2fs; sluice used %.2fs CPU)\n",
				r.load.Seconds(), r.native.Seconds(), r.sluice.Seconds(), ratio(r), mb(r.rssKB),
				r.sentNative.Seconds(), r.sentSluice.Seconds(), r.cpu.Seconds())
			if err := e.verify(ctx, fmt.Sprintf("id BETWEEN %d AND %d", lo, hi)); err != nil {
				return nil, fmt.Errorf("%s run %d: %w", w.name, i+1, err)
			}
			rs = append(rs, r)
		}
		rep.results = append(rep.results, rs)
	}
	step("final check: every target equals the source (count, md5 over all rows)")
	if err := e.verify(ctx, "true"); err != nil {
		return nil, err
	}
	rep.verified = true
	rep.lifetimeRSSKB = e.rss.lifetime()
	rep.logSummary = summarizeLog(e.logPath)
	return rep, nil
}

// runOnce starts the load and polls both targets until each holds every
// row of lo..hi; times are from the start of the load.
func (e *env) runOnce(ctx context.Context, w workload, lo, hi int64) (runResult, error) {
	var r runResult
	ctx, cancel := context.WithTimeout(ctx, w.timeout)
	defer cancel()
	e.rss.reset()
	cpu0 := cpuTime(e.proc.pid())
	g, gctx := errgroup.WithContext(ctx)
	t0 := time.Now()
	g.Go(func() error {
		err := w.load(gctx, e, lo, hi)
		r.load = time.Since(t0)
		if err != nil {
			return fmt.Errorf("load: %w", err)
		}
		r.sentNative, r.sentSluice, err = e.waitSent(gctx, t0)
		return err
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
	if err != nil && errors.Is(ctx.Err(), context.DeadlineExceeded) {
		err = fmt.Errorf("%w (per-run limit %v)", err, w.timeout)
	}
	return r, err
}

// waitSent waits until both walsenders have sent the WAL up to the current
// end (just after the load committed) and returns when each got there.
func (e *env) waitSent(ctx context.Context, t0 time.Time) (native, sluice time.Duration, err error) {
	conn := e.srcConns[0]
	var end string
	if err := conn.QueryRow(ctx, `SELECT pg_current_wal_lsn()::text`).Scan(&end); err != nil {
		return 0, 0, fmt.Errorf("read WAL position: %w", err)
	}
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	for native == 0 || sluice == 0 {
		at := time.Now()
		var nat, slu bool
		err := conn.QueryRow(ctx, `SELECT coalesce(bool_or(s.slot_name = $2 AND r.sent_lsn >= $1::text::pg_lsn), false),
				coalesce(bool_or(s.slot_name = $3 AND r.sent_lsn >= $1::text::pg_lsn), false)
			FROM pg_replication_slots s JOIN pg_stat_replication r ON r.pid = s.active_pid`, end, nativeSlot, sluiceSlot).Scan(&nat, &slu)
		if err != nil {
			return 0, 0, fmt.Errorf("read pg_stat_replication: %w", err)
		}
		if nat && native == 0 {
			native = at.Sub(t0)
		}
		if slu && sluice == 0 {
			sluice = at.Sub(t0)
		}
		select {
		case <-ctx.Done():
			return 0, 0, fmt.Errorf("walsenders did not send up to %s: %w", end, ctx.Err())
		case <-tick.C:
		}
	}
	return native, sluice, nil
}

// waitComplete polls a target until it holds all of lo..hi and returns how
// long after t0 it was first seen complete. Each poll first asks for the
// highest ids only (cheap index probes: they come last from every writer,
// and both replicators apply in source commit order), and only when those
// are there counts the whole range, so polling does not load the targets.
// The time is the start of the successful probe: the data was visible then.
func (e *env) waitComplete(ctx context.Context, name string, conn *pgx.Conn, t0 time.Time, lo, hi int64) (time.Duration, error) {
	var sentinels []int64
	for id := hi; id >= lo && id > hi-writers; id-- {
		sentinels = append(sentinels, id)
	}
	want := hi - lo + 1
	var have int64 = -1
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	for {
		at := time.Now()
		var n int64
		if err := conn.QueryRow(ctx, `SELECT count(*) FROM bench_rows WHERE id = ANY($1)`, sentinels).Scan(&n); err != nil {
			return 0, e.notComplete(ctx, name, conn, lo, hi, err)
		}
		if n == int64(len(sentinels)) {
			if err := conn.QueryRow(ctx, `SELECT count(*) FROM bench_rows WHERE id BETWEEN $1 AND $2`, lo, hi).Scan(&have); err != nil {
				return 0, e.notComplete(ctx, name, conn, lo, hi, err)
			}
			if have == want {
				return at.Sub(t0), nil
			}
		}
		if name == "sluice" {
			if err := e.proc.exited(); err != nil {
				return 0, err
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
func (e *env) notComplete(ctx context.Context, name string, conn *pgx.Conn, lo, hi int64, err error) error {
	if errors.Is(err, context.Canceled) && ctx.Err() != nil && !errors.Is(context.Cause(ctx), context.DeadlineExceeded) {
		return err // another part of the run failed first
	}
	cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var have int64
	if cerr := conn.QueryRow(cctx, `SELECT count(*) FROM bench_rows WHERE id BETWEEN $1 AND $2`, lo, hi).Scan(&have); cerr != nil {
		return fmt.Errorf("%s target: %w", name, err)
	}
	return fmt.Errorf("%s target holds %d of the %d rows: %w", name, have, hi-lo+1, err)
}

// verify compares count and md5 of the rows matching where on all three
// clusters.
func (e *env) verify(ctx context.Context, where string) error {
	sql := `SELECT count(*), coalesce(md5(string_agg(t::text, ',' ORDER BY id)), '') FROM bench_rows t WHERE ` + where
	type sum struct {
		n   int64
		md5 string
	}
	var got [3]sum
	conns := []*pgx.Conn{e.srcConns[0], e.natConn, e.sluConn}
	g, gctx := errgroup.WithContext(ctx)
	for i, c := range conns {
		g.Go(func() error { return c.QueryRow(gctx, sql).Scan(&got[i].n, &got[i].md5) })
	}
	if err := g.Wait(); err != nil {
		return fmt.Errorf("verify: %w", err)
	}
	for i, name := range []string{"native", "sluice"} {
		if got[i+1] != got[0] {
			return fmt.Errorf("verify (%s): %s target differs from the source: %d rows md5 %s, source %d rows md5 %s",
				where, name, got[i+1].n, got[i+1].md5, got[0].n, got[0].md5)
		}
	}
	fmt.Printf("          verified (%s): %d rows, md5 %s equal on source, native and sluice targets\n", where, got[0].n, got[0].md5)
	return nil
}
