package main

import (
	"fmt"
	"os"
	"runtime"
	"sort"
	"strings"
	"time"
)

// rssLimitMB is the most sluice may use in the workloads marked rssLimit.
const rssLimitMB = 256

// stat is a median with its range over the runs.
type stat struct{ med, lo, hi float64 }

func statOf(xs []float64) stat {
	if len(xs) == 0 {
		return stat{}
	}
	return stat{median(xs), minOf(xs), maxOf(xs)}
}

// String is "2.30 (2.21–2.45)", or "2.30" for one run.
func (s stat) String() string {
	if s.lo == s.hi {
		return f2(s.med)
	}
	return fmt.Sprintf("%s (%s–%s)", f2(s.med), f2(s.lo), f2(s.hi))
}

// pick collects one number of one side over a workload's runs.
func pick(rs [][2]legResult, s side, f func(legResult) time.Duration) []float64 {
	var out []float64
	for _, p := range rs {
		out = append(out, f(p[s]).Seconds())
	}
	return out
}

// table is the report's table: a header and one line per workload.
func (r *engineReport) table() [][]string {
	head := []string{"workload", "rows", "native s", "sluice s", "sluice ÷ native",
		"CPU s sluice", "CPU s " + r.eng.sourceLabel() + " (native / sluice)",
		"CPU s target (native / sluice)", "CPU s machine (native / sluice)", "sluice peak RSS MB"}
	out := [][]string{head}
	for i, w := range r.workloads {
		rs := r.results[i]
		var ratios []float64
		var rss int64
		for _, p := range rs {
			ratios = append(ratios, legRatio(p))
			rss = max(rss, p[sluice].rssKB)
		}
		took := func(x legResult) time.Duration { return x.took }
		both := func(f func(legResult) time.Duration) string {
			return f2(median(pick(rs, native, f))) + " / " + f2(median(pick(rs, sluice, f)))
		}
		out = append(out, []string{w.name, thousands(w.rows),
			statOf(pick(rs, native, took)).String(), statOf(pick(rs, sluice, took)).String(), statOf(ratios).String(),
			f2(median(pick(rs, sluice, func(x legResult) time.Duration { return x.sluCPU }))),
			both(func(x legResult) time.Duration { return x.srcCPU }),
			both(func(x legResult) time.Duration { return x.tgtCPU }),
			both(func(x legResult) time.Duration { return x.allCPU }),
			fmt.Sprintf("%.1f", mb(rss))})
	}
	return out
}

// overLimit names the workloads whose RSS limit sluice exceeded.
func (r *engineReport) overLimit() []string {
	var out []string
	for i, w := range r.workloads {
		for _, p := range r.results[i] {
			if w.rssLimit && mb(p[sluice].rssKB) >= rssLimitMB {
				out = append(out, w.name)
				break
			}
		}
	}
	return out
}

func (r *engineReport) notes() []string {
	n := []string{
		fmt.Sprintf("each replicator runs ALONE: per run a fresh target, native then sluice or sluice then native, alternating; "+
			"%d runs; medians, ranges in parentheses; the ratio is the median of the per-run ratios", r.runs),
		"live workloads: seconds from the start of the load until the target holds every row; backlog: from the replicator's start " +
			"(the load committed while it was stopped) until caught up; copy: from the replicator's creation until every row is on the target " +
			fmt.Sprintf("(targets polled every %v, a copy every %v)", pollInterval, 5*pollInterval),
		"CPU seconds are read from /proc before and after each measured window: sluice's process; " + r.eng.sourceLabel() +
			" on the source; the target server (every process, including exited ones, and the bench's polling); " +
			"the machine (/proc/stat, busy time of all CPUs: the load, both servers and the replicator)",
	}
	for i, w := range r.workloads {
		if w.rssLimit {
			var rss int64
			for _, p := range r.results[i] {
				rss = max(rss, p[sluice].rssKB)
			}
			verdict := "under"
			if mb(rss) >= rssLimitMB {
				verdict = "OVER"
			}
			n = append(n, fmt.Sprintf("%s: sluice peak RSS %.1f MB, %s the %d MB limit", w.name, mb(rss), verdict, rssLimitMB))
		}
	}
	if r.verified {
		n = append(n, "correctness: after every leg the target equals the source's rows of that leg (count and a checksum over every column of every row)")
	}
	return append(n, r.logSum.String())
}

