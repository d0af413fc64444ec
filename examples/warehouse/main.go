// Command warehouse shows Sluice feeding a small data warehouse from the
// crm database, with two pipelines into one target database:
//
//   - history.yaml (sink.mode history): customers and articles as
//     dimensions with every version of every row (SCD type 2) in schema
//     dwh, each row marked with the source code column _source = 'crm';
//   - merge.yaml (sink.mode merge, transforms): only paid or shipped orders,
//     all order lines, and one mobile number per customer (phone numbers
//     filtered to kind 'mobile', number renamed) in schema mart.
//
// It starts throwaway source and target PostgreSQL clusters, creates the
// crm data set, runs both pipelines as child processes (their logs
// prefixed "history |" and "mart    |"), makes live changes (new, updated
// and deleted customers, price changes, orders paid, shipped and their
// payments reversed, phone numbers changed, a large transaction, a primary
// key change), kills the history pipeline with kill -9 in the middle of
// more changes and restarts it, and after each phase verifies the
// warehouse against what the source says it must hold:
//
//   - the current versions (_current) equal the source rows, _source = 'crm';
//   - every customer's and article's versions, in order, are exactly the
//     snapshot row followed by one version per change the source made (a
//     trigger on the source records each change for this check), so no
//     version is missing or doubled, replays after kill -9 included;
//   - versions chain: each one's _valid_to is the next one's _valid_from;
//   - mart.orders equals SELECT ... FROM orders WHERE status IN ('paid',
//     'shipped'), mart.order_lines equals order_lines, and
//     mart.customer_mobiles equals the source's mobile numbers.
//
// Run it from the repository with `make warehouse` or `go run
// ./examples/warehouse`. It exits 0 only when every check passes; the
// clusters and temp files are removed on exit, Ctrl-C included.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
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
	timeout  time.Duration // how long the warehouse may take to catch up
	crash    bool          // run the kill -9 phase
	build    bool          // always build sluice, even when bin/sluice is fresh
	binary   string        // use this sluice binary
	keep     bool          // leave the clusters and temp dir behind
}

// pipeline is one sluice process and its config.
type pipeline struct {
	label  string // "history" or "mart": its log lines' prefix
	config string // the config file, in examples/warehouse
	proc   *crm.Sluice
	down   bool // killed on purpose and not restarted yet
}

// warehouse is the state shared by the phases.
type warehouse struct {
	opts     options
	out      *crm.Printer
	root     string // the repository
	dir      string // temp dir: checkpoints, built binary
	binary   string
	env      []string // the configs' ${VAR}s
	src, dst *pgtest.Cluster
	history  *pipeline
	mart     *pipeline
	work     *crm.Workload
	extra    extraOps
}

func run() int {
	var o options
	flag.DurationVar(&o.duration, "duration", 20*time.Second, "how long to make live changes in the first phase")
	flag.DurationVar(&o.timeout, "timeout", 2*time.Minute, "how long the warehouse may take to catch up before the example fails")
	flag.BoolVar(&o.crash, "crash", true, "also kill -9 the history pipeline during changes and verify it after a restart")
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
	w := &warehouse{opts: o, out: crm.NewPrinter(os.Stdout)}
	err := w.main(ctx)
	w.cleanup()
	switch {
	case ctx.Err() != nil:
		w.say("interrupted; everything is cleaned up")
		return 130
	case errors.Is(err, errMismatch):
		return 1
	case err != nil:
		w.say("FAILED: %v", err)
		return 1
	}
	return 0
}

// errMismatch means the verdict was printed and it is "not as expected".
var errMismatch = errors.New("the warehouse differs from what the source says")

func (w *warehouse) say(format string, args ...any) {
	w.out.Line("wh     | ", fmt.Sprintf(format, args...))
}

func (w *warehouse) main(ctx context.Context) error {
	var err error
	if w.root, err = crm.RepoRoot("run the warehouse example from the sluice repository (go run ./examples/warehouse or make warehouse)"); err != nil {
		return err
	}
	if w.dir, err = os.MkdirTemp("", "sluice-warehouse-"); err != nil {
		return err
	}
	w.history = &pipeline{label: "history", config: filepath.Join(w.root, "examples", "warehouse", "history.yaml")}
	w.mart = &pipeline{label: "mart", config: filepath.Join(w.root, "examples", "warehouse", "merge.yaml")}
	if w.binary, err = crm.FindBinary(ctx, crm.BinaryOptions{Root: w.root, TmpDir: w.dir, Binary: w.opts.binary, Build: w.opts.build}, w.say); err != nil {
		return err
	}
	if err := w.setUp(ctx); err != nil {
		return err
	}

	if err := w.startBoth(ctx); err != nil {
		return err
	}
	w.say("waiting for both initial snapshots to reach the warehouse...")
	if err := w.checkpoint(ctx, "snapshot", "the pipelines started"); err != nil {
		return err
	}
	if err := w.phaseLive(ctx); err != nil {
		return err
	}
	if w.opts.crash {
		if err := w.phaseCrash(ctx); err != nil {
			return err
		}
	}

	for _, p := range []*pipeline{w.history, w.mart} {
		w.say("stopping the %s pipeline with SIGTERM (it flushes, saves its checkpoint and exits)...", p.label)
		code, err := p.proc.Terminate(time.Minute)
		if err != nil {
			return err
		}
		w.say("the %s pipeline exited with status %d", p.label, code)
		if code != 0 {
			return fmt.Errorf("the %s pipeline exited with status %d after SIGTERM, want 0", p.label, code)
		}
	}
	r, err := w.verify(ctx)
	if err != nil {
		return err
	}
	if len(r.problems) > 0 {
		return w.verdict(r)
	}
	if err := w.summary(ctx, r); err != nil {
		return err
	}
	return w.verdict(r)
}

