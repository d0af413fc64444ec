// Command demo shows Sluice replicating a small CRM database end to end, on
// this machine, with nothing but Go and the PostgreSQL server binaries:
//
//  1. start two throwaway PostgreSQL clusters (source and target);
//  2. create the crm data set on the source (customers, articles, orders,
//     order_lines, phone_numbers: about 25,000 rows);
//  3. run `sluice run` as a child process, its log shown prefixed "sluice |";
//  4. make live changes on the source for -duration (inserts, updates,
//     deletes, one large transaction, a primary-key change), printing the
//     row counts of both sides every second;
//  5. stop the changes and compare every table row by row;
//  6. crash test: kill -9 sluice in the middle of more changes, change more
//     while it is down, start it again and compare again;
//  7. stop sluice with SIGTERM, show it exits 0, print the verdict.
//
// Run it from the repository with `make demo` or `go run ./examples/demo`.
// It exits 0 only when the target equals the source row for row; the
// clusters and temp files are removed on exit, Ctrl-C included.
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

	"github.com/sluicecdc/sluice/examples/internal/crm"
	"github.com/sluicecdc/sluice/internal/pgtest"
)

func main() {
	os.Exit(run())
}

type options struct {
	duration time.Duration // live changes in phase 1
	timeout  time.Duration // how long the target may take to catch up
	crash    bool          // run the kill -9 phase
	build    bool          // always build sluice, even when bin/sluice is fresh
	binary   string        // use this sluice binary
	keep     bool          // leave the clusters and temp dir behind
}

// demo is the state shared by the phases.
type demo struct {
	opts     options
	out      *crm.Printer
	dir      string // temp dir: config, checkpoint, built binary
	binary   string
	cfgPath  string
	src, dst *pgtest.Cluster
	sluice   *crm.Sluice
	down     bool // sluice was killed on purpose and is not restarted yet
	work     *crm.Workload
}

