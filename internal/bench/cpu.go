package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sluicecdc/sluice/internal/pgtest"
)

// machineCPU is the CPU time the whole machine spent busy (user, nice,
// system, irq, softirq, steal; not idle or iowait) since boot, from the
// first line of /proc/stat.
func machineCPU() time.Duration {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := bytes.Cut(b, []byte("\n"))
	f := strings.Fields(string(line))
	if len(f) < 9 || f[0] != "cpu" {
		return 0
	}
	var ticks int64
	for _, i := range []int{1, 2, 3, 6, 7, 8} { // user nice system [idle iowait] irq softirq steal
		v, _ := strconv.ParseInt(f[i], 10, 64)
		ticks += v
	}
	return time.Duration(ticks) * 10 * time.Millisecond
}

// procStat is what the bench reads of one /proc/PID/stat.
type procStat struct {
	ppid     int
	cpu      time.Duration // utime + stime
	children time.Duration // cutime + cstime: children that exited and were waited for
}

// readStat parses a /proc stat file; ok is false when it is gone.
func readStat(path string) (procStat, bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return procStat{}, false
	}
	// The command name (field 2) may hold spaces; the fields after its ')'
	// start with field 3: ppid is at 1, utime..cstime (14..17) at 11..14.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return procStat{}, false
	}
	f := bytes.Fields(b[i+1:])
	if len(f) < 15 {
		return procStat{}, false
	}
	n := func(j int) int64 { v, _ := strconv.ParseInt(string(f[j]), 10, 64); return v }
	tick := 10 * time.Millisecond // USER_HZ is 100 on Linux
	return procStat{ppid: int(n(1)), cpu: time.Duration(n(11)+n(12)) * tick,
		children: time.Duration(n(13)+n(14)) * tick}, true
}

// treeCPU is the CPU time of a server process and all its children, exact
// across children that come and go: the process's own time, the time of
// its children that exited (the kernel adds it to the parent's cutime and
// cstime when the parent reaps them; a postmaster reaps every backend), and
// the time of the children alive now. The difference of two readings is
// what the server used in between.
func treeCPU(pid int) time.Duration {
	root, ok := readStat(fmt.Sprintf("/proc/%d/stat", pid))
	if !ok {
		return 0
	}
	total := root.cpu + root.children
	for _, c := range childPids(pid) {
		if st, ok := readStat(fmt.Sprintf("/proc/%d/stat", c)); ok && st.ppid == pid {
			total += st.cpu
		}
	}
	return total
}

// childPids lists the processes whose parent is pid.
func childPids(pid int) []int {
	var out []int
	paths, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, p := range paths {
		if st, ok := readStat(p); ok && st.ppid == pid {
			c, _ := strconv.Atoi(filepath.Base(filepath.Dir(p)))
			out = append(out, c)
		}
	}
	return out
}

// postmasterPid reads a cluster's postmaster pid from postmaster.pid.
func postmasterPid(c *pgtest.Cluster) int {
	data, err := os.ReadFile(filepath.Join(c.Dir, "postmaster.pid"))
	if err != nil {
		return 0
	}
	pm, _ := strconv.Atoi(strings.TrimSpace(strings.SplitN(string(data), "\n", 2)[0]))
	return pm
}

// clusterCPU is the CPU time a PostgreSQL cluster used so far: its
// postmaster and every backend and auxiliary process, including those that
// exited (see treeCPU).
func clusterCPU(c *pgtest.Cluster) time.Duration {
	if pm := postmasterPid(c); pm != 0 {
		return treeCPU(pm)
	}
	return 0
}

// walsenderMeter adds up the CPU time of a cluster's walsender processes
// (found by their process title, "postgres: walsender ..."), polling every
// 50 ms: a walsender's time counts up to its last poll, so one that exits
// (a table-sync worker's) loses at most 50 ms. The total grows across
// walsenders; two readings bracket a window.
type walsenderMeter struct {
	pm   int
	mu   sync.Mutex
	seen map[int]time.Duration // CPU time by pid, as last polled
	stop chan struct{}
	wg   sync.WaitGroup
}

func newWalsenderMeter(c *pgtest.Cluster) *walsenderMeter {
	m := &walsenderMeter{pm: postmasterPid(c), seen: map[int]time.Duration{}, stop: make(chan struct{})}
	m.wg.Go(func() {
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		for {
			m.poll()
			select {
			case <-m.stop:
				return
			case <-t.C:
			}
		}
	})
	return m
}

func (m *walsenderMeter) poll() {
	for _, pid := range childPids(m.pm) {
		title, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if err != nil || !bytes.Contains(title, []byte("walsender")) {
			continue
		}
		if st, ok := readStat(fmt.Sprintf("/proc/%d/stat", pid)); ok {
			m.mu.Lock()
			m.seen[pid] = max(m.seen[pid], st.cpu)
			m.mu.Unlock()
		}
	}
}

// read polls once more and returns the total so far.
func (m *walsenderMeter) read() time.Duration {
	m.poll()
	m.mu.Lock()
	defer m.mu.Unlock()
	var total time.Duration
	for _, t := range m.seen {
		total += t
	}
	return total
}

func (m *walsenderMeter) close() {
	close(m.stop)
	m.wg.Wait()
}
