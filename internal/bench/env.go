package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sluicecdc/sluice/internal/pgtest"
)

const (
	dbName     = "bench"
	pipeline   = "bench"
	sluiceSlot = "sluice_bench" // sluice's default slot name for pipeline "bench"
	nativeSlot = "native_sub"   // a subscription's slot is named after it
	writers    = 4              // connections of the small workload

	schemaSQL = `CREATE TABLE bench_rows (id bigint PRIMARY KEY, k int, payload text, amount numeric(12,2), created timestamptz)`
)

// clusterSettings are the postgresql.conf settings of all three clusters
// (besides pgtest's: wal_level=logical, fsync on with Options.Fsync).
var clusterSettings = map[string]string{
	"shared_buffers": "256MB",
	"max_wal_size":   "4GB",
}

// env is the running benchmark: three clusters, the native subscription and
// the sluice process.
type env struct {
	opts options

	src, nat, slu *pgtest.Cluster
	dir           string // temp dir: config, checkpoint
	logPath       string // sluice's log; kept after the run
	bin           string // the sluice binary, from sluiceBinary
	proc          *sluiceProc
	rss           *rssSampler

	srcConns         []*pgx.Conn // [0] runs bulk loads and checks; all run the small workload
	natConn, sluConn *pgx.Conn   // polling and checks

	pgVersion string
	settings  string // the clusters' relevant settings, as reported by the source
	subSync   string // the subscription's synchronous_commit
	sluiceVer string

	cleanups []func()
}

// cleanup undoes setup in reverse order: sluice first (it holds a
// replication connection), then the targets, then the source.
func (e *env) cleanup() {
	for i := len(e.cleanups) - 1; i >= 0; i-- {
		e.cleanups[i]()
	}
	e.cleanups = nil
}

func (e *env) defer_(f func()) { e.cleanups = append(e.cleanups, f) }

func (e *env) setup(ctx context.Context) error {
	var err error
	if e.dir, err = os.MkdirTemp("", "sluice-bench-"); err != nil {
		return err
	}
	e.defer_(func() { os.RemoveAll(e.dir) })

	if out, err := exec.CommandContext(ctx, e.bin, "version").Output(); err == nil {
		e.sluiceVer = strings.TrimSpace(string(out))
	}

	step("starting 3 PostgreSQL clusters (fsync on, shared_buffers 256MB, max_wal_size 4GB)")
	if err := e.startClusters(ctx); err != nil {
		return err
	}
	for _, c := range []*pgtest.Cluster{e.src, e.nat, e.slu} {
		if err := c.CreateDB(ctx, dbName); err != nil {
			return err
		}
		if err := c.Exec(ctx, dbName, schemaSQL); err != nil {
			return err
		}
	}
	if err := e.connect(ctx); err != nil {
		return err
	}
	if err := e.readSettings(ctx); err != nil {
		return err
	}

	step("creating the native publication and subscription")
	if err := e.src.Exec(ctx, dbName, `CREATE PUBLICATION native_pub FOR TABLE bench_rows`); err != nil {
		return err
	}
	conninfo := fmt.Sprintf("host=127.0.0.1 port=%d dbname=%s user=postgres", e.src.Port, dbName)
	if err := e.nat.Exec(ctx, dbName, fmt.Sprintf(`CREATE SUBSCRIPTION native_sub CONNECTION '%s' PUBLICATION native_pub WITH (copy_data = false, streaming = on)`, conninfo)); err != nil {
		return err
	}
	if err := e.natConn.QueryRow(ctx, `SELECT subsynccommit FROM pg_subscription WHERE subname = 'native_sub'`).Scan(&e.subSync); err != nil {
		return fmt.Errorf("read the subscription: %w", err)
	}

	step("starting sluice")
	if err := e.startSluice(ctx); err != nil {
		return err
	}
	if err := e.waitSlotsActive(ctx); err != nil {
		return err
	}
	// One row through both paths, so one-time work (relation messages,
	// target table look-up, staging tables) is not in the first run's time.
	step("warming up both replication paths")
	if err := e.srcConns[0].QueryRow(ctx, `INSERT INTO bench_rows VALUES (0, 0, 'warm-up', 0, now()) RETURNING 0`).Scan(new(int)); err != nil {
		return fmt.Errorf("warm-up insert: %w", err)
	}
	wctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	t0 := time.Now()
	if _, err := e.waitComplete(wctx, "native", e.natConn, t0, 0, 0); err != nil {
		return err
	}
	if _, err := e.waitComplete(wctx, "sluice", e.sluConn, t0, 0, 0); err != nil {
		return err
	}
	return nil
}

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