func run() int {
	var o options
	flag.DurationVar(&o.duration, "duration", 20*time.Second, "how long to make live changes in the first phase")
	flag.DurationVar(&o.timeout, "timeout", 2*time.Minute, "how long the target may take to catch up before the demo fails")
	flag.BoolVar(&o.crash, "crash", true, "also kill -9 sluice during changes and show it catches up after a restart")
	flag.BoolVar(&o.build, "build", false, "build sluice from ./cmd/sluice even when bin/sluice is up to date")
	flag.StringVar(&o.binary, "sluice", "", "path of the sluice binary to run (default: bin/sluice when up to date, else a fresh build)")
	flag.BoolVar(&o.keep, "keep", false, "keep the clusters' directories and the temp dir (the servers are still stopped)")
	flag.Parse()
	if flag.NArg() > 0 || o.duration <= 0 || o.timeout <= 0 {
		flag.Usage()
		return 2
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	d := &demo{opts: o, out: crm.NewPrinter(os.Stdout)}
	err := d.main(ctx)
	d.cleanup()
	switch {
	case ctx.Err() != nil:
		d.say("interrupted; everything is cleaned up")
		return 130
	case errors.Is(err, errMismatch):
		return 1
	case err != nil:
		d.say("FAILED: %v", err)
		return 1
	}
	return 0
}

// startSluice runs `sluice run` with the demo's config, its log prefixed
// "sluice | ".
func (d *demo) startSluice() (*crm.Sluice, error) {
	return crm.StartSluice(d.binary, d.cfgPath, nil, d.out, "sluice | ")
}

// errMismatch means the verdict was printed and it is "not equal".
var errMismatch = errors.New("target differs from source")

func (d *demo) say(format string, args ...any) { d.out.Line("demo   | ", fmt.Sprintf(format, args...)) }

func (d *demo) main(ctx context.Context) error {
	root, err := crm.RepoRoot("run the demo from the sluice repository (go run ./examples/demo or make demo)")
	if err != nil {
		return err
	}
	if d.dir, err = os.MkdirTemp("", "sluice-demo-"); err != nil {
		return err
	}
	if d.binary, err = crm.FindBinary(ctx, crm.BinaryOptions{Root: root, TmpDir: d.dir, Binary: d.opts.binary, Build: d.opts.build}, d.say); err != nil {
		return err
	}
	if err := d.setUp(ctx); err != nil {
		return err
	}

	d.say("starting: %s run --config %s", d.binary, d.cfgPath)
	if d.sluice, err = d.startSluice(); err != nil {
		return err
	}
	d.say("waiting for the initial snapshot to reach the target...")
	start := time.Now()
	if err := d.waitEqual(ctx, "snapshot"); err != nil {
		return err
	}
	d.say("snapshot copied: the target equals the source row for row after %s", time.Since(start).Round(100*time.Millisecond))

	if err := d.phaseLive(ctx); err != nil {
		return err
	}
	if d.opts.crash {
		if err := d.phaseCrash(ctx); err != nil {
			return err
		}
	}

	d.say("stopping sluice with SIGTERM (it flushes, saves its checkpoint and exits)...")
	code, err := d.sluice.Terminate(time.Minute)
	if err != nil {
		return err
	}
	d.say("sluice exited with status %d", code)
	if code != 0 {
		return fmt.Errorf("sluice exited with status %d after SIGTERM, want 0", code)
	}
	diffs, err := d.compare(ctx)
	if err != nil {
		return err
	}
	return d.verdict(diffs)
}

// phaseLive makes changes for -duration with sluice running, then waits
// for the target to catch up.
func (d *demo) phaseLive(ctx context.Context) error {
	dur := d.opts.duration
	d.say("phase 1: live changes on the source for %s (new customers and orders, price and status updates, deleted phone numbers, ...)", dur)
	err := d.live(ctx, dur, []crm.Event{
		{At: dur * 2 / 5, Run: d.work.BigTransaction},
		{At: dur * 3 / 5, Run: d.work.ChangeCustomerKey},
	})
	if err != nil {
		return err
	}
	d.say("changes stopped (%s); waiting for the target to catch up...", d.work.Summary())
	return d.checkpointVerdict(ctx, "phase 1")
}

// phaseCrash kills sluice with SIGKILL in the middle of changes, keeps
// changing the source while it is down, restarts it and waits for the
// target to catch up.
func (d *demo) phaseCrash(ctx context.Context) error {
	dur := max(3*time.Second, d.opts.duration/2)
	d.say("phase 2: crash test: changes for %s; sluice gets kill -9 after %s and is restarted after %s",
		dur, (dur / 5).Round(100*time.Millisecond), (dur * 7 / 10).Round(100*time.Millisecond))
	err := d.live(ctx, dur, []crm.Event{
		{At: dur / 5, Run: func(context.Context) error {
			d.say("kill -9 sluice (pid %d): no flush, no goodbye", d.sluice.Pid())
			d.down = true
			d.sluice.Kill9()
			d.say("sluice: %v; the source keeps changing while it is down", d.sluice.State())
			return nil
		}},
		{At: dur * 2 / 5, Run: d.work.BigTransaction},
		{At: dur * 7 / 10, Run: func(context.Context) error {
			d.say("starting sluice again: it resumes from its checkpoint, no new snapshot")
			p, err := d.startSluice()
			if err != nil {
				return err
			}
			d.sluice, d.down = p, false
			return nil
		}},
	})
	if err != nil {
		return err
	}
	d.say("changes stopped (%s); waiting for the target to catch up...", d.work.Summary())
	return d.checkpointVerdict(ctx, "phase 2 (after kill -9)")
}

// checkpointVerdict waits for the target to equal the source and says so.
func (d *demo) checkpointVerdict(ctx context.Context, phase string) error {
	start := time.Now()
	if err := d.waitEqual(ctx, phase); err != nil {
		return err
	}
	d.say("%s: target equals source row for row in all %d tables, %s after the changes stopped",
		phase, len(tables), time.Since(start).Round(100*time.Millisecond))
	return nil
}

// verdict prints the final result.
func (d *demo) verdict(diffs []string) error {
	if len(diffs) > 0 {
		d.say("MISMATCH: the target differs from the source:")
		for _, s := range diffs {
			d.say("  %s", s)
		}
		return errMismatch
	}
	d.say("OK: target equals source row for row in all %d tables", len(tables))
	return nil
}

// cleanup stops whatever is still running and removes the clusters and the
// temp dir. It runs on every exit path, Ctrl-C included.
func (d *demo) cleanup() {
	if d.sluice != nil && d.sluice.Running() {
		d.say("stopping sluice...")
		d.sluice.Terminate(15 * time.Second)
	}
	if d.work != nil {
		d.work.Close()
	}
	crm.RemoveAll(d.say, d.opts.keep, d.dir, d.src, d.dst)
}
