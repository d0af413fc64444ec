// Package natstest starts a throwaway NATS server with JetStream (the
// Debian nats-server, as its own process) for tests: on a free port, with
// a store directory of its own, so that Stop, Kill and Start keep its
// streams on the same port, as a server restart in production would.
package natstest

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sluicecdc/sluice/internal/testport"
)

// Server is a nats-server process with JetStream on.
type Server struct {
	Port int
	dir  string
	bin  string
	cmd  *exec.Cmd
	done chan error
	noJS bool
}

// binary finds nats-server: on PATH, else where Debian installs it.
func binary() (string, error) {
	if p, err := exec.LookPath("nats-server"); err == nil {
		return p, nil
	}
	if _, err := os.Stat("/usr/sbin/nats-server"); err == nil {
		return "/usr/sbin/nats-server", nil
	}
	return "", fmt.Errorf("natstest: nats-server not found on PATH nor at /usr/sbin/nats-server (install the Debian package nats-server; scripts/deps.sh does)")
}

// Start starts a server on a free port with a store directory the test
// removes; the test fails if the server does not come up. The server is
// killed when the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	s, err := StartServer(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Kill)
	return s
}

// StartWithoutJetStream starts a server without -js, to test what a client
// says about it.
func StartWithoutJetStream(t testing.TB) *Server {
	t.Helper()
	s, err := startServer(t.TempDir(), true)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Kill)
	return s
}

// StartServer starts a server keeping its store under dir; the caller
// stops it.
func StartServer(dir string) (*Server, error) { return startServer(dir, false) }

func startServer(dir string, noJS bool) (*Server, error) {
	bin, err := binary()
	if err != nil {
		return nil, err
	}
	port, err := testport.Free()
	if err != nil {
		return nil, err
	}
	s := &Server{Port: port, dir: dir, bin: bin, noJS: noJS}
	return s, s.Start()
}

// URL is the server's client URL.
func (s *Server) URL() string { return "nats://127.0.0.1:" + strconv.Itoa(s.Port) }

// Dir is where the server keeps its store and log.
func (s *Server) Dir() string { return s.dir }

// Start starts the (stopped) server again on its port with its store.
func (s *Server) Start() error {
	if s.cmd != nil {
		return fmt.Errorf("natstest: the server is running")
	}
	logPath := filepath.Join(s.dir, "nats-server.log")
	// -js: JetStream; -sd: its store; no -l, so the log goes to stderr,
	// which we append to the log file.
	args := []string{"-a", "127.0.0.1", "-p", strconv.Itoa(s.Port), "-n", "natstest-" + strconv.Itoa(s.Port)}
	if !s.noJS {
		args = append(args, "-js", "-sd", filepath.Join(s.dir, "store"))
	}
	cmd := exec.Command(s.bin, args...)
	log, err := os.OpenFile(logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("natstest: %w", err)
	}
	out, err := cmd.StderrPipe()
	if err != nil {
		log.Close()
		return fmt.Errorf("natstest: %w", err)
	}
	if err := cmd.Start(); err != nil {
		log.Close()
		return fmt.Errorf("natstest: start %s: %w", s.bin, err)
	}
	ready := make(chan struct{})
	s.cmd, s.done = cmd, make(chan error, 1)
	go func() {
		r := bufio.NewReader(out)
		signalled := false
		for {
			line, err := r.ReadString('\n')
			log.WriteString(line) //nolint:errcheck // best effort
			if !signalled && strings.Contains(line, "Server is ready") {
				close(ready)
				signalled = true
			}
			if err != nil {
				break
			}
		}
		log.Close()
		s.done <- cmd.Wait()
	}()
	select {
	case <-ready:
	case err := <-s.done:
		s.cmd = nil
		return fmt.Errorf("natstest: nats-server exited at start (%v):\n%s", err, s.LogTail())
	case <-time.After(30 * time.Second):
		s.Kill()
		return fmt.Errorf("natstest: nats-server did not get ready within 30s:\n%s", s.LogTail())
	}
	// "ready" is logged once it listens; check that the port is ours.
	c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(s.Port), 5*time.Second)
	if err != nil {
		s.Kill()
		return fmt.Errorf("natstest: nats-server is not reachable on port %d: %v\n%s", s.Port, err, s.LogTail())
	}
	c.Close()
	return nil
}

// Stop shuts the server down cleanly (SIGTERM): its store stays.
func (s *Server) Stop() error {
	if s.cmd == nil {
		return nil
	}
	s.cmd.Process.Signal(syscall.SIGTERM) //nolint:errcheck // it may have exited
	select {
	case <-s.done:
	case <-time.After(30 * time.Second):
		s.Kill()
		return fmt.Errorf("natstest: nats-server did not stop within 30s")
	}
	s.cmd = nil
	return nil
}

// Restart stops the server cleanly and starts it again with its store.
func (s *Server) Restart() error {
	if err := s.Stop(); err != nil {
		return err
	}
	return s.Start()
}

// Kill stops the server with SIGKILL, as a crash would.
func (s *Server) Kill() {
	if s.cmd == nil {
		return
	}
	s.cmd.Process.Kill() //nolint:errcheck // it may have exited
	<-s.done
	s.cmd = nil
}

// LogTail is the end of the server's log, for failures.
func (s *Server) LogTail() string {
	data, _ := os.ReadFile(filepath.Join(s.dir, "nats-server.log"))
	if len(data) > 4000 {
		data = data[len(data)-4000:]
	}
	return string(data)
}
