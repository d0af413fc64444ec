package main

import (
	"math/rand/v2"
	"os/exec"
	"strconv"
	"testing"
	"time"
)

// TestCrashUnderPgbench kills sluice with SIGKILL several times while
// pgbench writes to the source — once during the initial snapshot — and then
// checks every pgbench table row by row, including pgbench_history, which
// has no primary key (so a replayed insert would show up as a duplicate).
func TestCrashUnderPgbench(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "batch:\n  rows: 2000\n")
	pgbench := func(args ...string) *exec.Cmd {
		return exec.Command("pgbench", append([]string{"-h", "127.0.0.1", "-p", strconv.Itoa(e.src.Port), "-U", "postgres"}, append(args, "app")...)...)
	}
	if out, err := pgbench("-i", "-s", "2", "-q").CombinedOutput(); err != nil {
		t.Fatalf("pgbench -i: %v\n%s", err, out)
	}
	load := pgbench("-n", "-c", "4", "-j", "2", "-T", "25")
	loadOut := &limitedBuffer{}
	load.Stdout, load.Stderr = loadOut, loadOut
	if err := load.Start(); err != nil {
		t.Fatal(err)
	}
	loadDone := make(chan error, 1)
	go func() { loadDone <- load.Wait() }()

	// First kill lands during the snapshot (200k accounts take a moment).
	kills := []time.Duration{300 * time.Millisecond}
	for i := 0; i < 4; i++ {
		kills = append(kills, time.Duration(1500+rand.IntN(3000))*time.Millisecond)
	}
	for i, d := range kills {
		p := e.start()
		time.Sleep(d)
		select {
		case err := <-p.done:
			t.Fatalf("sluice exited on its own (%v) before kill %d; log:\n%s", err, i+1, p.logText())
		default:
		}
		p.kill9()
		t.Logf("kill -9 #%d after %v", i+1, d)
	}
	p := e.start()
	if err := <-loadDone; err != nil {
		t.Fatalf("pgbench: %v\n%s", err, loadOut.String())
	}
	e.waitEqual(120*time.Second, p, "pgbench_accounts", "pgbench_branches", "pgbench_tellers", "pgbench_history")
	n, _ := e.src.QueryValue(t.Context(), "app", "SELECT count(*) FROM pgbench_history")
	t.Logf("target equals source row for row after %d kills; pgbench_history has %s rows", len(kills), n)
	p.stop(t)
}

// limitedBuffer keeps the last 64 KiB written to it.
type limitedBuffer struct{ b []byte }

func (l *limitedBuffer) Write(p []byte) (int, error) {
	l.b = append(l.b, p...)
	if len(l.b) > 64<<10 {
		l.b = l.b[len(l.b)-64<<10:]
	}
	return len(p), nil
}

func (l *limitedBuffer) String() string { return string(l.b) }
