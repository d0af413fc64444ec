package main

import (
	"fmt"
	"runtime"
	"slices"
	"sort"
	"strings"
	"time"
)

// myReport is the MariaDB comparison's result.
type myReport struct {
	env           *myEnv
	workloads     []myWorkload
	results       [][]runResult // per workload, per run
	verified      bool
	lifetimeRSSKB int64
	logSummary    logSummary
}

func (r *myReport) rows() []row {
	var out []row
	for i, w := range r.workloads {
		out = append(out, summarize(w.name, w.rows, r.results[i]))
	}
	order := map[string]int{"bulk": 0, "small": 1}
	sort.SliceStable(out, func(i, j int) bool { return order[out[i].name] < order[out[j].name] })
	return out
}

func (r *myReport) text() string     { return renderText(r, r.logSummary.path) }
func (r *myReport) markdown() string { return renderMarkdown(r) }

func (r *myReport) notes() []string {
	var n []string
	n = append(n, "times are seconds from the start of the load until the target holds every row of the workload "+
		fmt.Sprintf("(each target polled every %v); load_s is the load itself; ratio = sluice_s / native_s (native: the MariaDB replica)", pollInterval))
	var spread []string
	for _, x := range r.rows() {
		if x.runs > 1 {
			spread = append(spread, fmt.Sprintf("%s %.2f–%.2f", x.name, x.minRatio, x.maxRatio))
		}
	}
	if len(spread) > 0 {
		n = append(n, fmt.Sprintf("medians of %d runs; ratio is the median of the per-run ratios; ratio range: %s",
			r.env.opts.runs, strings.Join(spread, ", ")))
	}
	for _, x := range r.rows() {
		i := slices.IndexFunc(r.workloads, func(w myWorkload) bool { return w.name == x.name })
		var c, sc, nc, sa, na []float64
		for _, x := range r.results[i] {
			c, sc, nc = append(c, x.cpu.Seconds()), append(sc, x.sluSrvCPU.Seconds()), append(nc, x.natSrvCPU.Seconds())
			sa, na = append(sa, x.sluApply.Seconds()), append(na, x.natApply.Seconds())
		}
		n = append(n, fmt.Sprintf("%s: CPU seconds used per run (median): sluice %.2f + its target server %.2f; native replica server %.2f. "+
			"The target's applying thread alone: sluice's connection %.2f, the replica's SQL thread %.2f",
			x.name, median(c), median(sc), median(nc), median(sa), median(na)))
	}
	n = append(n, fmt.Sprintf("sluice peak RSS over the whole run (VmHWM / polled VmRSS): %.1f MB", mb(r.lifetimeRSSKB)))
	if r.verified {
		n = append(n, "correctness: after every run and at the end, both targets equal the source (count and a checksum over every column of every row); "+
			"the targets' commit settings were the same at the end as at the start")
	}
	n = append(n, r.logSummary.String())
	return n
}

func (r *myReport) settings() []string {
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
		fmt.Sprintf("MariaDB %s; three servers on one machine (source, native replica, sluice target), same options (%s); "+
			"the targets run without a binary log", e.version, strings.Join(myServerArgs, " ")),
		"source: "+e.srcSettings,
		"both targets, checked equal: "+e.tgtSettings,
		fmt.Sprintf("native: %s; START SLAVE; replica applier settings: %s",
			strings.Replace(e.nativeChannel, fmt.Sprintf("MASTER_PORT=%d", e.src.Port), "MASTER_PORT=<source>", 1), e.replSettings),
		fmt.Sprintf("sluice: %s, source.kind mysql (server_id %d), sink.kind mysql, snapshot: never, merge mode, default batching, log level %s",
			orDev(e.sluiceVer), mySluiceServerID, e.opts.logLevel),
		"both replicators run at the same time on the same source; the servers, sluice and the load share the machine",
		fmt.Sprintf("machine: %d CPUs (%s), %s, %s/%s", runtime.NumCPU(), cpuModel(), memTotal(), runtime.GOOS, runtime.GOARCH),
		"date: "+time.Now().UTC().Format("2006-01-02"),
	)
	return s
}
