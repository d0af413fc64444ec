// Package pgtest starts throwaway PostgreSQL clusters for integration tests,
// benchmarks and the demo.
//
// A cluster lives in one directory:
//
//	<dir>/data        the data directory (Cluster.Dir)
//	<dir>/sock        the unix socket directory
//	<dir>/server.log  the server log (pg_ctl -l)
//	<dir>/owner.pid   the pid of the process that made it (temp dirs only)
//
// Clients connect over TCP to 127.0.0.1 as the superuser "postgres", with
// trust authentication. The binaries are taken from $PGTEST_BINDIR, else from
// pg_ctl on $PATH, else from the newest /usr/lib/postgresql/*/bin. When the
// process runs as root, initdb and pg_ctl run as the "postgres" OS user.
//
// A cluster whose owner died without calling Remove (test timeout, Ctrl-C) is
// stopped and deleted by the next StartCluster of any process.
package pgtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/sluicecdc/sluice/internal/testport"
)

const (
	startTimeout = 60 * time.Second // pg_ctl -w plus the ping loop
	portAttempts = 5                // when picking a free port races with someone else
	logTailLines = 30               // server log lines quoted in errors
	tempPrefix   = "pgtest-"
	ownerFile    = "owner.pid"
)

// Options configures StartCluster. The zero value is a good default.
type Options struct {
	Port int // 0 = pick a free TCP port on 127.0.0.1
	// Settings are extra postgresql.conf settings; values are written quoted,
	// so give them bare ("8MB", not "'8MB'"). They override this package's
	// defaults, except listen_addresses, port, unix_socket_directories and
	// logging_collector, which cannot be set here.
	Settings map[string]string
	// Dir is the cluster's directory (the data directory is Dir/data). It must
	// not hold a cluster yet; Remove deletes it. "" = a new temp dir.
	Dir   string
	Fsync bool // false (the default) sets fsync=off and full_page_writes=off, for speed
}

// Cluster is a PostgreSQL cluster started by StartCluster. Its methods must
// not be called concurrently with each other, except DSN, Exec, QueryValue,
// CreateDB and LogTail.
type Cluster struct {
	Port int
	Dir  string // the data directory

	base    string              // the cluster's directory, holding Dir
	ownBase bool                // base was made by StartCluster
	bin     string              // directory of initdb and pg_ctl
	cred    *syscall.Credential // run the server as this user; nil = as ourselves
}

var (
	sweepOnce sync.Once
	pickPort  = testport.Free // replaced by tests
)

