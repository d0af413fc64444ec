package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"golang.org/x/sync/errgroup"
)

// pgWorkloads are the PostgreSQL workloads, writing with conns (the first
// runs one-statement loads): bulk, large, backlog, small, copy and open,
// or the -only ones.
func pgWorkloads(o options, conns []*pgx.Conn) []workload {
	q := o.quick
	size := func(full, quick int64) int64 {
		if q {
			return quick
		}
		return full
	}
	bulk, large, backlogN, small, copyN := size(300_000, 30_000), int64(1_000_000), size(50_000, 5_000), size(30_000, 3_000), size(5_000_000, 100_000)
	ws := []workload{
		{name: "bulk", rows: bulk, runs: o.runs, mode: live, table: "bench_rows", timeout: 4 * time.Minute, load: pgBulkLoad(conns[0], 100, "x"),
			what: fmt.Sprintf("%s rows (~150 B) in ONE transaction (INSERT ... SELECT FROM generate_series); from the insert's start until all are on the target", thousands(bulk))},
	}
	if o.large {
		ws = append(ws, workload{name: "large", rows: large, runs: o.runs, mode: live, table: "bench_rows", timeout: 8 * time.Minute,
			load: pgBulkLoad(conns[0], 500, "y"), rssLimit: true,
			what: "1,000,000 wide rows (~560 B, payload repeat('y', 500)) in ONE transaction (sluice's RSS must stay under 256 MB)"})
	}
	ws = append(ws,
		workload{name: "backlog", rows: backlogN, runs: o.runs, mode: backlog, table: "bench_rows", timeout: 4 * time.Minute, load: pgSmallLoad(conns),
			what: fmt.Sprintf("%s single-row transactions from %d connections, written while the replicator is stopped (native: the subscription "+
				"disabled; sluice: the process stopped); from its start until caught up", thousands(backlogN), len(conns))},
		workload{name: "small", rows: small, runs: o.runs, mode: live, table: "bench_rows", timeout: 4 * time.Minute, load: pgSmallLoad(conns),
			what: fmt.Sprintf("%s single-row transactions (autocommit INSERTs) from %d connections, live", thousands(small), len(conns))},
		workload{name: "copy", rows: copyN, runs: o.runs, mode: initialCopy, table: "bench_copy", timeout: 15 * time.Minute, load: pgCopyFill(conns[0]),
			what: fmt.Sprintf("initial copy of a %s-row table (~150 B rows): native table sync (copy_data = true) against sluice's snapshot: initial; "+
				"from CREATE SUBSCRIPTION / sluice's start until every row is on the target", thousands(copyN))},
	)
	if o.large {
		ws = append(ws, workload{name: "open", rows: openRunning + openOthers, runs: 1, mode: live, table: "bench_rows", timeout: 10 * time.Minute,
			load: pgOpenLoad(conns), rssLimit: true,
			what: fmt.Sprintf("a transaction of %s wide rows (streamed while it runs) kept open while %s wide rows (~%d MB) "+
				"commit in %d-row transactions from %d connections, then it commits; 1 run (sluice's RSS must stay under 256 MB)",
				thousands(openRunning), thousands(openOthers), openOthers*560>>20, openChunk, len(conns)-1)})
	}
	return onlyWorkloads(ws, o.only)
}

// onlyWorkloads keeps the workloads named in only (comma-separated); all
// when only is empty.
func onlyWorkloads(ws []workload, only string) []workload {
	if only == "" {
		return ws
	}
	names := strings.Split(only, ",")
	return slices.DeleteFunc(ws, func(w workload) bool { return !slices.Contains(names, w.name) })
}

// pgBulkLoad inserts lo..hi in one statement, so one transaction.
func pgBulkLoad(conn *pgx.Conn, width int, ch string) func(context.Context, int64, int64) error {
	sql := fmt.Sprintf(`INSERT INTO bench_rows SELECT g, g %% 100, repeat('%s', %d), g * 1.5, now() FROM generate_series($1::bigint, $2::bigint) g`, ch, width)
	return func(ctx context.Context, lo, hi int64) error {
		_, err := conn.Exec(ctx, sql, lo, hi)
		return err
	}
}

// pgCopyFill fills the copy table with ids lo..hi once, in 500,000-row
// transactions, and checkpoints, so that no run pays for the fill.
func pgCopyFill(conn *pgx.Conn) func(context.Context, int64, int64) error {
	return func(ctx context.Context, lo, hi int64) error {
		var have int64
		if err := conn.QueryRow(ctx, `SELECT count(*) FROM bench_copy`).Scan(&have); err != nil {
			return err
		}
		if have == hi-lo+1 {
			return nil
		}
		for from := lo; from <= hi; from += 500_000 {
			if _, err := conn.Exec(ctx, `INSERT INTO bench_copy SELECT g, g % 100, repeat('c', 100), g * 1.5, now() FROM generate_series($1::bigint, $2::bigint) g`,
				from, min(from+499_999, hi)); err != nil {
				return err
			}
		}
		_, err := conn.Exec(ctx, `VACUUM ANALYZE bench_copy`)
		if err == nil {
			_, err = conn.Exec(ctx, `CHECKPOINT`)
		}
		return err
	}
}

// prepare fills the copy table before the copy workload's runs.
func (e *pgEngine) prepare(ctx context.Context, w workload) error {
	if w.mode != initialCopy {
		return nil
	}
	step(fmt.Sprintf("filling the source's %s with %s rows", w.table, thousands(w.rows)))
	return w.load(ctx, 1, w.rows)
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

// pgOpenLoad writes the open workload: the running transaction inserts the
// highest ids (it commits last) on the first connection; the others insert
// the rest in openChunk-row transactions meanwhile.
func pgOpenLoad(conns []*pgx.Conn) func(context.Context, int64, int64) error {
	return func(ctx context.Context, lo, hi int64) error {
		const ins = `INSERT INTO bench_rows SELECT g, g % 100, repeat('o', 500), g * 1.5, now() FROM generate_series($1::bigint, $2::bigint) g`
		running, others := conns[0], conns[1:]
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
}

// pgSmallLoad inserts lo..hi one row per transaction from several
// connections; connection w writes lo+w, lo+w+len(conns), ...
func pgSmallLoad(conns []*pgx.Conn) func(context.Context, int64, int64) error {
	return func(ctx context.Context, lo, hi int64) error {
		const sql = `INSERT INTO bench_rows SELECT $1::bigint, $1::bigint % 100, repeat('x', 100), $1::bigint * 1.5, now()`
		g, ctx := errgroup.WithContext(ctx)
		for w, conn := range conns {
			g.Go(func() error {
				for id := lo + int64(w); id <= hi; id += int64(len(conns)) {
					if _, err := conn.Exec(ctx, sql, id); err != nil {
						return err
					}
				}
				return nil
			})
		}
		return g.Wait()
	}
}

func (e *pgEngine) workloads() []workload { return pgWorkloads(e.opts, e.srcConns) }
