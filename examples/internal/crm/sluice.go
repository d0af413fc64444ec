package crm

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// Sluice is a running `sluice run`, its output copied to a Printer line by
// line with a prefix.
type Sluice struct {
	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited and its output is read
	err  error         // cmd.Wait's result, set before done is closed
}

// StartSluice runs `binary run --config cfgPath` with the environment
// os.Environ() plus env ("NAME=value"), printing its output prefixed.
func StartSluice(binary, cfgPath string, env []string, out *Printer, prefix string) (*Sluice, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(binary, "run", "--config", cfgPath)
	cmd.Stdout, cmd.Stderr = w, w
	cmd.Env = append(os.Environ(), env...)
	if fi, err := os.Stdout.Stat(); err == nil && fi.Mode()&os.ModeCharDevice == 0 {
		cmd.Env = append(cmd.Env, "NO_COLOR=1") // the console log has no colors in a file or pipe
	}
	if err := cmd.Start(); err != nil {
		r.Close()
		w.Close()
		return nil, fmt.Errorf("start sluice: %w", err)
	}
	w.Close() // the child holds its own copy; EOF comes when it exits
	p := &Sluice{cmd: cmd, done: make(chan struct{})}
	go func() {
		br := bufio.NewReader(r)
		for {
			s, err := br.ReadString('\n')
			if s != "" {
				out.Line(prefix, strings.TrimRight(s, "\r\n"))
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

// Pid is the process id.
func (p *Sluice) Pid() int { return p.cmd.Process.Pid }

// Running tells whether the process still runs.
func (p *Sluice) Running() bool {
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// State describes how the process ended ("exit status 0", "signal: killed"),
// or says that it runs.
func (p *Sluice) State() string {
	if p.Running() {
		return "running"
	}
	if p.cmd.ProcessState != nil {
		return p.cmd.ProcessState.String()
	}
	return p.err.Error()
}

// Kill9 kills the process with SIGKILL and waits for it to be gone.
func (p *Sluice) Kill9() {
	p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// Terminate sends SIGTERM and waits up to timeout for a clean exit, then
// kills the process. It returns the exit status (-1: killed by a signal).
func (p *Sluice) Terminate(timeout time.Duration) (int, error) {
	if p.Running() {
		p.cmd.Process.Signal(syscall.SIGTERM)
	}
	select {
	case <-p.done:
	case <-time.After(timeout):
		p.Kill9()
		return -1, fmt.Errorf("sluice did not exit within %s of SIGTERM; killed it", timeout)
	}
	var exit *exec.ExitError
	if p.err != nil && !errors.As(p.err, &exit) {
		return -1, p.err
	}
	return p.cmd.ProcessState.ExitCode(), nil
}
