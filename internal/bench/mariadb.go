package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/sluicecdc/sluice/internal/mytest"
)

const (
	myDBName = "benchdb"

	mySchemaSQL = `CREATE TABLE benchdb.bench_rows (id BIGINT PRIMARY KEY, k INT, payload TEXT, amount DECIMAL(12,2), created DATETIME(6)) ENGINE=InnoDB`

	// mySluiceServerID is sluice's replica server_id (source.mysql.server_id):
	// mytest gives its servers ids far below it.
	mySluiceServerID = 4_000_001
)

// myServerArgs are the mariadbd options all three servers get on top of
// mytest's (Durable: innodb_flush_log_at_trx_commit=1, sync_binlog=1).
var myServerArgs = []string{"--innodb-buffer-pool-size=256M", "--innodb-log-file-size=256M"}

// myTargetVars are the server variables that decide how fast and how
// durably a target commits; they must be equal on both targets.
var myTargetVars = []string{"innodb_flush_log_at_trx_commit", "sync_binlog", "log_bin", "innodb_doublewrite",
	"innodb_flush_method", "innodb_buffer_pool_size", "innodb_log_file_size", "innodb_io_capacity", "tx_isolation"}

// mySourceVars are the source's settings worth reporting.
var mySourceVars = []string{"log_bin", "binlog_format", "binlog_row_image", "binlog_row_metadata", "sync_binlog",
	"innodb_flush_log_at_trx_commit", "innodb_buffer_pool_size", "innodb_log_file_size"}

// myReplicaVars are the native replica's applier settings.
var myReplicaVars = []string{"slave_parallel_threads", "slave_parallel_mode", "slave_domain_parallel_threads",
	"sync_relay_log", "sync_relay_log_info", "sync_master_info", "relay_log_recovery", "log_slave_updates"}

// myEnv is the running MariaDB benchmark: three servers, the native
// replica's applier and the sluice process.
type myEnv struct {
	opts options
	bin  string // the sluice binary

	src, nat, slu *mytest.Server
	dir           string // temp dir: config, checkpoint
	logPath       string // sluice's log; kept after the run
	proc          *sluiceProc
	rss           *rssSampler

	srcConns         []*sql.Conn // [0] runs bulk loads and checks; all run the small workload
	natConn, sluConn *sql.Conn   // polling and checks

	version       string
	srcSettings   string
	tgtSettings   string // identical on both targets (checked)
	replSettings  string // the native replica's applier settings
	sluiceVer     string
	nativeChannel string // the CHANGE MASTER TO statement, for the report

	cleanups []func()
}

func (e *myEnv) cleanup() {
	for i := len(e.cleanups) - 1; i >= 0; i-- {
		e.cleanups[i]()
	}
	e.cleanups = nil
}

func (e *myEnv) defer_(f func()) { e.cleanups = append(e.cleanups, f) }

