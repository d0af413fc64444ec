// Command bench compares sluice with the databases' built-in replication.
//
// PostgreSQL (-engine pg) and MariaDB (-engine mariadb) share one runner
// (runner.go): a source and ONE target server with identical settings; per
// run, each replicator runs ALONE on a fresh target (PostgreSQL: a new
// database, a new subscription or sluice pipeline with its own slot;
// MariaDB: the target table emptied, a new GTID replica position or sluice
// pipeline), native then sluice or sluice then native, alternating between
// runs; -runs runs (default 5); the report gives medians and ranges. Each
// leg reads from /proc, before and after its measured window: sluice's CPU
// seconds and peak RSS, the CPU seconds of what serves the replicator on
// the source (PostgreSQL: its walsender(s); MariaDB: the source mariadbd)
// and of the whole target server (every process, exited ones included),
// and the machine's busy CPU seconds. After every leg the target must equal
// the source's rows of that leg in count and a checksum over every column,
// or the bench exits non-zero.
//
// PostgreSQL workloads (-only picks some, comma-separated): bulk (300,000
// rows in one transaction), large (1,000,000 wide rows in one transaction;
// sluice's RSS must stay under 256 MB), backlog (50,000 single-row
// transactions written while the replicator is stopped: the subscription
// disabled, sluice stopped; timed from its start until caught up), small
// (30,000 single-row transactions from 4 connections, live), copy (the
// initial copy of a 5,000,000-row table: table sync with copy_data = true
// against sluice's snapshot: initial) and open (a streamed transaction kept
// open while ~500 MB of other transactions commit, one run; the same RSS
// limit). -quick makes them smaller and leaves out large and open. MariaDB
// workloads: bulk and small against the GTID replica, sized by
// -mariadb-bulk-rows and -mariadb-small-rows.
//
// Kafka (-engine kafka): sluice publishing to a kfake broker process
// (read_committed consumer) against a PostgreSQL subscription, each alone
// on the machine (see kafka.go).
//
// Back-fill (-engine backfill): an online back-fill of a 1,000,000-row
// table against sluice's initial snapshot of it, sluice alone (see
// backfill.go); goal: ≥ 0.7 of the snapshot's rows/s.
//
// Verify (-engine verify): `sluice verify` of a large equal table against
// COPY ... TO STDOUT of it from both servers hashed with md5 (see
// verifybench.go).
//
//	go run ./internal/bench [-engine all|pg|mariadb|kafka|backfill|verify] [-runs 5] [-quick] [-only bulk,copy] [-large=false] [-md FILE] [-sluice BIN]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

// options are the command-line flags.
type options struct {
	runs      int
	quick     bool
	large     bool
	only      string // run only the PostgreSQL workload of this name
	md        string
	sluiceBin string
	timeout   time.Duration
	logLevel  string

	engine      string // "all", "pg" or "mariadb"
	myBulkRows  int64  // MariaDB bulk workload size
	mySmallRows int64  // MariaDB small workload size
	myParallel  int    // the native replica's slave_parallel_threads
	bfRows      int64  // back-fill measurement: rows of the table
	vfRows      int64  // verify measurement: rows of the table
}

func (o options) runPG() bool      { return o.engine == "all" || o.engine == "pg" }
func (o options) runMariaDB() bool { return o.engine == "all" || o.engine == "mariadb" }
func (o options) runKafka() bool   { return o.engine == "all" || o.engine == "kafka" }
func (o options) runVerify() bool  { return o.engine == "all" || o.engine == "verify" }
func (o options) runBackfill() bool {
	return o.engine == "all" || o.engine == "backfill"
}