// startBoth starts both pipelines at the same moment, on a target that
// has none of their schemas yet.
func (w *warehouse) startBoth(ctx context.Context) error {
	if err := w.start(w.history); err != nil {
		return err
	}
	return w.start(w.mart)
}

// start runs `sluice run` for p with the configs' variables.
func (w *warehouse) start(p *pipeline) error {
	rel, _ := filepath.Rel(w.root, p.config)
	w.say("starting the %s pipeline: %s run --config %s", p.label, w.binary, rel)
	proc, err := crm.StartSluice(w.binary, p.config, w.env, w.out, fmt.Sprintf("%-7s| ", p.label))
	if err != nil {
		return err
	}
	p.proc, p.down = proc, false
	return nil
}

// phaseLive makes changes for -duration with both pipelines running, then
// waits for the warehouse to catch up and verifies it.
func (w *warehouse) phaseLive(ctx context.Context) error {
	dur := w.opts.duration
	w.say("phase 1: live changes on the source for %s (customers added, changed and deleted, prices, orders paid, shipped and reversed, phone numbers, ...)", dur)
	err := w.live(ctx, dur, []crm.Event{
		{At: dur / 5, Run: w.extra.deleteCustomers},
		{At: dur / 5, Run: w.extra.reversePayments},
		{At: dur * 2 / 5, Run: w.work.BigTransaction},
		{At: dur * 3 / 5, Run: w.work.ChangeCustomerKey},
	})
	if err != nil {
		return err
	}
	w.say("changes stopped (%s); waiting for the warehouse to catch up...", w.summaryLine())
	return w.checkpoint(ctx, "phase 1", "the changes stopped")
}

// phaseCrash kills the history pipeline with SIGKILL in the middle of
// changes, keeps changing the source while it is down, restarts it and
// verifies the warehouse: the restarted pipeline reads some transactions
// again and must not write their versions twice.
func (w *warehouse) phaseCrash(ctx context.Context) error {
	dur := max(3*time.Second, w.opts.duration/2)
	p := w.history
	w.say("phase 2: crash test: changes for %s; the history pipeline gets kill -9 after %s, right after a large transaction, and is restarted after %s",
		dur, (dur / 5).Round(100*time.Millisecond), (dur * 7 / 10).Round(100*time.Millisecond))
	err := w.live(ctx, dur, []crm.Event{
		{At: dur / 5, Run: w.work.BigTransaction}, // the pipeline is busy writing its versions...
		{At: dur / 5, Run: func(context.Context) error { // ...when it is killed
			w.say("kill -9 the history pipeline (pid %d): no flush, no goodbye", p.proc.Pid())
			p.down = true
			p.proc.Kill9()
			w.say("history pipeline: %v; the source keeps changing while it is down", p.proc.State())
			return nil
		}},
		{At: dur * 2 / 5, Run: w.work.BigTransaction},
		{At: dur / 2, Run: w.extra.deleteCustomers},
		{At: dur * 7 / 10, Run: func(context.Context) error {
			w.say("starting the history pipeline again: it resumes from its checkpoint, no new snapshot")
			return w.start(p)
		}},
	})
	if err != nil {
		return err
	}
	w.say("changes stopped (%s); waiting for the warehouse to catch up...", w.summaryLine())
	return w.checkpoint(ctx, "phase 2 (after kill -9)", "the changes stopped")
}

func (w *warehouse) summaryLine() string {
	return fmt.Sprintf("%s; %s", w.work.Summary(), w.extra.summary())
}

// checkpoint waits until the warehouse verifies and says so; since says
// since what the time is counted.
func (w *warehouse) checkpoint(ctx context.Context, phase, since string) error {
	start := time.Now()
	r, err := w.waitVerified(ctx, phase)
	if err != nil {
		return err
	}
	w.say("%s: the warehouse is as the source says, %s after %s: %s",
		phase, time.Since(start).Round(100*time.Millisecond), since, r.brief())
	return nil
}

// verdict prints the final result.
func (w *warehouse) verdict(r *report) error {
	if len(r.problems) > 0 {
		w.say("MISMATCH: the warehouse differs from what the source says:")
		for _, s := range r.problems {
			for i, l := range strings.Split(s, "\n") {
				if i == 0 {
					l = "  " + l
				}
				w.say("%s", l)
			}
		}
		return errMismatch
	}
	w.say("OK: current versions equal the source, every version is there once and they chain; the filtered and reshaped mart tables equal the source's")
	return nil
}

// cleanup stops whatever is still running and removes the clusters and the
// temp dir. It runs on every exit path, Ctrl-C included.
func (w *warehouse) cleanup() {
	for _, p := range []*pipeline{w.history, w.mart} {
		if p != nil && p.proc != nil && p.proc.Running() {
			w.say("stopping the %s pipeline...", p.label)
			p.proc.Terminate(15 * time.Second)
		}
	}
	if w.work != nil {
		w.work.Close()
	}
	crm.RemoveAll(w.say, w.opts.keep, w.dir, w.src, w.dst)
}
