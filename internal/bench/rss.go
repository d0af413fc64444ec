package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// rssSampler watches a process's resident memory: it polls VmRSS every
// 20 ms and reads the kernel's high-water mark VmHWM, which it resets at the
// start of each measured window (echo 5 > /proc/PID/clear_refs), so every
// workload gets its own peak.
type rssSampler struct {
	pid       int
	window    atomic.Int64 // max VmRSS (kB) seen since reset
	life      atomic.Int64 // max over the process's life (kB)
	resetable bool         // clear_refs works, so VmHWM is per window
	stop      chan struct{}
	wg        sync.WaitGroup
}

func newRSSSampler(pid int) *rssSampler {
	s := &rssSampler{pid: pid, stop: make(chan struct{})}
	s.wg.Go(s.loop)
	return s
}

func (s *rssSampler) loop() {
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for {
		if st, err := procStatus(s.pid); err == nil {
			raiseTo(&s.window, st["VmRSS"])
			raiseTo(&s.life, st["VmRSS"])
			raiseTo(&s.life, st["VmHWM"])
		}
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
	}
}

// reset starts a new window.
func (s *rssSampler) reset() {
	s.resetable = os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", s.pid), []byte("5"), 0) == nil
	s.window.Store(0)
	if st, err := procStatus(s.pid); err == nil {
		raiseTo(&s.window, st["VmRSS"])
	}
}

// peak returns the window's peak RSS in kB: the larger of the polled
// maximum and (when it could be reset) VmHWM.
func (s *rssSampler) peak() int64 {
	if st, err := procStatus(s.pid); err == nil {
		raiseTo(&s.window, st["VmRSS"])
		raiseTo(&s.life, st["VmHWM"])
		if s.resetable {
			raiseTo(&s.window, st["VmHWM"])
		}
	}
	return s.window.Load()
}

// lifetime returns the peak RSS over the process's life so far, in kB.
func (s *rssSampler) lifetime() int64 {
	s.peak()
	return s.life.Load()
}

func (s *rssSampler) close() {
	close(s.stop)
	s.wg.Wait()
}

func raiseTo(a *atomic.Int64, v int64) {
	for {
		cur := a.Load()
		if v <= cur || a.CompareAndSwap(cur, v) {
			return
		}
	}
}

// cpuTime returns the user+system CPU time a process has used, from
// /proc/PID/stat (clock ticks of 1/100 s, USER_HZ on Linux).
func cpuTime(pid int) time.Duration {
	return statCPU(fmt.Sprintf("/proc/%d/stat", pid))
}

// statCPU reads utime+stime from a /proc stat file; 0 when it is gone.
func statCPU(path string) time.Duration {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	// The command name (field 2) may hold spaces; the fields after its ')'
	// start with field 3, so utime and stime (14, 15) are at 11 and 12.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0
	}
	f := bytes.Fields(b[i+1:])
	if len(f) < 13 {
		return 0
	}
	u, err1 := strconv.ParseInt(string(f[11]), 10, 64)
	s, err2 := strconv.ParseInt(string(f[12]), 10, 64)
	if err1 != nil || err2 != nil {
		return 0
	}
	return time.Duration(u+s) * 10 * time.Millisecond
}

// procStatus reads the kB fields of /proc/PID/status (VmRSS, VmHWM, ...).
func procStatus(pid int) (map[string]int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return nil, err
	}
	out := map[string]int64{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		name, rest, ok := bytes.Cut(sc.Bytes(), []byte(":"))
		if !ok || !bytes.HasSuffix(rest, []byte(" kB")) {
			continue
		}
		v, err := strconv.ParseInt(string(bytes.TrimSpace(bytes.TrimSuffix(rest, []byte(" kB")))), 10, 64)
		if err == nil {
			out[string(name)] = v
		}
	}
	return out, nil
}