func main() {
	var o options
	flag.StringVar(&o.engine, "engine", "all", "which comparisons to run: pg (PostgreSQL subscription), mariadb (MariaDB replica), kafka (sluice publishing to Kafka vs a PostgreSQL subscription, each alone), backfill (an online back-fill of a 1,000,000-row table vs the initial snapshot of it, sluice alone), verify (sluice verify of a large equal table vs COPY ... TO STDOUT | md5 of it on both servers) or all")
	flag.IntVar(&o.runs, "runs", 5, "runs of each workload, each run one leg per replicator, alone, the order alternating; the table shows medians and ranges (default 1 with -quick)")
	flag.BoolVar(&o.quick, "quick", false, "smaller workloads, one run unless -runs is given, without large and open (unless -large is given)")
	flag.BoolVar(&o.large, "large", true, "also run the large and open workloads (1,000,000 wide rows in one transaction, -runs runs; a streamed transaction open while ~500 MB commit, one run; PostgreSQL only)")
	flag.StringVar(&o.only, "only", "", "run only these workloads, comma-separated (PostgreSQL: bulk, large, backlog, small, copy, open; MariaDB: bulk, small)")
	flag.StringVar(&o.md, "md", "", "also write the results as Markdown to this file")
	flag.StringVar(&o.sluiceBin, "sluice", "", "sluice binary to run (default: build ./cmd/sluice into a temp dir, so it is never stale)")
	flag.StringVar(&o.logLevel, "sluice-log-level", "info", "sluice's log.level (debug shows every batch flush; for diagnosis)")
	flag.DurationVar(&o.timeout, "timeout", 3*time.Hour, "give up after this long")
	flag.Int64Var(&o.myBulkRows, "mariadb-bulk-rows", 0, "MariaDB bulk workload: rows in the one transaction (default 300,000; 100,000 with -quick)")
	flag.Int64Var(&o.mySmallRows, "mariadb-small-rows", 0, "MariaDB small workload: single-row transactions (default 30,000; 10,000 with -quick)")
	flag.Int64Var(&o.bfRows, "backfill-rows", bfDefRows, "back-fill measurement: rows of the table copied")
	flag.Int64Var(&o.vfRows, "verify-rows", 1_000_000, "verify measurement: rows of the table compared")
	flag.IntVar(&o.myParallel, "mariadb-parallel-threads", 0, "the native replica's slave_parallel_threads (0: MariaDB's default, one applier thread); above 0 also sets slave_parallel_mode=optimistic")
	flag.Parse()
	set := map[string]bool{}
	flag.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if o.quick && !set["runs"] {
		o.runs = 1
	}
	if o.quick && !set["large"] {
		o.large = false
	}
	if o.myBulkRows == 0 {
		o.myBulkRows = map[bool]int64{false: 300_000, true: 100_000}[o.quick]
	}
	if o.mySmallRows == 0 {
		o.mySmallRows = map[bool]int64{false: 30_000, true: 10_000}[o.quick]
	}
	switch {
	case o.runs < 1:
		fmt.Fprintln(os.Stderr, "bench: -runs must be at least 1")
		os.Exit(2)
	case o.engine != "all" && o.engine != "pg" && o.engine != "mariadb" && o.engine != "kafka" && o.engine != "backfill" && o.engine != "verify":
		fmt.Fprintf(os.Stderr, "bench: -engine %q: want pg, mariadb, kafka, backfill, verify or all\n", o.engine)
		os.Exit(2)
	case o.myBulkRows < 1 || o.mySmallRows < 1:
		fmt.Fprintln(os.Stderr, "bench: -mariadb-bulk-rows and -mariadb-small-rows must be at least 1")
		os.Exit(2)
	case o.myParallel < 0:
		fmt.Fprintln(os.Stderr, "bench: -mariadb-parallel-threads must be 0 or more")
		os.Exit(2)
	}
	os.Exit(run(o))
}

