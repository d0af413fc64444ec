// Command bench compares sluice with PostgreSQL's built-in logical
// replication, side by side in one run.
//
// It starts three throwaway clusters with identical settings (a source, a
// target fed by a native subscription, a target fed by sluice), runs each
// workload with both replicators live, and reports how long each target took
// to hold every row of the workload, plus sluice's peak memory:
//
//	go run ./internal/bench [-runs 3] [-quick] [-large=false] [-md FILE] [-sluice BIN]
//
// Workloads: bulk (300,000 rows in one transaction), small (30,000
// single-row transactions from 4 connections) and large (1,000,000 wide rows
// in one transaction, one run; sluice's RSS must stay under 256 MB).
// Correctness is checked after every run and at the end: every target must
// equal the source in count and md5 over all rows.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// options are the command-line flags.
type options struct {
	runs      int
	quick     bool
	large     bool
	md        string
	sluiceBin string
	timeout   time.Duration
	logLevel  string
}

func main() {
	var o options
	flag.IntVar(&o.runs, "runs", 3, "runs of each workload (bulk, small); the table shows medians")
	flag.BoolVar(&o.quick, "quick", false, "one run of each workload, without large")
	flag.BoolVar(&o.large, "large", true, "also run the large workload (1,000,000 wide rows in one transaction, once)")
	flag.StringVar(&o.md, "md", "", "also write the results as Markdown to this file")
	flag.StringVar(&o.sluiceBin, "sluice", "", "sluice binary to run (default: build ./cmd/sluice into a temp dir, so it is never stale)")
	flag.StringVar(&o.logLevel, "sluice-log-level", "info", "sluice's log.level (debug shows every batch flush; for diagnosis)")
	flag.DurationVar(&o.timeout, "timeout", 15*time.Minute, "give up after this long")
	flag.Parse()
	if o.quick {
		o.runs, o.large = 1, false
	}
	if o.runs < 1 {
		fmt.Fprintln(os.Stderr, "bench: -runs must be at least 1")
		os.Exit(2)
	}
	os.Exit(run(o))
}

func run(o options) int {
	// Ctrl-C and SIGTERM cancel the context; the deferred cleanup then stops
	// sluice and removes every cluster. Later signals are swallowed so the
	// cleanup is not cut short.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()

	e := &env{opts: o}
	defer e.cleanup()
	if err := e.setup(ctx); err != nil {
		return fail(ctx, e, err)
	}
	rep, err := e.runAll(ctx)
	if err != nil {
		return fail(ctx, e, err)
	}
	fmt.Println()
	fmt.Print(rep.text())
	if o.md != "" {
		if err := os.WriteFile(o.md, []byte(rep.markdown()), 0o644); err != nil {
			fmt.Fprintf(os.Stderr, "bench: write %s: %v\n", o.md, err)
			return 1
		}
		fmt.Printf("\nMarkdown written to %s\n", o.md)
	}
	if rep.largeOverLimit() {
		fmt.Fprintf(os.Stderr, "\nbench: FAIL: sluice's peak RSS in the large workload exceeded %d MB\n", rssLimitMB)
		return 1
	}
	return 0
}

func fail(ctx context.Context, e *env, err error) int {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		err = fmt.Errorf("%w (the whole run exceeded -timeout %v)", err, e.opts.timeout)
	} else if ctx.Err() != nil {
		err = fmt.Errorf("interrupted: %w", err)
	}
	fmt.Fprintf(os.Stderr, "\nbench: %v\n", err)
	if e.logPath != "" {
		fmt.Fprintf(os.Stderr, "--- last lines of the sluice log (%s) ---\n%s\n", e.logPath, logTail(e.logPath, 30))
	}
	return 1
}
