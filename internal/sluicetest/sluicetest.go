// Package sluicetest runs the sluice binary from tests outside cmd/sluice
// (a sink's end-to-end tests): it builds the binary once per test process
// and starts, stops and kills it.
package sluicetest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"syscall"
	"testing"
	"time"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// Binary builds ./cmd/sluice once per test process and returns its path.
func Binary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "sluicetest-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "sluice")
		cmd := exec.Command("go", "build", "-o", binPath, "./cmd/sluice")
		cmd.Dir = moduleRoot()
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("build sluice: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// moduleRoot is the repository root (where go.mod is), found from this file.
func moduleRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// Proc is a running sluice process.
type Proc struct {
	cmd  *exec.Cmd
	log  string
	done chan error
}

// Start runs `sluice <args...>` (e.g. "run", "--config", path) with its
// output in a log file under dir. The process is killed when the test ends.
func Start(t testing.TB, dir string, args ...string) *Proc {
	t.Helper()
	bin := Binary(t)
	logPath := filepath.Join(dir, fmt.Sprintf("sluice-%d.log", time.Now().UnixNano()))
	f, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		f.Close()
		t.Fatal(err)
	}
	p := &Proc{cmd: cmd, log: logPath, done: make(chan error, 1)}
	go func() { p.done <- cmd.Wait(); f.Close() }()
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	return p
}

// Log returns what the process has written so far.
func (p *Proc) Log() string {
	b, _ := os.ReadFile(p.log)
	return string(b)
}

// Stop sends SIGTERM and fails the test unless the process exits cleanly
// within a minute.
func (p *Proc) Stop(t testing.TB) {
	t.Helper()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-p.done:
		if err != nil {
			t.Fatalf("sluice exited with %v after SIGTERM; log:\n%s", err, p.Log())
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("sluice did not stop within 60s of SIGTERM; log:\n%s", p.Log())
	}
}

// Kill9 kills the process without warning and waits for it to be gone.
func (p *Proc) Kill9() {
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// Exited reports whether the process has ended, and its error if so.
func (p *Proc) Exited() (bool, error) {
	select {
	case err := <-p.done:
		p.done <- err // keep it for the next caller
		return true, err
	default:
		return false, nil
	}
}

// Wait waits up to d for the process to end and returns its error;
// it fails the test if the process is still running.
func (p *Proc) Wait(t testing.TB, d time.Duration) error {
	t.Helper()
	select {
	case err := <-p.done:
		p.done <- err
		return err
	case <-time.After(d):
		t.Fatalf("sluice still running after %s; log:\n%s", d, p.Log())
		return nil
	}
}