func (e *myEnv) setup(ctx context.Context) error {
	var err error
	if e.dir, err = os.MkdirTemp("", "sluice-bench-mariadb-"); err != nil {
		return err
	}
	e.defer_(func() { os.RemoveAll(e.dir) })
	if out, err := exec.CommandContext(ctx, e.bin, "version").Output(); err == nil {
		e.sluiceVer = strings.TrimSpace(string(out))
	}

	par := "slave_parallel_threads=0, MariaDB's default: one applier thread"
	if e.opts.myParallel > 0 {
		par = fmt.Sprintf("slave_parallel_threads=%d, slave_parallel_mode=optimistic", e.opts.myParallel)
	}
	step(fmt.Sprintf("starting 3 MariaDB servers (innodb_flush_log_at_trx_commit=1, sync_binlog=1, buffer pool 256MB; source with binlog; replica %s)", par))
	if err := e.startServers(ctx); err != nil {
		return err
	}
	if err := e.readSettings(ctx); err != nil {
		return err
	}

	// The schema is created on the source and reaches the replica through
	// replication, from the start of the source's binary log; sluice's
	// target gets the same statement directly (sluice starts reading at the
	// current end of the log).
	step("creating the schema; starting the native replica (CHANGE MASTER TO ... MASTER_USE_GTID=slave_pos; START SLAVE)")
	if err := e.src.Exec(ctx, "CREATE DATABASE "+myDBName+"; "+mySchemaSQL); err != nil {
		return fmt.Errorf("source: create the schema: %w", err)
	}
	if err := e.slu.Exec(ctx, "CREATE DATABASE "+myDBName+"; "+mySchemaSQL); err != nil {
		return fmt.Errorf("sluice target: create the schema: %w", err)
	}
	e.nativeChannel = fmt.Sprintf("CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT=%d, MASTER_USER='root', MASTER_USE_GTID=slave_pos, MASTER_CONNECT_RETRY=1", e.src.Port)
	if err := e.nat.Exec(ctx, e.nativeChannel+"; START SLAVE"); err != nil {
		return fmt.Errorf("native replica: %w", err)
	}
	if err := e.waitReplicaSchema(ctx); err != nil {
		return err
	}
	if err := e.connect(ctx); err != nil {
		return err
	}

	step("starting sluice")
	if err := e.startSluice(ctx); err != nil {
		return err
	}
	if err := e.waitDumpThreads(ctx); err != nil {
		return err
	}
	// One row through both paths, so one-time work (table map look-ups,
	// target table look-up, the sink's own tables) is not in the first
	// run's time.
	step("warming up both replication paths")
	if _, err := e.srcConns[0].ExecContext(ctx, `INSERT INTO bench_rows VALUES (0, 0, 'warm-up', 0, NOW(6))`); err != nil {
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

// startServers starts the three servers in parallel: the source with the
// binary log, both targets without (a replica needs none), all durable.
func (e *myEnv) startServers(ctx context.Context) error {
	var ss [3]*mytest.Server
	var errs [3]error
	var wg sync.WaitGroup
	for i := range ss {
		opts := mytest.Options{Durable: true, NoBinlog: i > 0, Args: myServerArgs}
		if i == 1 && e.opts.myParallel > 0 {
			opts.Args = append(append([]string(nil), myServerArgs...),
				fmt.Sprintf("--slave-parallel-threads=%d", e.opts.myParallel), "--slave-parallel-mode=optimistic")
		}
		wg.Go(func() { ss[i], errs[i] = mytest.StartServer(ctx, opts) })
	}
	wg.Wait()
	for _, s := range ss { // source first, so it is removed last
		if s != nil {
			e.defer_(func() {
				if err := s.Remove(); err != nil {
					fmt.Fprintf(os.Stderr, "bench: %v\n", err)
				}
			})
		}
	}
	if err := errors.Join(errs[:]...); err != nil {
		return err
	}
	e.src, e.nat, e.slu = ss[0], ss[1], ss[2]
	return nil
}

// connect opens the connections used for loads, polling and checks, each a
// session of its own, with benchdb as the default database (so it runs
// once the schema is on all three).
func (e *myEnv) connect(ctx context.Context) error {
	open := func(s *mytest.Server, n int) ([]*sql.Conn, error) {
		db, err := sql.Open("mysql", s.DriverDSN(myDBName))
		if err != nil {
			return nil, err
		}
		e.defer_(func() { db.Close() })
		var cs []*sql.Conn
		for range n {
			c, err := db.Conn(ctx)
			if err != nil {
				return nil, fmt.Errorf("connect to %s: %w", s.DSN(myDBName), err)
			}
			e.defer_(func() { c.Close() })
			cs = append(cs, c)
		}
		return cs, nil
	}
	var err error
	if e.srcConns, err = open(e.src, writers); err != nil {
		return err
	}
	cs, err := open(e.nat, 1)
	if err != nil {
		return err
	}
	e.natConn = cs[0]
	if cs, err = open(e.slu, 1); err != nil {
		return err
	}
	e.sluConn = cs[0]
	return nil
}

// globalVars reads server variables as "name=value, ..." in the order given.
func globalVars(ctx context.Context, s *mytest.Server, names []string) (string, error) {
	db := s.DB()
	if db == nil {
		return "", errors.New("server is not running")
	}
	var parts []string
	for _, n := range names {
		var v sql.NullString
		if err := db.QueryRowContext(ctx, "SELECT @@GLOBAL."+n).Scan(&v); err != nil {
			return "", fmt.Errorf("read @@%s: %w", n, err)
		}
		val := v.String
		if strings.HasSuffix(n, "_size") {
			var b int64
			if _, err := fmt.Sscan(val, &b); err == nil && b%(1<<20) == 0 {
				val = fmt.Sprintf("%dM", b>>20)
			}
		}
		parts = append(parts, n+"="+val)
	}
	return strings.Join(parts, ", "), nil
}

// readSettings reads the settings for the report and checks that both
// targets commit alike.
func (e *myEnv) readSettings(ctx context.Context) error {
	var err error
	if e.version, err = e.src.QueryValue(ctx, "SELECT VERSION()"); err != nil {
		return err
	}
	if e.srcSettings, err = globalVars(ctx, e.src, mySourceVars); err != nil {
		return fmt.Errorf("source: %w", err)
	}
	if e.replSettings, err = globalVars(ctx, e.nat, myReplicaVars); err != nil {
		return fmt.Errorf("native replica: %w", err)
	}
	e.tgtSettings, err = e.checkTargetsAlike(ctx)
	return err
}

// checkTargetsAlike returns the targets' commit settings, or an error when
// they differ.
func (e *myEnv) checkTargetsAlike(ctx context.Context) (string, error) {
	nat, err := globalVars(ctx, e.nat, myTargetVars)
	if err != nil {
		return "", fmt.Errorf("native replica: %w", err)
	}
	slu, err := globalVars(ctx, e.slu, myTargetVars)
	if err != nil {
		return "", fmt.Errorf("sluice target: %w", err)
	}
	if nat != slu {
		return "", fmt.Errorf("the targets' settings differ, so the comparison would not be fair:\n  native: %s\n  sluice: %s", nat, slu)
	}
	return nat, nil
}

// slaveStatus is the native replica's SHOW SLAVE STATUS, by column name.
func slaveStatus(ctx context.Context, q interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
}) (map[string]string, error) {
	rows, err := q.QueryContext(ctx, "SHOW SLAVE STATUS")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return nil, err
		}
		return nil, errors.New("SHOW SLAVE STATUS: no replication configured")
	}
	vals := make([]sql.NullString, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	if err := rows.Scan(ptrs...); err != nil {
		return nil, err
	}
	m := make(map[string]string, len(cols))
	for i, c := range cols {
		m[c] = vals[i].String
	}
	return m, rows.Err()
}

