package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"sort"
	"strings"
	"time"
)

// rssLimitMB is the most sluice may use in the large workload.
const rssLimitMB = 256

type report struct {
	env           *env
	workloads     []workload
	results       [][]runResult // per workload, per run
	verified      bool
	lifetimeRSSKB int64
	logSummary    logSummary
}

// row is one workload's line: medians over its runs, peak RSS the max.
type row struct {
	name                        string
	rows                        int64
	runs                        int
	load, native, sluice, ratio float64
	rssMB                       float64
	minRatio, maxRatio          float64
}

func (r *report) rows() []row {
	var out []row
	for i, w := range r.workloads {
		out = append(out, summarize(w.name, w.rows, r.results[i]))
	}
	order := map[string]int{"bulk": 0, "small": 1, "large": 2, "open": 3}
	sort.SliceStable(out, func(i, j int) bool { return order[out[i].name] < order[out[j].name] })
	return out
}

// summarize makes one workload's line from its runs.
func summarize(name string, rows int64, rs []runResult) row {
	var load, nat, slu, rat []float64
	var rss int64
	for _, x := range rs {
		load = append(load, x.load.Seconds())
		nat = append(nat, x.native.Seconds())
		slu = append(slu, x.sluice.Seconds())
		rat = append(rat, ratio(x))
		rss = max(rss, x.rssKB)
	}
	return row{name: name, rows: rows, runs: len(rs),
		load: median(load), native: median(nat), sluice: median(slu), ratio: median(rat), rssMB: mb(rss),
		minRatio: minOf(rat), maxRatio: maxOf(rat)}
}

func (r *report) largeOverLimit() bool {
	for _, x := range r.rows() {
		if (x.name == "large" || x.name == "open") && x.rssMB >= rssLimitMB {
			return true
		}
	}
	return false
}

var header = []string{"workload", "rows", "load_s", "native_s", "sluice_s", "ratio", "sluice_peak_rss_MB"}

func (x row) cells() []string {
	return []string{x.name, fmt.Sprint(x.rows), f2(x.load), f2(x.native), f2(x.sluice), f2(x.ratio), fmt.Sprintf("%.1f", x.rssMB)}
}

func (r *report) text() string     { return renderText(r, r.logSummary.path) }
func (r *report) markdown() string { return renderMarkdown(r) }

// reportBody is what both comparisons' reports are made of.
type reportBody interface {
	rows() []row
	notes() []string
	settings() []string
}

// renderText is a report for the terminal: the table, the notes, the
// settings and where sluice's log is kept.
func renderText(r reportBody, logPath string) string {
	var b strings.Builder
	b.WriteString(textTable(r.rows()))
	b.WriteString("\n")
	for _, s := range r.notes() {
		b.WriteString("- " + s + "\n")
	}
	b.WriteString("\nsettings:\n")
	for _, s := range r.settings() {
		b.WriteString("- " + s + "\n")
	}
	fmt.Fprintf(&b, "\nsluice's log is kept at %s\n", logPath)
	return b.String()
}