func (r *engineReport) settingsList() []string {
	var s []string
	for _, w := range r.workloads {
		s = append(s, fmt.Sprintf("%s: %s", w.name, w.what))
	}
	s = append(s, r.eng.settings()...)
	return append(s,
		fmt.Sprintf("machine: %d CPUs (%s), %s, %s/%s", runtime.NumCPU(), cpuModel(), memTotal(), runtime.GOOS, runtime.GOARCH),
		"date: "+time.Now().UTC().Format("2006-01-02"))
}

// text is the report for the terminal.
func (r *engineReport) text() string {
	var b strings.Builder
	t := r.table()
	widths := make([]int, len(t[0]))
	for _, l := range t {
		for i, c := range l {
			widths[i] = max(widths[i], len([]rune(c)))
		}
	}
	for _, l := range t {
		for i, c := range l {
			if i == len(l)-1 {
				b.WriteString(c)
			} else {
				fmt.Fprintf(&b, "%s%s  ", c, strings.Repeat(" ", widths[i]-len([]rune(c))))
			}
		}
		b.WriteByte('\n')
	}
	b.WriteString("\n")
	for _, s := range r.notes() {
		b.WriteString("- " + s + "\n")
	}
	b.WriteString("\nsettings:\n")
	for _, s := range r.settingsList() {
		b.WriteString("- " + s + "\n")
	}
	fmt.Fprintf(&b, "\nsluice's log is kept at %s\n", r.eng.logPath())
	return b.String()
}

// markdown is the report for the README.
func (r *engineReport) markdown() string {
	var b strings.Builder
	t := r.table()
	b.WriteString("| " + strings.Join(t[0], " | ") + " |\n|:---|" + strings.Repeat("---:|", len(t[0])-1) + "\n")
	for _, l := range t[1:] {
		b.WriteString("| " + strings.Join(l, " | ") + " |\n")
	}
	b.WriteString("\n")
	for _, s := range r.notes() {
		b.WriteString("- " + s + "\n")
	}
	b.WriteString("\nSettings:\n\n")
	for _, s := range r.settingsList() {
		b.WriteString("- " + s + "\n")
	}
	return b.String()
}

func mb(kb int64) float64 { return float64(kb) / 1024 }

func f2(v float64) string { return fmt.Sprintf("%.2f", v) }

func orDev(v string) string {
	if v == "" {
		return "sluice (version unknown)"
	}
	return v
}

// thousands formats n with thousands separators: 30000 → "30,000".
func thousands(n int64) string {
	s := fmt.Sprint(n)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && c != '-' && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func minOf(xs []float64) float64 {
	m := xs[0]
	for _, x := range xs {
		m = min(m, x)
	}
	return m
}

func maxOf(xs []float64) float64 {
	m := xs[0]
	for _, x := range xs {
		m = max(m, x)
	}
	return m
}

func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown CPU"
	}
	for _, l := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown CPU"
}

func memTotal() string {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return "RAM unknown"
	}
	for _, l := range strings.Split(string(b), "\n") {
		var kb int64
		if strings.HasPrefix(l, "MemTotal:") {
			if _, err := fmt.Sscanf(strings.TrimPrefix(l, "MemTotal:"), "%d", &kb); err == nil {
				return fmt.Sprintf("%.0f GB RAM", float64(kb)/1024/1024)
			}
		}
	}
	return "RAM unknown"
}
