package main

// The run loop both database comparisons share: each replicator alone on
// a fresh target, the order alternating between runs, CPU time read from
// /proc before and after each measured window, the target checked against
// the source after every leg.

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"golang.org/x/sync/errgroup"
)

// side is which replicator a leg runs.
type side int

const (
	native side = iota // the database's own: a subscription, a GTID replica
	sluice
)

func (s side) String() string { return [...]string{"native", "sluice"}[s] }

// mode is how a workload meets its replicator, and when its clock starts.
type mode int

const (
	live        mode = iota // the load runs while the replicator streams; from the load's start
	backlog                 // the load commits while the replicator is paused; from its resumption
	initialCopy             // the table is full before the replicator exists; from its creation
)

// workload is one kind of load. Each run of a live or backlog workload
// writes ids lo..hi of bench_rows, disjoint from every other leg; the copy
// workload's table holds ids 1..rows, filled once by prepare.
type workload struct {
	name, what string
	rows       int64
	runs       int
	mode       mode
	table      string
	timeout    time.Duration // per leg
	rssLimit   bool          // sluice's peak RSS must stay under rssLimitMB
	load       func(ctx context.Context, lo, hi int64) error
}

// engine is one database's half of the comparison: its servers, how a
// fresh target and a replicator are made, and what is metered.
type engine interface {
	label() string
	workloads() []workload
	// prepare runs once before a workload's runs (the copy workload fills
	// its source table).
	prepare(ctx context.Context, w workload) error
	// newLeg makes a fresh, empty target for leg n and the replicator of
	// side s for it, not yet started.
	newLeg(ctx context.Context, s side, w workload, n int) (replica, error)
	insertWarm(ctx context.Context, table string, id int64) error
	targetCPU() time.Duration // the target server, all processes
	sourceCPU() time.Duration // what serves the replicator on the source
	sourceLabel() string      // what sourceCPU measures, for the table
	settings() []string
	// finish runs the end-of-bench checks.
	finish(ctx context.Context) error
	logPath() string
}

// replica is one replicator feeding one fresh target.
type replica interface {
	start(ctx context.Context) error // start or resume; returns once it streams
	pause(ctx context.Context) error // stop, keeping its position on the source
	// complete is one poll: true when the target holds every row of
	// lo..hi of the workload's table. It first probes the sentinel ids
	// (cheap index look-ups) and counts the range only when they are all
	// there.
	complete(ctx context.Context, sentinels []int64, lo, hi int64) (bool, error)
	alive(ctx context.Context) error // an error once the replicator stopped by itself
	// verify compares the whole target with the source's rows lo..hi and
	// warm, in count and checksum.
	verify(ctx context.Context, lo, hi, warm int64) error
	sluice() *sluiceRun // nil for native
	close(ctx context.Context) error
}

// legResult is one replicator's measurement in one run.
type legResult struct {
	load, took                     time.Duration
	sluCPU, srcCPU, tgtCPU, allCPU time.Duration
	rssKB                          int64
}

// engineReport is one engine's results: per workload, per run, [native, sluice].
type engineReport struct {
	eng       engine
	runs      int
	workloads []workload
	results   [][][2]legResult
	verified  bool
	logSum    logSummary
}

// runEngine runs every workload of an engine, each run as two legs, and
// returns its report; an error (a target that differs included) ends it.
func runEngine(ctx context.Context, e engine, runs int) (*engineReport, error) {
	rep := &engineReport{eng: e, runs: runs}
	next, n := int64(1), 0
	for _, w := range e.workloads() {
		if err := e.prepare(ctx, w); err != nil {
			return nil, fmt.Errorf("%s: prepare: %w", w.name, err)
		}
		rep.workloads = append(rep.workloads, w)
		var rs [][2]legResult
		for r := range w.runs {
			var pair [2]legResult
			for i := range 2 {
				s := side((r + i) % 2) // run 1: native first; run 2: sluice first; ...
				lo, hi := next, next+w.rows-1
				if w.mode == initialCopy {
					lo, hi = 1, w.rows
				} else {
					next += w.rows
				}
				n++
				step(fmt.Sprintf("%s %s run %d/%d: %s alone", e.label(), w.name, r+1, w.runs, s))
				res, err := runLeg(ctx, e, s, w, n, lo, hi)
				if err != nil {
					return nil, fmt.Errorf("%s run %d (%s): %w", w.name, r+1, s, err)
				}
				pair[s] = res
				own := ""
				if s == sluice {
					own = fmt.Sprintf("sluice %.2f (peak RSS %.1f MB), ", res.sluCPU.Seconds(), mb(res.rssKB))
				}
				fmt.Printf("          %s %.2fs (load %.2fs)  CPU s: %s%s %.2f, target %.2f, machine %.2f\n",
					s, res.took.Seconds(), res.load.Seconds(), own, e.sourceLabel(), res.srcCPU.Seconds(),
					res.tgtCPU.Seconds(), res.allCPU.Seconds())
			}
			fmt.Printf("          ratio sluice/native %.2f\n", legRatio(pair))
			rs = append(rs, pair)
		}
		rep.results = append(rep.results, rs)
	}
	if err := e.finish(ctx); err != nil {
		return nil, err
	}
	rep.verified = true
	rep.logSum = summarizeLog(e.logPath())
	return rep, nil
}