// StartCluster creates a new cluster with initdb, starts it and waits until it
// accepts connections. On failure nothing is left running, and the error
// quotes the command output and the end of the server log.
func StartCluster(ctx context.Context, opts Options) (_ *Cluster, err error) {
	for _, k := range []string{"listen_addresses", "port", "unix_socket_directories", "logging_collector"} {
		if _, ok := opts.Settings[k]; ok {
			return nil, fmt.Errorf("pgtest: Options.Settings cannot set %s; pgtest manages it (use Options.Port for the port)", k)
		}
	}
	bin, err := findBinDir()
	if err != nil {
		return nil, err
	}
	cred, err := serverCredential()
	if err != nil {
		return nil, err
	}
	sweepOnce.Do(func() { sweepStale(bin, cred) })

	c := &Cluster{bin: bin, cred: cred}
	if opts.Dir == "" {
		c.base, err = os.MkdirTemp("", tempPrefix)
		c.ownBase = true
	} else if c.base, err = filepath.Abs(opts.Dir); err == nil {
		err = os.MkdirAll(c.base, 0o700)
	}
	if err != nil {
		return nil, fmt.Errorf("pgtest: cluster directory: %w", err)
	}
	if err := c.checkReachable(filepath.Dir(c.base)); err != nil {
		return nil, err
	}
	c.Dir = filepath.Join(c.base, "data")
	defer func() {
		if err != nil {
			c.Kill()
			if c.ownBase {
				os.RemoveAll(c.base)
			}
		}
	}()
	if c.ownBase {
		if err := os.WriteFile(filepath.Join(c.base, ownerFile), []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
			return nil, fmt.Errorf("pgtest: %w", err)
		}
	}
	if err := c.chown(c.base); err != nil {
		return nil, err
	}
	// A unix socket path must fit in sun_path (108 bytes).
	if sock := filepath.Join(c.sockDir(), ".s.PGSQL.65535.lock"); len(sock) > 100 {
		return nil, fmt.Errorf("pgtest: cluster directory %s is too long for a unix socket path; use a shorter Options.Dir", c.base)
	}
	if err := os.Mkdir(c.sockDir(), 0o700); err != nil {
		return nil, fmt.Errorf("pgtest: %w", err)
	}
	if err := c.chown(c.sockDir()); err != nil {
		return nil, err
	}

	args := []string{"-D", c.Dir, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C"}
	if !opts.Fsync {
		args = append(args, "--no-sync")
	}
	if out, err := c.run(ctx, "initdb", args...); err != nil {
		return nil, c.fail("initdb", out, err)
	}
	if err := c.appendFile("postgresql.conf", "\ninclude 'pgtest.conf'\n"); err != nil {
		return nil, err
	}
	if err := c.appendFile("pg_hba.conf", "\nhost replication all 127.0.0.1/32 trust\n"); err != nil {
		return nil, err
	}

	for attempt := 1; ; attempt++ {
		c.Port = opts.Port
		if c.Port == 0 {
			if c.Port, err = pickPort(); err != nil {
				return nil, err
			}
		}
		if err := c.writeConf(opts); err != nil {
			return nil, err
		}
		logStart := c.logSize()
		err = c.Start(ctx)
		if err == nil {
			return c, nil
		}
		if opts.Port != 0 || attempt == portAttempts || !c.logSince(logStart, "Address already in use") {
			return nil, err
		}
	}
}

// Start is the testing helper: it starts a cluster, registers t.Cleanup to
// Remove it (which also runs when the test panics), and fails the test with
// the server log tail when the cluster cannot start.
func Start(t testing.TB, opts Options) *Cluster {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*startTimeout)
	defer cancel()
	c, err := StartCluster(ctx, opts)
	if err != nil {
		t.Fatalf("pgtest: cannot start PostgreSQL: %v", err)
	}
	t.Cleanup(func() {
		if err := c.Remove(); err != nil {
			t.Errorf("pgtest: %v", err)
		}
	})
	return c
}

// DSN is the URL to connect to database db as the superuser over TCP.
func (c *Cluster) DSN(db string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", c.Port, url.PathEscape(db))
}