// startClusters starts the three clusters in parallel; initdb with fsync on
// is slow.
func (e *env) startClusters(ctx context.Context) error {
	opts := pgtest.Options{Fsync: true, Settings: clusterSettings}
	var cs [3]*pgtest.Cluster
	var errs [3]error
	var wg sync.WaitGroup
	for i := range cs {
		wg.Go(func() { cs[i], errs[i] = pgtest.StartCluster(ctx, opts) })
	}
	wg.Wait()
	for _, c := range cs { // source first, so it is removed last
		if c != nil {
			e.defer_(func() {
				if err := c.Remove(); err != nil {
					fmt.Fprintf(os.Stderr, "bench: %v\n", err)
				}
			})
		}
	}
	if err := errors.Join(errs[:]...); err != nil {
		return err
	}
	e.src, e.nat, e.slu = cs[0], cs[1], cs[2]
	return nil
}

// connect opens the connections used for loads, polling and checks. All use
// UTC so timestamps print the same everywhere.
func (e *env) connect(ctx context.Context) error {
	open := func(c *pgtest.Cluster) (*pgx.Conn, error) {
		cfg, err := pgx.ParseConfig(c.DSN(dbName))
		if err != nil {
			return nil, err
		}
		cfg.RuntimeParams["TimeZone"] = "UTC"
		cfg.RuntimeParams["application_name"] = "bench"
		conn, err := pgx.ConnectConfig(ctx, cfg)
		if err != nil {
			return nil, fmt.Errorf("connect to %s: %w", c.DSN(dbName), err)
		}
		e.defer_(func() { conn.Close(context.Background()) })
		return conn, nil
	}
	var err error
	for range writers {
		var c *pgx.Conn
		if c, err = open(e.src); err != nil {
			return err
		}
		e.srcConns = append(e.srcConns, c)
	}
	if e.natConn, err = open(e.nat); err != nil {
		return err
	}
	e.sluConn, err = open(e.slu)
	return err
}

func (e *env) readSettings(ctx context.Context) error {
	err := e.srcConns[0].QueryRow(ctx, `SELECT current_setting('server_version'),
		string_agg(n || '=' || current_setting(n), ', ' ORDER BY n)
		FROM unnest(ARRAY['fsync', 'full_page_writes', 'synchronous_commit', 'shared_buffers', 'max_wal_size',
			'logical_decoding_work_mem', 'wal_level']) n`).Scan(&e.pgVersion, &e.settings)
	if err != nil {
		return fmt.Errorf("read settings: %w", err)
	}
	return nil
}

func (e *env) startSluice(ctx context.Context) error {
	cfg := fmt.Sprintf(`name: %s
source:
  kind: postgres
  dsn: %s
  tables: ["public.bench_rows"]
  snapshot: never
sink:
  kind: postgres
  dsn: %s
checkpoint:
  path: %s
log:
  level: %s
`, pipeline, e.src.DSN(dbName), e.slu.DSN(dbName), filepath.Join(e.dir, "bench.checkpoint"), e.opts.logLevel)
	cfgPath := filepath.Join(e.dir, "sluice.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		return err
	}
	f, err := os.CreateTemp("", "sluice-bench-*.log") // kept for inspection
	if err != nil {
		return err
	}
	e.logPath = f.Name()
	if e.proc, err = startSluice(e.bin, cfgPath, f); err != nil {
		return err
	}
	e.defer_(func() {
		if err := e.proc.stop(30 * time.Second); err != nil {
			fmt.Fprintf(os.Stderr, "bench: stop sluice: %v\n", err)
		}
	})
	e.rss = newRSSSampler(e.proc.pid())
	e.defer_(e.rss.close)
	return nil
}

// waitSlotsActive waits until both slots on the source have a walsender.
func (e *env) waitSlotsActive(ctx context.Context) error {
	deadline := time.Now().Add(90 * time.Second)
	for {
		var n int
		err := e.srcConns[0].QueryRow(ctx, `SELECT count(*) FROM pg_replication_slots WHERE active AND slot_name = ANY($1)`,
			[]string{sluiceSlot, nativeSlot}).Scan(&n)
		if err != nil {
			return fmt.Errorf("read pg_replication_slots: %w", err)
		}
		if n == 2 {
			return nil
		}
		if err := e.proc.exited(); err != nil {
			return err
		}
		if time.Now().After(deadline) {
			var active string
			e.srcConns[0].QueryRow(ctx, `SELECT coalesce(string_agg(slot_name || ' active=' || active, ', '), 'no slots') FROM pg_replication_slots`).Scan(&active)
			return fmt.Errorf("replication slots %s and %s not both active after 90s: %s", sluiceSlot, nativeSlot, active)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
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
