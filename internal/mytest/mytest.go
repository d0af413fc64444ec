// Package mytest starts throwaway MariaDB servers for integration tests,
// benchmarks and the demo.
//
// A server lives in one directory:
//
//	<dir>/data        the data directory
//	<dir>/binlog.*    the binary log (row format, full image, full metadata)
//	<dir>/server.log  the error log
//	<dir>/owner.pid   the pid of the process that made it
//
// Clients connect over TCP to 127.0.0.1 as "root" with no password. The
// first server of a process runs mariadb-install-db once into a template that
// later servers copy, which makes starting one take about a second.
//
// A server whose owner died without calling Remove (test timeout, Ctrl-C) is
// killed and deleted by the next StartServer of any process.
package mytest

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/sluicecdc/sluice/internal/testport"
)

const (
	startTimeout = 60 * time.Second
	tempPrefix   = "mytest-"
	ownerFile    = "owner.pid"
	logTailLines = 30
)

// Options configures StartServer. The zero value is a good default.
type Options struct {
	ServerID int  // --server-id; 0 picks a distinct one
	Port     int  // 0 picks a free port
	NoBinlog bool // start without --log-bin (to test check's messages)
	// Durable keeps innodb_flush_log_at_trx_commit=1 and sync_binlog=1, so a
	// kill -9 of the server loses no committed transaction. Off, commits are
	// flushed once a second, which is faster for tests that never kill it.
	Durable bool
	// Args are extra mariadbd options, e.g. "--binlog-row-metadata=MINIMAL".
	// A later option overrides an earlier one of the same name.
	Args []string
}

// Server is a MariaDB server started by StartServer.
type Server struct {
	Port     int
	ServerID int
	Dir      string // the data directory

	base string
	opts Options
	cmd  *exec.Cmd
	done chan struct{}
	mu   sync.Mutex
	db   *sql.DB
}

var (
	sweepOnce   sync.Once
	templateMu  sync.Mutex
	templateDir string
	nextID      = 100 + os.Getpid()%1000*10
	idMu        sync.Mutex
)

// StartServer creates a data directory, starts mariadbd on it and waits until
// it accepts connections. On failure nothing is left running, and the error
// quotes the end of the server log.
func StartServer(ctx context.Context, opts Options) (_ *Server, err error) {
	sweepOnce.Do(sweepStale)
	tmpl, err := template(ctx)
	if err != nil {
		return nil, err
	}
	s := &Server{opts: opts, ServerID: opts.ServerID}
	if s.ServerID == 0 {
		idMu.Lock()
		nextID++
		s.ServerID = nextID
		idMu.Unlock()
	}
	if s.base, err = os.MkdirTemp("", tempPrefix); err != nil {
		return nil, fmt.Errorf("mytest: %w", err)
	}
	defer func() {
		if err != nil {
			s.Remove()
		}
	}()
	if err := os.WriteFile(filepath.Join(s.base, ownerFile), []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
		return nil, fmt.Errorf("mytest: %w", err)
	}
	s.Dir = filepath.Join(s.base, "data")
	if out, err := exec.CommandContext(ctx, "cp", "-a", tmpl, s.Dir).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("mytest: copy template data directory: %v: %s", err, out)
	}
	for attempt := 1; ; attempt++ {
		s.Port = opts.Port
		if s.Port == 0 {
			if s.Port, err = testport.Free(); err != nil {
				return nil, err
			}
		}
		err = s.Start(ctx)
		if err == nil {
			return s, nil
		}
		if opts.Port != 0 || attempt == 5 || !strings.Contains(s.LogTail(logTailLines), "Address already in use") {
			return nil, err
		}
	}
}

// Start is the testing helper: it starts a server, registers t.Cleanup to
// Remove it, and fails the test with the log tail when it cannot start.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*startTimeout)
	defer cancel()
	s, err := StartServer(ctx, opts)
	if err != nil {
		t.Fatalf("mytest: cannot start MariaDB: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Remove(); err != nil {
			t.Errorf("mytest: %v", err)
		}
	})
	return s
}

// DSN is Sluice's URL form for database db as root over TCP.
func (s *Server) DSN(db string) string {
	return fmt.Sprintf("mysql://root@127.0.0.1:%d/%s", s.Port, db)
}

// DriverDSN is the go-sql-driver/mysql form for database db ("" for none),
// with multi-statement queries allowed.
func (s *Server) DriverDSN(db string) string {
	return fmt.Sprintf("root@tcp(127.0.0.1:%d)/%s?multiStatements=true&interpolateParams=true&timeout=10s", s.Port, db)
}

func (s *Server) args() []string {
	a := []string{
		"--no-defaults",
		"--user=root",
		"--datadir=" + s.Dir,
		"--socket=" + filepath.Join(s.base, "sock"),
		"--pid-file=" + filepath.Join(s.base, "mariadbd.pid"),
		"--log-error=" + filepath.Join(s.base, "server.log"),
		"--tmpdir=" + s.base, // private: a /tmp cleaner cannot pull temp tables away
		"--port=" + strconv.Itoa(s.Port),
		"--bind-address=127.0.0.1",
		"--skip-name-resolve",
		"--server-id=" + strconv.Itoa(s.ServerID),
		"--character-set-server=utf8mb4",
		"--collation-server=utf8mb4_general_ci",
		"--innodb-buffer-pool-size=128M",
		"--innodb-log-file-size=96M",
		"--max-connections=300",
		"--skip-log-bin",
	}
	if !s.opts.NoBinlog {
		a = append(a[:len(a)-1], "--log-bin="+filepath.Join(s.base, "binlog"),
			"--binlog-format=ROW", "--binlog-row-image=FULL", "--binlog-row-metadata=FULL",
			"--log-slave-updates=ON")
	}
	if s.opts.Durable {
		a = append(a, "--innodb-flush-log-at-trx-commit=1", "--sync-binlog=1")
	} else {
		a = append(a, "--innodb-flush-log-at-trx-commit=2", "--sync-binlog=0")
	}
	return append(a, s.opts.Args...)
}

// Start starts the server again after Stop or Kill, with the same data
// directory and port, and waits until it accepts connections.
func (s *Server) Start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		return nil
	}
	cmd := exec.Command(serverBinary(), s.args()...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("mytest: start mariadbd: %w", err)
	}
	s.cmd, s.done = cmd, make(chan struct{})
	go func(done chan struct{}) { cmd.Wait(); close(done) }(s.done)

	deadline := time.Now().Add(startTimeout)
	for {
		if err := s.ping(ctx); err == nil {
			break
		}
		select {
		case <-s.done:
			s.cmd = nil
			return fmt.Errorf("mytest: mariadbd exited at start; log:\n%s", s.LogTail(logTailLines))
		case <-ctx.Done():
			s.killLocked()
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			s.killLocked()
			return fmt.Errorf("mytest: mariadbd did not accept connections within %v; log:\n%s", startTimeout, s.LogTail(logTailLines))
		}
	}
	db, err := sql.Open("mysql", s.DriverDSN(""))
	if err != nil {
		return err
	}
	db.SetMaxIdleConns(2)
	s.db = db
	return nil
}

func (s *Server) ping(ctx context.Context) error {
	cfg := mysql.NewConfig()
	cfg.User, cfg.Net, cfg.Addr, cfg.Timeout = "root", "tcp", fmt.Sprintf("127.0.0.1:%d", s.Port), time.Second
	c, err := mysql.NewConnector(cfg)
	if err != nil {
		return err
	}
	db := sql.OpenDB(c)
	defer db.Close()
	pctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	return db.PingContext(pctx)
}

// Pid is the mariadbd process id, 0 when the server is not running.
func (s *Server) Pid() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil || s.cmd.Process == nil {
		return 0
	}
	return s.cmd.Process.Pid
}

// Stop shuts the server down cleanly (SIGTERM) and waits for it.
func (s *Server) Stop() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.signalLocked(syscall.SIGTERM, startTimeout)
}

// Kill stops the server at once with SIGKILL, like a crash: the next Start
// runs crash recovery.
func (s *Server) Kill() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.killLocked()
}

func (s *Server) killLocked() error { return s.signalLocked(syscall.SIGKILL, startTimeout) }

func (s *Server) signalLocked(sig syscall.Signal, timeout time.Duration) error {
	if s.db != nil {
		s.db.Close()
		s.db = nil
	}
	if s.cmd == nil {
		return nil
	}
	s.cmd.Process.Signal(sig)
	select {
	case <-s.done:
	case <-time.After(timeout):
		s.cmd.Process.Kill()
		<-s.done
		s.cmd = nil
		return fmt.Errorf("mytest: mariadbd did not stop within %v after %v; killed", timeout, sig)
	}
	s.cmd = nil
	return nil
}

// Remove stops the server (killing it if a clean stop takes over 10 s) and
// deletes its directory.
func (s *Server) Remove() error {
	s.mu.Lock()
	err := s.signalLocked(syscall.SIGTERM, 10*time.Second)
	s.mu.Unlock()
	if s.base != "" {
		os.RemoveAll(s.base)
	}
	return err
}

// DB is a pool of root connections with no default database (use qualified
// names). It is valid until the next Stop, Kill or Remove.
func (s *Server) DB() *sql.DB {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.db
}

// Exec runs sql, which may hold several statements separated by semicolons.
func (s *Server) Exec(ctx context.Context, sql string) error {
	db := s.DB()
	if db == nil {
		return errors.New("mytest: server is not running")
	}
	_, err := db.ExecContext(ctx, sql)
	return err
}

// QueryValue runs sql and returns the first column of the first row as text
// ("" for NULL). No rows is an error.
func (s *Server) QueryValue(ctx context.Context, q string) (string, error) {
	db := s.DB()
	if db == nil {
		return "", errors.New("mytest: server is not running")
	}
	var v sql.NullString
	if err := db.QueryRowContext(ctx, q).Scan(&v); err != nil {
		return "", fmt.Errorf("mytest: %s: %w", q, err)
	}
	return v.String, nil
}

// LogTail returns the last n lines of the server's error log.
func (s *Server) LogTail(n int) string {
	b, _ := os.ReadFile(filepath.Join(s.base, "server.log"))
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// template runs mariadb-install-db once per process and opens root@127.0.0.1
// without a password on the result.
func template(ctx context.Context) (string, error) {
	templateMu.Lock()
	defer templateMu.Unlock()
	if templateDir != "" {
		return templateDir, nil
	}
	if _, err := os.Stat(serverBinary()); err != nil {
		return "", errors.New("mytest: mariadbd not found on PATH or in /usr/sbin; install mariadb-server (apt-get install mariadb-server)")
	}
	base, err := os.MkdirTemp("", tempPrefix+"template-")
	if err != nil {
		return "", fmt.Errorf("mytest: %w", err)
	}
	os.WriteFile(filepath.Join(base, ownerFile), []byte(strconv.Itoa(os.Getpid())), 0o644)
	data := filepath.Join(base, "data")
	// On a loaded machine the bootstrap server has been seen to abort
	// once (the reason scrolled out of the output's tail); try it again
	// in a clean directory before giving up, and quote its errors.
	var out []byte
	for attempt := 1; ; attempt++ {
		out, err = exec.CommandContext(ctx, "mariadb-install-db", "--no-defaults", "--user=root",
			"--datadir="+data, "--auth-root-authentication-method=normal",
			"--skip-test-db", "--skip-name-resolve").CombinedOutput()
		if err == nil {
			break
		}
		if attempt == 3 || ctx.Err() != nil {
			os.RemoveAll(base)
			return "", fmt.Errorf("mytest: mariadb-install-db failed %d times, last: %v\n%s%s", attempt, err, errorLines(string(out)), tail(string(out)))
		}
		os.RemoveAll(data)
		time.Sleep(time.Duration(attempt) * time.Second)
	}
	// Start it once on a socket only, to let root in over TCP.
	sock := filepath.Join(base, "sock")
	cmd := exec.Command(serverBinary(), "--no-defaults", "--user=root", "--datadir="+data, "--socket="+sock,
		"--skip-networking", "--skip-log-bin", "--log-error="+filepath.Join(base, "server.log"),
		"--pid-file="+filepath.Join(base, "pid"), "--innodb-log-file-size=96M")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		os.RemoveAll(base)
		return "", fmt.Errorf("mytest: start mariadbd: %w", err)
	}
	defer func() { cmd.Process.Signal(syscall.SIGTERM); cmd.Wait() }()
	db, err := sql.Open("mysql", "root@unix("+sock+")/")
	if err != nil {
		return "", err
	}
	defer db.Close()
	deadline := time.Now().Add(startTimeout)
	for db.PingContext(ctx) != nil {
		if time.Now().After(deadline) {
			return "", fmt.Errorf("mytest: template server did not start; log:\n%s", tail(readFile(filepath.Join(base, "server.log"))))
		}
		time.Sleep(100 * time.Millisecond)
	}
	for _, q := range []string{
		"CREATE USER IF NOT EXISTS 'root'@'127.0.0.1'",
		"GRANT ALL ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION",
		"CREATE USER IF NOT EXISTS 'root'@'%'",
		"GRANT ALL ON *.* TO 'root'@'%' WITH GRANT OPTION",
	} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			return "", fmt.Errorf("mytest: template: %s: %w", q, err)
		}
	}
	db.Close()
	cmd.Process.Signal(syscall.SIGTERM)
	cmd.Wait()
	templateDir = data
	return data, nil
}

// serverBinary is mariadbd from $PATH, else from /usr/sbin (not on every
// user's PATH).
func serverBinary() string {
	if p, err := exec.LookPath("mariadbd"); err == nil {
		return p
	}
	return "/usr/sbin/mariadbd"
}

func readFile(p string) string { b, _ := os.ReadFile(p); return string(b) }

func tail(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > logTailLines {
		lines = lines[len(lines)-logTailLines:]
	}
	return strings.Join(lines, "\n")
}

// errorLines picks the lines of a server's output that say what went
// wrong, which its closing advice can push out of the tail.
func errorLines(s string) string {
	var b strings.Builder
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, "[ERROR]") || strings.Contains(l, "[FATAL]") {
			b.WriteString(l + "\n")
		}
	}
	if b.Len() == 0 {
		return ""
	}
	return "errors:\n" + b.String() + "tail:\n"
}

// sweepStale kills and deletes servers (and templates) whose owner died.
func sweepStale() {
	owners, _ := filepath.Glob(filepath.Join(os.TempDir(), tempPrefix+"*", ownerFile))
	for _, owner := range owners {
		b, err := os.ReadFile(owner)
		if err != nil {
			continue
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil || pid <= 0 || pid == os.Getpid() {
			continue
		}
		if err := syscall.Kill(pid, 0); err == nil || errors.Is(err, syscall.EPERM) {
			continue
		}
		base := filepath.Dir(owner)
		for _, pf := range []string{"mariadbd.pid", "pid"} {
			if b, err := os.ReadFile(filepath.Join(base, pf)); err == nil {
				if p, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && p > 0 {
					syscall.Kill(p, syscall.SIGKILL)
				}
			}
		}
		os.RemoveAll(base)
	}
}