// Start starts the server again after Stop or Kill, with the same data
// directory and port, and waits until it accepts connections.
func (c *Cluster) Start(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()
	out, err := c.run(ctx, "pg_ctl", "start", "-w", "-t", strconv.Itoa(int(startTimeout/time.Second)),
		"-D", c.Dir, "-l", c.logPath())
	if err != nil {
		return c.fail("pg_ctl start", out, err)
	}
	for {
		err = c.ping(ctx)
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return c.fail("waiting for the server to accept connections", "", err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Tool is the path of one of the server's client programs (pg_dump,
// pg_restore, psql), from the same installation as the server.
func (c *Cluster) Tool(prog string) string { return filepath.Join(c.bin, prog) }

// Stop shuts the server down cleanly (pg_ctl stop -m fast). It is a no-op
// when the server is not running. Fast shutdown waits for replication
// connections to confirm the last WAL, so close them first.
func (c *Cluster) Stop() error { return c.stop("fast", startTimeout) }

// Kill stops the server at once (pg_ctl stop -m immediate), like a crash:
// the next Start runs crash recovery. It is a no-op when the server is not
// running.
func (c *Cluster) Kill() error { return c.stop("immediate", startTimeout) }

// Remove stops the server and deletes the cluster's directory. When a clean
// stop fails or takes over 10 s (say, a replication connection was left
// open), the server is killed instead.
func (c *Cluster) Remove() error {
	if c.stop("fast", 10*time.Second) != nil && c.Kill() != nil {
		c.killPostmaster()
	}
	if err := os.RemoveAll(c.base); err != nil {
		return fmt.Errorf("pgtest: remove cluster: %w", err)
	}
	return nil
}

// CreateDB creates database name.
func (c *Cluster) CreateDB(ctx context.Context, name string) error {
	return c.Exec(ctx, "postgres", "CREATE DATABASE "+quoteIdent(name))
}

// Exec runs sql in database db with the simple protocol, so sql may hold
// several statements.
func (c *Cluster) Exec(ctx context.Context, db, sql string) error {
	_, err := c.exec(ctx, db, sql)
	return err
}

// QueryValue runs sql in database db and returns the first column of the
// first row as text ("" for NULL). No rows is an error.
func (c *Cluster) QueryValue(ctx context.Context, db, sql string) (string, error) {
	results, err := c.exec(ctx, db, sql)
	if err != nil {
		return "", err
	}
	for _, r := range results {
		if len(r.FieldDescriptions) == 0 {
			continue // a statement without a result set
		}
		if len(r.Rows) == 0 {
			break
		}
		return string(r.Rows[0][0]), nil
	}
	return "", fmt.Errorf("pgtest: query on %s returned no rows: %s", db, sql)
}

// LogTail returns the last n lines of the server log.
func (c *Cluster) LogTail(n int) string {
	f, err := os.Open(c.logPath())
	if err != nil {
		return fmt.Sprintf("(no server log: %v)", err)
	}
	defer f.Close()
	const window = 64 << 10
	if fi, err := f.Stat(); err == nil && fi.Size() > window {
		f.Seek(fi.Size()-window, 0)
	}
	var buf bytes.Buffer
	buf.ReadFrom(f)
	lines := strings.Split(strings.TrimRight(buf.String(), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func (c *Cluster) exec(ctx context.Context, db, sql string) ([]*pgconn.Result, error) {
	conn, err := pgconn.Connect(ctx, c.DSN(db))
	if err != nil {
		return nil, fmt.Errorf("pgtest: %w", err)
	}
	defer conn.Close(context.Background())
	results, err := conn.Exec(ctx, sql).ReadAll()
	if err != nil {
		return nil, fmt.Errorf("pgtest: on %s: %w", db, err)
	}
	return results, nil
}

func (c *Cluster) ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	conn, err := pgconn.Connect(ctx, c.DSN("postgres"))
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	return conn.Ping(ctx)
}

func (c *Cluster) stop(mode string, timeout time.Duration) error {
	if _, err := os.Stat(filepath.Join(c.Dir, "postmaster.pid")); err != nil {
		return nil // not running
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout+10*time.Second)
	defer cancel()
	out, err := c.run(ctx, "pg_ctl", "stop", "-w", "-t", strconv.Itoa(int(timeout/time.Second)), "-m", mode, "-D", c.Dir)
	if err != nil {
		return c.fail("pg_ctl stop -m "+mode, out, err)
	}
	return nil
}

// killPostmaster is the last resort when pg_ctl cannot stop the server: the
// backends exit on their own once the postmaster is gone.
func (c *Cluster) killPostmaster() {
	b, err := os.ReadFile(filepath.Join(c.Dir, "postmaster.pid"))
	if err != nil {
		return
	}
	first, _, _ := strings.Cut(string(b), "\n")
	if pid, err := strconv.Atoi(strings.TrimSpace(first)); err == nil && pid > 0 {
		syscall.Kill(pid, syscall.SIGKILL)
	}
}

// run runs one of the PostgreSQL programs as the server's user and returns
// its combined output.
func (c *Cluster) run(ctx context.Context, prog string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, filepath.Join(c.bin, prog), args...)
	cmd.Dir = c.base
	cmd.WaitDelay = 5 * time.Second // should the server ever hold on to our output pipe
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PG") { // PGDATA, PGPORT, PGHOST... would confuse pg_ctl
			cmd.Env = append(cmd.Env, kv)
		}
	}
	if c.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: c.cred}
	}
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// writeConf writes the settings to pgtest.conf, which postgresql.conf includes.
func (c *Cluster) writeConf(opts Options) error {
	off := "off"
	if opts.Fsync {
		off = "on"
	}
	settings := map[string]string{
		"wal_level":             "logical",
		"max_replication_slots": "20",
		"max_wal_senders":       "20",
		"max_connections":       "200",
		"fsync":                 off,
		"full_page_writes":      off,
	}
	for k, v := range opts.Settings {
		settings[k] = v
	}
	settings["listen_addresses"] = "127.0.0.1"
	settings["port"] = strconv.Itoa(c.Port)
	settings["unix_socket_directories"] = c.sockDir()
	settings["logging_collector"] = "off"

	keys := make([]string, 0, len(settings))
	for k := range settings {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString("# Written by pgtest; rewritten on every StartCluster attempt.\n")
	for _, k := range keys {
		fmt.Fprintf(&b, "%s = '%s'\n", k, strings.ReplaceAll(settings[k], "'", "''"))
	}
	path := filepath.Join(c.Dir, "pgtest.conf")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		return fmt.Errorf("pgtest: %w", err)
	}
	return c.chown(path)
}

func (c *Cluster) appendFile(name, text string) error {
	f, err := os.OpenFile(filepath.Join(c.Dir, name), os.O_APPEND|os.O_WRONLY, 0)
	if err == nil {
		_, err = f.WriteString(text)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		return fmt.Errorf("pgtest: %w", err)
	}
	return nil
}

func (c *Cluster) chown(path string) error {
	if c.cred == nil {
		return nil
	}
	if err := os.Chown(path, int(c.cred.Uid), int(c.cred.Gid)); err != nil {
		return fmt.Errorf("pgtest: %w", err)
	}
	return nil
}

// checkReachable fails when the server's user cannot enter dir, as with
// t.TempDir() when running as root.
func (c *Cluster) checkReachable(dir string) error {
	if c.cred == nil {
		return nil
	}
	for d := dir; ; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err != nil {
			return fmt.Errorf("pgtest: %w", err)
		}
		st := fi.Sys().(*syscall.Stat_t)
		perm := fi.Mode().Perm()
		ok := perm&0o001 != 0 ||
			st.Uid == c.cred.Uid && perm&0o100 != 0 ||
			st.Gid == c.cred.Gid && perm&0o010 != 0
		if !ok {
			return fmt.Errorf("pgtest: the postgres OS user cannot enter %s (mode %v); put the cluster elsewhere, e.g. leave Options.Dir empty", d, perm)
		}
		if d == filepath.Dir(d) {
			return nil
		}
	}
}