// runLeg measures one replicator alone on a fresh target.
func runLeg(ctx context.Context, e engine, s side, w workload, n int, lo, hi int64) (legResult, error) {
	var res legResult
	ctx, cancel := context.WithTimeout(ctx, w.timeout)
	defer cancel()
	rep, err := e.newLeg(ctx, s, w, n)
	if err != nil {
		return res, err
	}
	defer func() {
		if err := rep.close(context.Background()); err != nil {
			fmt.Printf("          bench: clean up after the leg: %v\n", err)
		}
	}()
	// Warm up: one row through, so one-time work (relation messages,
	// target table look-ups, the sink's own tables) is outside the window.
	warm := int64(0) // the copy table has no id 0
	if w.mode != initialCopy {
		warm = -int64(n)
		if err := rep.start(ctx); err != nil {
			return res, err
		}
		if err := e.insertWarm(ctx, w.table, warm); err != nil {
			return res, fmt.Errorf("warm-up insert: %w", err)
		}
		if _, err := waitComplete(ctx, rep, []int64{warm}, warm, warm, time.Now(), pollInterval); err != nil {
			return res, fmt.Errorf("warm-up: %w", err)
		}
	}
	if w.mode == backlog {
		if err := rep.pause(ctx); err != nil {
			return res, err
		}
		l0 := time.Now()
		if err := w.load(ctx, lo, hi); err != nil {
			return res, fmt.Errorf("load: %w", err)
		}
		res.load = time.Since(l0)
	}

	var sluPid int
	var slu0 time.Duration
	if r := rep.sluice(); r != nil && r.p != nil {
		r.rss.reset()
		sluPid, slu0 = r.p.pid(), cpuTime(r.p.pid())
	}
	src0, tgt0, all0 := e.sourceCPU(), e.targetCPU(), machineCPU()
	t0 := time.Now()
	g, gctx := errgroup.WithContext(ctx)
	switch w.mode {
	case live:
		g.Go(func() error {
			err := w.load(gctx, lo, hi)
			res.load = time.Since(t0)
			if err != nil {
				return fmt.Errorf("load: %w", err)
			}
			return nil
		})
	default:
		if err := rep.start(ctx); err != nil {
			return res, err
		}
	}
	interval := pollInterval
	if w.mode == initialCopy {
		interval = 5 * pollInterval // counting millions of rows is not free
	}
	g.Go(func() (err error) {
		res.took, err = waitComplete(gctx, rep, sentinels(w, lo, hi), lo, hi, t0, interval)
		return err
	})
	err = g.Wait()
	res.srcCPU, res.tgtCPU, res.allCPU = e.sourceCPU()-src0, e.targetCPU()-tgt0, machineCPU()-all0
	if r := rep.sluice(); r != nil && r.p != nil {
		res.sluCPU = cpuTime(r.p.pid())
		if r.p.pid() == sluPid {
			res.sluCPU -= slu0
		}
		res.rssKB = r.rss.peak()
	}
	if err != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			err = fmt.Errorf("%w (per-leg limit %v)", err, w.timeout)
		}
		return res, err
	}
	return res, rep.verify(ctx, lo, hi, warm)
}

// pollInterval is how often a target is asked whether it is complete.
const pollInterval = 20 * time.Millisecond

// sentinels are the ids probed before a range is counted: the last id of
// every writer (both replicators apply in source commit order), and for a
// copy, whose chunks may land in any order, ids spread over the table.
func sentinels(w workload, lo, hi int64) []int64 {
	var ids []int64
	for id := hi; id >= lo && id > hi-writers; id-- {
		ids = append(ids, id)
	}
	if w.mode == initialCopy {
		for i := int64(0); i < 16; i++ {
			ids = append(ids, lo+(hi-lo)*i/16)
		}
	}
	slices.Sort(ids)
	return slices.Compact(ids)
}

// waitComplete polls a target until it holds all of lo..hi and returns
// how long after t0 it was first seen complete: the start of the
// successful poll, when the data was visible.
func waitComplete(ctx context.Context, rep replica, ids []int64, lo, hi int64, t0 time.Time, interval time.Duration) (time.Duration, error) {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for polls := 1; ; polls++ {
		at := time.Now()
		ok, err := rep.complete(ctx, ids, lo, hi)
		if err != nil {
			return 0, err
		}
		if ok {
			return at.Sub(t0), nil
		}
		if polls%25 == 0 {
			if err := rep.alive(ctx); err != nil {
				return 0, err
			}
		}
		select {
		case <-ctx.Done():
			return 0, fmt.Errorf("target not complete (ids %d..%d): %w", lo, hi, ctx.Err())
		case <-tick.C:
		}
	}
}

func legRatio(p [2]legResult) float64 {
	if p[native].took <= 0 {
		return 0
	}
	return p[sluice].took.Seconds() / p[native].took.Seconds()
}