// replicaBroken returns an error when the native replica's threads stopped.
func replicaBroken(st map[string]string) error {
	if st["Slave_IO_Running"] == "Yes" && st["Slave_SQL_Running"] == "Yes" {
		return nil
	}
	return fmt.Errorf("native replica stopped: Slave_IO_Running=%s (%s %s) Slave_SQL_Running=%s (%s %s)",
		st["Slave_IO_Running"], st["Last_IO_Errno"], st["Last_IO_Error"],
		st["Slave_SQL_Running"], st["Last_SQL_Errno"], st["Last_SQL_Error"])
}

// waitReplicaSchema waits until the replica runs and has applied the
// source's CREATE TABLE.
func (e *myEnv) waitReplicaSchema(ctx context.Context) error {
	deadline := time.Now().Add(60 * time.Second)
	db := e.nat.DB()
	for {
		st, err := slaveStatus(ctx, db)
		if err != nil {
			return fmt.Errorf("native replica: %w", err)
		}
		// Connecting takes a moment; only a stopped SQL thread or an IO
		// error is final.
		if st["Slave_SQL_Running"] == "No" || st["Last_IO_Errno"] != "0" {
			return replicaBroken(st)
		}
		var n int
		if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = 'bench_rows'`, myDBName).Scan(&n); err != nil {
			return fmt.Errorf("native replica: %w", err)
		}
		if n == 1 && st["Slave_IO_Running"] == "Yes" {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("native replica did not replicate the schema within 60s (Slave_IO_Running=%s, Slave_SQL_Running=%s, Gtid_IO_Pos=%s)",
				st["Slave_IO_Running"], st["Slave_SQL_Running"], st["Gtid_IO_Pos"])
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func (e *myEnv) startSluice(ctx context.Context) error {
	cfg := fmt.Sprintf(`name: %s
source:
  kind: mysql
  dsn: %s
  tables: ["%s.*"]
  snapshot: never
  mysql:
    server_id: %d
sink:
  kind: mysql
  dsn: %s
checkpoint:
  path: %s
log:
  level: %s
`, pipeline, e.src.DSN(myDBName), myDBName, mySluiceServerID, e.slu.DSN(""),
		filepath.Join(e.dir, "bench.checkpoint"), e.opts.logLevel)
	cfgPath := filepath.Join(e.dir, "sluice.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		return err
	}
	f, err := os.CreateTemp("", "sluice-bench-mariadb-*.log") // kept for inspection
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

// waitDumpThreads waits until the source serves two binlog readers: the
// native replica's IO thread and sluice.
func (e *myEnv) waitDumpThreads(ctx context.Context) error {
	deadline := time.Now().Add(90 * time.Second)
	for {
		var n int
		err := e.srcConns[0].QueryRowContext(ctx, `SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE COMMAND LIKE 'Binlog Dump%'`).Scan(&n)
		if err != nil {
			return fmt.Errorf("read the source's process list: %w", err)
		}
		if n >= 2 {
			return nil
		}
		if err := e.proc.exited(); err != nil {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the source does not serve both binlog readers after 90s (%d Binlog Dump threads; want the native replica's and sluice's)", n)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}