func (c *Cluster) sockDir() string { return filepath.Join(c.base, "sock") }
func (c *Cluster) logPath() string { return filepath.Join(c.base, "server.log") }

func (c *Cluster) logSize() int64 {
	fi, err := os.Stat(c.logPath())
	if err != nil {
		return 0
	}
	return fi.Size()
}

// logSince reports whether the log, from byte offset off on, contains s.
func (c *Cluster) logSince(off int64, s string) bool {
	b, err := os.ReadFile(c.logPath())
	return err == nil && off <= int64(len(b)) && bytes.Contains(b[off:], []byte(s))
}

func (c *Cluster) fail(what, out string, err error) error {
	return fmt.Errorf("pgtest: %s: %w\n--- output ---\n%s\n--- last lines of %s ---\n%s",
		what, err, strings.TrimSpace(out), c.logPath(), c.LogTail(logTailLines))
}

// sweepStale stops and deletes the clusters in the temp dir whose owner
// process is gone.
func sweepStale(bin string, cred *syscall.Credential) {
	owners, _ := filepath.Glob(filepath.Join(os.TempDir(), tempPrefix+"*", ownerFile))
	for _, owner := range owners {
		b, err := os.ReadFile(owner)
		if err != nil {
			continue
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil || pid <= 0 {
			continue
		}
		// EPERM means it exists but belongs to someone else.
		if err := syscall.Kill(pid, 0); err == nil || errors.Is(err, syscall.EPERM) {
			continue
		}
		base := filepath.Dir(owner)
		c := &Cluster{Dir: filepath.Join(base, "data"), base: base, bin: bin, cred: cred}
		if c.Kill() != nil {
			c.killPostmaster()
		}
		os.RemoveAll(base)
	}
}

func findBinDir() (string, error) {
	if d := os.Getenv("PGTEST_BINDIR"); d != "" {
		return d, nil
	}
	hasBinaries := func(dir string) bool {
		for _, p := range []string{"initdb", "pg_ctl", "postgres"} {
			if _, err := os.Stat(filepath.Join(dir, p)); err != nil {
				return false
			}
		}
		return true
	}
	if p, err := exec.LookPath("pg_ctl"); err == nil {
		if real, err := filepath.EvalSymlinks(p); err == nil && hasBinaries(filepath.Dir(real)) {
			return filepath.Dir(real), nil
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	best, bestVersion := "", -1
	for _, d := range dirs {
		v, err := strconv.Atoi(filepath.Base(filepath.Dir(d)))
		if err == nil && v > bestVersion && hasBinaries(d) {
			best, bestVersion = d, v
		}
	}
	if best == "" {
		return "", errors.New("pgtest: PostgreSQL binaries not found; set PGTEST_BINDIR to the directory holding initdb and pg_ctl")
	}
	return best, nil
}

// serverCredential is the user to run the server as: postgres refuses to run
// as root, so as root it is the "postgres" OS user.
func serverCredential() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("pgtest: running as root, so the server must run as the postgres OS user: %w", err)
	}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err := errors.Join(err1, err2); err != nil {
		return nil, fmt.Errorf("pgtest: postgres OS user: %w", err)
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }
