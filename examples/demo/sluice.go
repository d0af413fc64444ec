package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// printer writes whole lines from several goroutines without mixing them.
type printer struct {
	mu sync.Mutex
	w  io.Writer
}

func newPrinter(w io.Writer) *printer { return &printer{w: w} }

func (p *printer) line(prefix, s string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.w, "%s%s\n", prefix, s)
}

// sluiceProc is a running `sluice run`, its output copied to the printer
// with the prefix "sluice | ".
type sluiceProc struct {
	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited and its output is read
	err  error         // cmd.Wait's result, set before done is closed
}

func startSluice(binary, cfgPath string, out *printer) (*sluiceProc, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(binary, "run", "--config", cfgPath)
	cmd.Stdout, cmd.Stderr = w, w
	if fi, err := os.Stdout.Stat(); err == nil && fi.Mode()&os.ModeCharDevice == 0 {
		cmd.Env = append(os.Environ(), "NO_COLOR=1") // the console log has no colors in a file or pipe
	}
	if err := cmd.Start(); err != nil {
		r.Close()
		w.Close()
		return nil, fmt.Errorf("start sluice: %w", err)
	}
	w.Close() // the child holds its own copy; EOF comes when it exits
	p := &sluiceProc{cmd: cmd, done: make(chan struct{})}
	go func() {
		br := bufio.NewReader(r)
		for {
			s, err := br.ReadString('\n')
			if s != "" {
				out.line("sluice | ", strings.TrimRight(s, "\r\n"))
			}
			if err != nil {
				break
			}
		}
		r.Close()
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

func (p *sluiceProc) pid() int { return p.cmd.Process.Pid }

func (p *sluiceProc) running() bool {
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// state describes how the process ended ("exit status 0", "signal: killed"),
// or says that it runs.
func (p *sluiceProc) state() string {
	if p.running() {
		return "running"
	}
	if p.cmd.ProcessState != nil {
		return p.cmd.ProcessState.String()
	}
	return p.err.Error()
}

// kill9 kills the process with SIGKILL and waits for it to be gone.
func (p *sluiceProc) kill9() {
	p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// terminate sends SIGTERM and waits up to timeout for a clean exit, then
// kills the process. It returns the exit status (-1: killed by a signal).
func (p *sluiceProc) terminate(timeout time.Duration) (int, error) {
	if p.running() {
		p.cmd.Process.Signal(syscall.SIGTERM)
	}
	select {
	case <-p.done:
	case <-time.After(timeout):
		p.kill9()
		return -1, fmt.Errorf("sluice did not exit within %s of SIGTERM; killed it", timeout)
	}
	var exit *exec.ExitError
	if p.err != nil && !errors.As(p.err, &exit) {
		return -1, p.err
	}
	return p.cmd.ProcessState.ExitCode(), nil
}
