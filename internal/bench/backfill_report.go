package main

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"time"
)

// bfReport summarises the runs.
type bfReport struct {
	env  *bfEnv
	runs []bfRun
}

func (r *bfReport) text() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%-28s %12s %14s %10s %14s %14s %14s\n", "copy of 1 table", "rows/s", "(range)", "seconds", "sluice cpu_s", "source cpu_s", "target cpu_s")
	line := func(name string, pick func(bfRun) bfCopy) {
		var rate, took, cpu, scpu, tcpu []float64
		for _, x := range r.runs {
			c := pick(x)
			rate, took, cpu = append(rate, c.rate()), append(took, c.took.Seconds()), append(cpu, c.cpu.Seconds())
			scpu, tcpu = append(scpu, c.srcCPU.Seconds()), append(tcpu, c.tgtCPU.Seconds())
		}
		fmt.Fprintf(&b, "%-28s %12.0f %14s %10.2f %14.2f %14.2f %14.2f\n", name, median(rate),
			fmt.Sprintf("%.0f–%.0f", minOf(rate), maxOf(rate)), median(took), median(cpu), median(scpu), median(tcpu))
	}
	line("initial snapshot (a)", func(x bfRun) bfCopy { return x.snap })
	line("back-fill, re-copy (b)", func(x bfRun) bfCopy { return x.recopy })
	line("back-fill, empty target (c)", func(x bfRun) bfCopy { return x.empty })
	b.WriteString("\n")
	for _, n := range r.notes() {
		b.WriteString("- " + n + "\n")
	}
	fmt.Fprintf(&b, "\nthe last sluice log is kept at %s\n", r.env.logPath)
	return b.String()
}

func (r *bfReport) ratios(pick func(bfRun) bfCopy) []float64 {
	var out []float64
	for _, x := range r.runs {
		out = append(out, pick(x).rate()/x.snap.rate())
	}
	return out
}

func (r *bfReport) notes() []string {
	re := r.ratios(func(x bfRun) bfCopy { return x.recopy })
	em := r.ratios(func(x bfRun) bfCopy { return x.empty })
	verdict := func(m float64) string {
		if m >= 0.7 {
			return "meets the goal (≥ 0.7)"
		}
		return "BELOW the goal of 0.7"
	}
	e := r.env
	return []string{
		fmt.Sprintf("ratio back-fill / snapshot rows/s, re-copy over the full target (b): median %.2f (range %.2f–%.2f), %s",
			median(re), minOf(re), maxOf(re), verdict(median(re))),
		fmt.Sprintf("ratio into an empty target (c): median %.2f (range %.2f–%.2f)", median(em), minOf(em), maxOf(em)),
		fmt.Sprintf("medians of %d runs; each run: a fresh target database and pipeline, sluice alone on the machine; "+
			"a snapshot (a), then while it streams (%d small transactions/s into another table) `sluice snapshot --table` twice", len(r.runs), bfTickHz),
		"seconds: the copy itself from sluice's log (snapshot: its `took`; back-fill: `back-fill requested` to `table back-filled`); " +
			"cpu_s: CPU seconds in that window of sluice's process (the snapshot's: from the process start), and of the source and target clusters' processes alive at its end",
		"correctness: after every copy the target equals the source (count and md5 of every row)",
		fmt.Sprintf("PostgreSQL %s, two clusters on one machine: %s; %s; table: %d rows of (bigint key, int, 64-char text, numeric, timestamptz)",
			e.pgVersion, e.settings, orDev(e.sluiceVer), e.rows),
		fmt.Sprintf("machine: %d CPUs (%s), %s, %s/%s; date %s", runtime.NumCPU(), cpuModel(), memTotal(), runtime.GOOS, runtime.GOARCH,
			time.Now().UTC().Format("2006-01-02")),
	}
}

func (r *bfReport) markdown() string {
	var b strings.Builder
	b.WriteString("| copy of one 1,000,000-row table | rows/s (median) | range | seconds | sluice cpu_s | source cpu_s | target cpu_s |\n|:---|---:|---:|---:|---:|---:|---:|\n")
	for _, l := range []struct {
		name string
		pick func(bfRun) bfCopy
	}{
		{"initial snapshot", func(x bfRun) bfCopy { return x.snap }},
		{"back-fill, re-copy over the full target", func(x bfRun) bfCopy { return x.recopy }},
		{"back-fill into an empty target", func(x bfRun) bfCopy { return x.empty }},
	} {
		var rate, took, cpu, scpu, tcpu []float64
		for _, x := range r.runs {
			c := l.pick(x)
			rate, took, cpu = append(rate, c.rate()), append(took, c.took.Seconds()), append(cpu, c.cpu.Seconds())
			scpu, tcpu = append(scpu, c.srcCPU.Seconds()), append(tcpu, c.tgtCPU.Seconds())
		}
		fmt.Fprintf(&b, "| %s | %.0f | %.0f–%.0f | %.2f | %.2f | %.2f | %.2f |\n", l.name, median(rate), minOf(rate), maxOf(rate),
			median(took), median(cpu), median(scpu), median(tcpu))
	}
	b.WriteString("\n")
	for _, n := range r.notes() {
		b.WriteString("- " + n + "\n")
	}
	return b.String()
}

// runBackfillBench runs the back-fill measurement and prints its report,
// which says whether the goal is met; it fails only when a copy fails or
// leaves the target unequal to the source.
func runBackfillBench(ctx context.Context, o options, bin string) (*bfReport, int) {
	b := &bfEnv{opts: o, bin: bin, rows: o.bfRows}
	defer b.cleanup()
	if err := b.setup(ctx); err != nil {
		return nil, fail(ctx, o, b.logPath, err)
	}
	runs, err := b.runAll(ctx)
	if err != nil {
		return nil, fail(ctx, o, b.logPath, err)
	}
	rep := &bfReport{env: b, runs: runs}
	fmt.Println()
	fmt.Println("Back-fill:")
	fmt.Print(rep.text())
	return rep, 0
}
