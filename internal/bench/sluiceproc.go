package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"
)

// sluiceBinary builds ./cmd/sluice into dir unless -sluice names a binary:
// other people change the code while benchmarks run, and a stale
// bin/sluice would measure the wrong thing.
func sluiceBinary(ctx context.Context, o options, dir string) (string, error) {
	if o.sluiceBin != "" {
		return filepath.Abs(o.sluiceBin)
	}
	step("building sluice (go build ./cmd/sluice)")
	bin := filepath.Join(dir, "sluice")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "github.com/sluicecdc/sluice/cmd/sluice")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build sluice: %v\n%s", err, out)
	}
	return bin, nil
}

// sluiceProc is the sluice child process.
type sluiceProc struct {
	cmd  *exec.Cmd
	done chan struct{}
	err  error // how it exited; valid once done is closed
}

// startSluice starts `sluice run`. It runs in its own process group, so a
// Ctrl-C in the terminal reaches only us and we stop it in order; and with
// Pdeathsig, so it dies with us even on kill -9. Pdeathsig fires when the
// starting thread exits, so that goroutine keeps its thread until the child
// is gone.
func startSluice(bin, cfgPath string, logFile *os.File) (*sluiceProc, error) {
	p := &sluiceProc{done: make(chan struct{})}
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		defer logFile.Close()
		cmd := exec.Command(bin, "run", "--config", cfgPath)
		cmd.Stdout, cmd.Stderr = logFile, logFile
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
		if err := cmd.Start(); err != nil {
			started <- fmt.Errorf("start sluice: %w", err)
			return
		}
		p.cmd = cmd
		started <- nil
		p.err = cmd.Wait()
		close(p.done)
	}()
	if err := <-started; err != nil {
		return nil, err
	}
	return p, nil
}

func (p *sluiceProc) pid() int { return p.cmd.Process.Pid }

// exited returns an error when the process is gone.
func (p *sluiceProc) exited() error {
	select {
	case <-p.done:
		return fmt.Errorf("sluice exited unexpectedly (%v)", p.err)
	default:
		return nil
	}
}

// stop asks sluice to flush and exit (SIGTERM), and kills it after timeout.
func (p *sluiceProc) stop(timeout time.Duration) error {
	select {
	case <-p.done:
		return nil
	default:
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return p.err
	case <-time.After(timeout):
		p.cmd.Process.Kill()
		<-p.done
		return fmt.Errorf("sluice did not exit within %v of SIGTERM; killed", timeout)
	}
}

// sluiceRun is sluice in one leg of a comparison: one config, one process
// at a time (a paused leg has none), each start appending to one log that
// is kept for the report.
type sluiceRun struct {
	bin, cfgPath, logPath string
	p                     *sluiceProc
	rss                   *rssSampler
}

// start starts sluice and, with wait, waits until it streams from the
// source: it logs "streaming started" once its slot or binlog position is
// set, and a change committed before that is not decoded.
func (s *sluiceRun) start(ctx context.Context, wait bool) error {
	f, err := os.OpenFile(s.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return err
	}
	if s.p, err = startSluice(s.bin, s.cfgPath, f); err != nil {
		return err
	}
	s.rss = newRSSSampler(s.p.pid())
	if !wait {
		return nil
	}
	return waitLogged(ctx, s.logPath, st.Size(), `"streaming started"`, s.p)
}

// stop stops sluice (SIGTERM: it flushes, saves its position and exits).
func (s *sluiceRun) stop() error {
	if s.p == nil {
		return nil
	}
	err := s.p.stop(60 * time.Second)
	s.rss.close()
	s.p, s.rss = nil, nil
	return err
}

// waitLogged waits until sluice's log holds text after offset from.
func waitLogged(ctx context.Context, path string, from int64, text string, p *sluiceProc) error {
	deadline := time.Now().Add(90 * time.Second)
	for {
		if b, err := os.ReadFile(path); err == nil && int64(len(b)) >= from && strings.Contains(string(b[from:]), text) {
			return nil
		}
		if err := p.exited(); err != nil {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("sluice did not log %s within 90s", text)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func step(msg string) {
	fmt.Printf("%s  %s\n", time.Now().Format("15:04:05"), msg)
}

// logTail returns the last n lines of a file.
func logTail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(cannot read: %v)", err)
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