// renderMarkdown is a report for the README: the table, notes and settings.
func renderMarkdown(r reportBody) string {
	var b strings.Builder
	b.WriteString(mdTable(r.rows()))
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

// textTable renders rows as aligned text columns under header.
func textTable(rows []row) string {
	var b strings.Builder
	widths := make([]int, len(header))
	lines := [][]string{header}
	for _, x := range rows {
		lines = append(lines, x.cells())
	}
	for _, l := range lines {
		for i, c := range l {
			widths[i] = max(widths[i], len(c))
		}
	}
	for _, l := range lines {
		for i, c := range l {
			if i == len(l)-1 {
				b.WriteString(c)
			} else {
				fmt.Fprintf(&b, "%-*s  ", widths[i], c)
			}
		}
		b.WriteByte('\n')
	}
	return b.String()
}

// mdTable renders rows as a Markdown table under header.
func mdTable(rows []row) string {
	var b strings.Builder
	b.WriteString("| " + strings.Join(header, " | ") + " |\n")
	b.WriteString("|:---|---:|---:|---:|---:|---:|---:|\n")
	for _, x := range rows {
		b.WriteString("| " + strings.Join(x.cells(), " | ") + " |\n")
	}
	return b.String()
}

// notes explain the columns and carry the run-level facts.
func (r *report) notes() []string {
	var n []string
	n = append(n, "times are seconds from the start of the load until the target holds every row of the workload "+
		fmt.Sprintf("(each target polled every %v); load_s is the load itself; ratio = sluice_s / native_s", pollInterval))
	var spread []string
	for _, x := range r.rows() {
		if x.runs > 1 {
			spread = append(spread, fmt.Sprintf("%s %.2f–%.2f", x.name, x.minRatio, x.maxRatio))
		}
	}
	if len(spread) > 0 {
		n = append(n, fmt.Sprintf("medians of %d runs (large: 1 run); ratio is the median of the per-run ratios; ratio range: %s",
			r.env.opts.runs, strings.Join(spread, ", ")))
	}
	for _, x := range r.rows() {
		if x.name == "large" || x.name == "open" {
			verdict := "under"
			if x.rssMB >= rssLimitMB {
				verdict = "OVER"
			}
			n = append(n, fmt.Sprintf("%s: sluice peak RSS %.1f MB, %s the %d MB limit", x.name, x.rssMB, verdict, rssLimitMB))
		}
	}
	n = append(n, fmt.Sprintf("sluice peak RSS over the whole run (VmHWM / polled VmRSS): %.1f MB", mb(r.lifetimeRSSKB)))
	if r.verified {
		n = append(n, "correctness: after every run and at the end, both targets equal the source (count and md5 of every row)")
	}
	n = append(n, r.logSummary.String())
	return n
}

func (r *report) settings() []string {
	e := r.env
	var s []string
	for _, x := range r.rows() {
		for _, w := range r.workloads {
			if w.name == x.name {
				s = append(s, fmt.Sprintf("%s: %s", w.name, w.what))
			}
		}
	}
	s = append(s,
		fmt.Sprintf("PostgreSQL %s; three clusters on one machine (source, native target, sluice target), identical settings: %s",
			e.pgVersion, e.settings),
		fmt.Sprintf("native: CREATE SUBSCRIPTION ... WITH (copy_data = false, streaming = on), otherwise defaults (the subscription's synchronous_commit = %s)", e.subSync),
		fmt.Sprintf("sluice: %s, snapshot: never, merge mode, default batching (50,000 rows / 64 MB / 500 ms), log level %s; "+
			"its target commits with the server default synchronous_commit (on)", orDev(e.sluiceVer), e.opts.logLevel),
		"both replicators run at the same time on the same source; the clusters, sluice and the load share the machine",
		fmt.Sprintf("machine: %d CPUs (%s), %s, %s/%s", runtime.NumCPU(), cpuModel(), memTotal(), runtime.GOOS, runtime.GOARCH),
		"date: "+time.Now().UTC().Format("2006-01-02"),
	)
	return s
}

func ratio(r runResult) float64 {
	if r.native <= 0 {
		return 0
	}
	return r.sluice.Seconds() / r.native.Seconds()
}

func mb(kb int64) float64 { return float64(kb) / 1024 }

func f2(v float64) string { return fmt.Sprintf("%.2f", v) }

func orDev(v string) string {
	if v == "" {
		return "sluice (version unknown)"
	}
	return v
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
	if st, err := procMeminfo(); err == nil {
		return fmt.Sprintf("%.0f GB RAM", float64(st)/1024/1024)
	}
	return "RAM unknown"
}

func procMeminfo() (int64, error) {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0, err
	}
	var kb int64
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "MemTotal:") {
			_, err := fmt.Sscanf(strings.TrimPrefix(l, "MemTotal:"), "%d", &kb)
			return kb, err
		}
	}
	return 0, fmt.Errorf("no MemTotal")
}

// logSummary counts sluice's log events by level and keeps the warnings
// and errors.
type logSummary struct {
	path     string
	levels   map[string]int
	problems []string
	err      error
}

func summarizeLog(path string) logSummary {
	s := logSummary{path: path, levels: map[string]int{}}
	f, err := os.Open(path)
	if err != nil {
		s.err = err
		return s
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var ev struct {
			Level string `json:"level"`
		}
		if json.Unmarshal(sc.Bytes(), &ev) != nil {
			ev.Level = "unparsed"
		}
		s.levels[ev.Level]++
		if ev.Level != "info" && ev.Level != "debug" && ev.Level != "trace" && len(s.problems) < 10 {
			s.problems = append(s.problems, sc.Text())
		}
	}
	s.err = sc.Err()
	return s
}

func (s logSummary) String() string {
	if s.err != nil {
		return fmt.Sprintf("sluice log: %v", s.err)
	}
	var parts []string
	bad := 0
	for _, l := range []string{"trace", "debug", "info", "warn", "error", "fatal", "panic", "unparsed"} {
		if s.levels[l] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", s.levels[l], l))
			if l != "trace" && l != "debug" && l != "info" {
				bad += s.levels[l]
			}
		}
	}
	if bad == 0 {
		parts = append(parts, "no warnings or errors")
	}
	out := "sluice log: " + strings.Join(parts, ", ")
	for _, p := range s.problems {
		out += "\n    " + p
	}
	return out
}
