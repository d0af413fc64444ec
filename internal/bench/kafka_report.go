package main

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
)

// kReport is the Kafka comparison's result.
type kReport struct {
	env       *kEnv
	workloads []workload
	results   [][][2]kResult // per workload, per run: native, kafka
}

// kGoal is the goal: Kafka at most half of native's time.
const kGoal = 0.5

var kHeader = []string{"workload", "rows", "runs", "native_s", "kafka_s", "ratio (range)", "goal", "sluice cpu_s", "broker cpu_s", "apply cpu_s", "walsender cpu_s nat/kafka", "sluice peak RSS MB"}

func (r *kReport) table() [][]string {
	out := [][]string{kHeader}
	for i, w := range r.workloads {
		var nat, kaf, rat, scpu, bcpu, acpu, wn, wk []float64
		var rss int64
		for _, p := range r.results[i] {
			nat = append(nat, p[0].took.Seconds())
			kaf = append(kaf, p[1].took.Seconds())
			rat = append(rat, p[1].took.Seconds()/p[0].took.Seconds())
			scpu = append(scpu, p[1].cpu.Seconds())
			bcpu = append(bcpu, p[1].brokerCPU.Seconds())
			acpu = append(acpu, p[0].cpu.Seconds())
			wn = append(wn, p[0].walsender.Seconds())
			wk = append(wk, p[1].walsender.Seconds())
			rss = max(rss, p[1].rssKB)
		}
		goal := "met"
		if median(rat) > kGoal {
			goal = "NOT met"
		}
		out = append(out, []string{w.name, thousands(w.rows), fmt.Sprint(len(rat)), f2(median(nat)), f2(median(kaf)),
			fmt.Sprintf("%s (%s–%s)", f2(median(rat)), f2(minOf(rat)), f2(maxOf(rat))), goal,
			f2(median(scpu)), f2(median(bcpu)), f2(median(acpu)), f2(median(wn)) + "/" + f2(median(wk)), fmt.Sprintf("%.0f", mb(rss))})
	}
	return out
}

func (r *kReport) notes() []string {
	return []string{
		"catch-up: each replicator is paused while the load commits (subscription disabled / sluice stopped, their slots keep the WAL), then timed from its resumption; live, both just keep pace with the load",
		"each replicator runs alone: per run a fresh subscription (copy_data off) or a fresh sluice pipeline with its own topic; the order alternates between runs",
		"native_s: from ALTER SUBSCRIPTION ... ENABLE until the subscriber's table holds every row (polled every " + pollInterval.String() + ")",
		"kafka_s: from the start of the sluice process until a read_committed consumer (franz-go, in the bench process) has read the last record; every record checked once (distinct keys = rows)",
		fmt.Sprintf("ratio = kafka_s / native_s per run (median and range); goal ≤ %.1f", kGoal),
		"cpu_s: CPU seconds in the timed window: sluice's process (from its start), the kfake broker process, the subscriber's apply worker, and the source's walsender serving each",
		"the broker is franz-go's kfake (in-memory with a data dir), not Apache Kafka: a real cluster's fsync and replication costs are not in these numbers",
	}
}

func (r *kReport) settings() []string {
	e := r.env
	return []string{
		"PostgreSQL " + e.pgVersion + ": " + e.settings + "; the subscriber's wal_retrieve_retry_interval = 50ms (its launcher starts each run's apply worker at once)",
		"sluice " + orDev(e.sluiceVer) + ": sink.kind kafka, exactly_once (transactional producer, default), 6 partitions, schemas on",
		"machine: " + cpuModel() + ", " + memTotal(),
	}
}

func (r *kReport) text() string {
	var b strings.Builder
	t := r.table()
	widths := make([]int, len(kHeader))
	for _, l := range t {
		for i, c := range l {
			widths[i] = max(widths[i], len(c))
		}
	}
	for _, l := range t {
		for i, c := range l {
			fmt.Fprintf(&b, "%-*s  ", widths[i], c)
		}
		b.WriteString("\n")
	}
	b.WriteString("\n")
	for _, s := range r.notes() {
		b.WriteString("- " + s + "\n")
	}
	b.WriteString("\nsettings:\n")
	for _, s := range r.settings() {
		b.WriteString("- " + s + "\n")
	}
	fmt.Fprintf(&b, "\nthe last sluice log is kept at %s\n", r.env.logPath)
	return b.String()
}

func (r *kReport) markdown() string {
	var b strings.Builder
	t := r.table()
	b.WriteString("| " + strings.Join(t[0], " | ") + " |\n|" + strings.Repeat("---:|", len(t[0])) + "\n")
	for _, l := range t[1:] {
		b.WriteString("| " + strings.Join(l, " | ") + " |\n")
	}
	b.WriteString("\n")
	for _, s := range r.notes() {
		b.WriteString("- " + s + "\n")
	}
	b.WriteString("\nSettings:\n\n")
	for _, s := range r.settings() {
		b.WriteString("- " + s + "\n")
	}
	return b.String()
}

// runKafkaBench runs the Kafka comparison and prints its report.
func runKafkaBench(ctx context.Context, o options, bin string) (*kReport, int) {
	k := &kEnv{opts: o, bin: bin, stopSampling: make(chan struct{})}
	defer k.cleanup()
	if err := k.setup(ctx); err != nil {
		return nil, fail(ctx, o, k.logPath, err)
	}
	rep, err := k.runAll(ctx)
	if err != nil {
		return nil, fail(ctx, o, k.logPath, err)
	}
	fmt.Println()
	fmt.Println("Kafka:")
	fmt.Print(rep.text())
	return rep, 0
}

func execOutput(ctx context.Context, bin string, args ...string) (string, error) {
	out, err := exec.CommandContext(ctx, bin, args...).Output()
	return strings.TrimSpace(string(out)), err
}