func run(o options) int {
	// Ctrl-C and SIGTERM cancel the context; the deferred cleanup then stops
	// sluice and removes every cluster and server. Later signals are
	// swallowed so the cleanup is not cut short.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()

	// One binary for both engines, built once.
	dir, err := os.MkdirTemp("", "sluice-bench-bin-")
	if err != nil {
		fmt.Fprintf(os.Stderr, "bench: %v\n", err)
		return 1
	}
	defer os.RemoveAll(dir)
	bin, err := sluiceBinary(ctx, o, dir)
	if err != nil {
		return fail(ctx, o, "", err)
	}

	both := o.runPG() && o.runMariaDB()
	var md strings.Builder
	code := 0
	if o.runPG() {
		rep, c := runPG(ctx, o, bin)
		code = max(code, c)
		if rep != nil {
			if both {
				md.WriteString("## PostgreSQL\n\n")
			}
			md.WriteString(rep.markdown())
		}
	}
	if o.runMariaDB() && ctx.Err() == nil {
		rep, c := runMariaDB(ctx, o, bin)
		code = max(code, c)
		if rep != nil {
			if md.Len() > 0 {
				md.WriteString("\n")
			}
			md.WriteString("## MariaDB\n\n")
			md.WriteString(rep.markdown())
		}
	}
	if o.runKafka() && ctx.Err() == nil {
		rep, c := runKafkaBench(ctx, o, bin)
		code = max(code, c)
		if rep != nil {
			if md.Len() > 0 {
				md.WriteString("\n")
			}
			md.WriteString("## Kafka\n\n")
			md.WriteString(rep.markdown())
		}
	}
	if o.runBackfill() && ctx.Err() == nil {
		rep, c := runBackfillBench(ctx, o, bin)
		code = max(code, c)
		if rep != nil {
			if md.Len() > 0 {
				md.WriteString("\n")
			}
			md.WriteString("## Back-fill\n\n")
			md.WriteString(rep.markdown())
		}
	}
	if o.runVerify() && ctx.Err() == nil {
		rep, c := runVerifyBench(ctx, o, bin)
		code = max(code, c)
		if rep != nil {
			if md.Len() > 0 {
				md.WriteString("\n")
			}
			md.WriteString("## Verify\n\n")
			md.WriteString(rep.markdown())
		}
	}
	if o.md != "" && md.Len() > 0 {
		if err := os.WriteFile(o.md, []byte(md.String()), 0o644); err != nil {
			fmt.Fprintf(os.Stderr, "bench: write %s: %v\n", o.md, err)
			return 1
		}
		fmt.Printf("\nMarkdown written to %s\n", o.md)
	}
	return code
}

// runPG runs the PostgreSQL comparison and prints its report; the report
// is nil when it failed.
func runPG(ctx context.Context, o options, bin string) (*engineReport, int) {
	e := &pgEngine{opts: o, bin: bin}
	defer e.cleanup()
	return runDB(ctx, o, e, e.setup, "PostgreSQL")
}

// runMariaDB runs the MariaDB comparison and prints its report; the report
// is nil when it failed.
func runMariaDB(ctx context.Context, o options, bin string) (*engineReport, int) {
	e := &myEngine{opts: o, bin: bin}
	defer e.cleanup()
	return runDB(ctx, o, e, e.setup, "MariaDB")
}

// runDB sets an engine up, runs its workloads and prints the report. A
// target that differs from the source, or sluice over its memory limit,
// fails the bench.
func runDB(ctx context.Context, o options, e engine, setup func(context.Context) error, title string) (*engineReport, int) {
	if err := setup(ctx); err != nil {
		return nil, fail(ctx, o, e.logPath(), err)
	}
	rep, err := runEngine(ctx, e, o.runs)
	if err != nil {
		return nil, fail(ctx, o, e.logPath(), err)
	}
	fmt.Printf("\n%s:\n", title)
	fmt.Print(rep.text())
	if over := rep.overLimit(); len(over) > 0 {
		fmt.Fprintf(os.Stderr, "\nbench: FAIL: sluice's peak RSS exceeded %d MB in %s\n", rssLimitMB, strings.Join(over, ", "))
		return rep, 1
	}
	return rep, 0
}

func fail(ctx context.Context, o options, logPath string, err error) int {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		err = fmt.Errorf("%w (the whole run exceeded -timeout %v)", err, o.timeout)
	} else if ctx.Err() != nil {
		err = fmt.Errorf("interrupted: %w", err)
	}
	fmt.Fprintf(os.Stderr, "\nbench: %v\n", err)
	if logPath != "" {
		fmt.Fprintf(os.Stderr, "--- last lines of the sluice log (%s) ---\n%s\n", logPath, logTail(logPath, 30))
	}
	return 1
}
