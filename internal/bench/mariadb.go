package main

// The MariaDB comparison: a source with the binary log and one target
// server; each leg empties the target table and runs either the server's
// own GTID replica (CHANGE MASTER TO ... MASTER_USE_GTID = slave_pos from
// the source's current position) or a fresh sluice pipeline, alone.

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
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

// myServerArgs are the mariadbd options both servers get on top of
// mytest's (Durable: innodb_flush_log_at_trx_commit=1, sync_binlog=1).
var myServerArgs = []string{"--innodb-buffer-pool-size=256M", "--innodb-log-file-size=256M"}

// myTargetVars are the server variables that decide how fast and how
// durably the target commits; sluice must not change them.
var myTargetVars = []string{"innodb_flush_log_at_trx_commit", "sync_binlog", "log_bin", "innodb_doublewrite",
	"innodb_flush_method", "innodb_buffer_pool_size", "innodb_log_file_size", "innodb_io_capacity", "tx_isolation"}

// mySourceVars are the source's settings worth reporting.
var mySourceVars = []string{"log_bin", "binlog_format", "binlog_row_image", "binlog_row_metadata", "sync_binlog",
	"innodb_flush_log_at_trx_commit", "innodb_buffer_pool_size", "innodb_log_file_size"}

// myReplicaVars are the native replica's applier settings.
var myReplicaVars = []string{"slave_parallel_threads", "slave_parallel_mode", "slave_domain_parallel_threads",
	"sync_relay_log", "sync_relay_log_info", "sync_master_info", "relay_log_recovery", "log_slave_updates"}

// myEngine is the running MariaDB comparison.
type myEngine struct {
	opts options
	bin  string

	src, tgt *mytest.Server
	dir      string // config and checkpoint files
	log      string // sluice's log, every leg appended; kept
	srcConns []*sql.Conn
	tgtConn  *sql.Conn // polling, emptying, checks

	version, srcSettings, tgtSettings, replSettings, sluiceVer string
	cleanups                                                   []func()
}

func (e *myEngine) defer_(f func()) { e.cleanups = append(e.cleanups, f) }

func (e *myEngine) cleanup() {
	for i := len(e.cleanups) - 1; i >= 0; i-- {
		e.cleanups[i]()
	}
	e.cleanups = nil
}

func (e *myEngine) label() string            { return "mariadb" }
func (e *myEngine) logPath() string          { return e.log }
func (e *myEngine) sourceLabel() string      { return "source server" }
func (e *myEngine) sourceCPU() time.Duration { return cpuTime(e.src.Pid()) }
func (e *myEngine) targetCPU() time.Duration { return cpuTime(e.tgt.Pid()) }

func (e *myEngine) setup(ctx context.Context) error {
	var err error
	if e.dir, err = os.MkdirTemp("", "sluice-bench-mariadb-"); err != nil {
		return err
	}
	e.defer_(func() { os.RemoveAll(e.dir) })
	f, err := os.CreateTemp("", "sluice-bench-mariadb-*.log") // kept for inspection
	if err != nil {
		return err
	}
	f.Close()
	e.log = f.Name()
	if out, err := execOutput(ctx, e.bin, "version"); err == nil {
		e.sluiceVer = out
	}
	par := "slave_parallel_threads=0, MariaDB's default: one applier thread"
	if e.opts.myParallel > 0 {
		par = fmt.Sprintf("slave_parallel_threads=%d, slave_parallel_mode=optimistic", e.opts.myParallel)
	}
	step(fmt.Sprintf("starting 2 MariaDB servers (innodb_flush_log_at_trx_commit=1, sync_binlog=1, buffer pool 256MB; source with binlog; target's replica %s)", par))
	if err := e.startServers(ctx); err != nil {
		return err
	}
	for _, s := range []*mytest.Server{e.src, e.tgt} {
		if err := s.Exec(ctx, "CREATE DATABASE "+myDBName+"; "+mySchemaSQL); err != nil {
			return fmt.Errorf("create the schema: %w", err)
		}
	}
	if err := e.connect(ctx); err != nil {
		return err
	}
	if e.version, err = e.src.QueryValue(ctx, "SELECT VERSION()"); err != nil {
		return err
	}
	if e.srcSettings, err = globalVars(ctx, e.src, mySourceVars); err != nil {
		return fmt.Errorf("source: %w", err)
	}
	if e.replSettings, err = globalVars(ctx, e.tgt, myReplicaVars); err != nil {
		return fmt.Errorf("target: %w", err)
	}
	if e.tgtSettings, err = globalVars(ctx, e.tgt, myTargetVars); err != nil {
		return fmt.Errorf("target: %w", err)
	}
	return nil
}

// startServers starts the two servers in parallel: the source with the
// binary log, the target without (a replica needs none), both durable.
func (e *myEngine) startServers(ctx context.Context) error {
	var ss [2]*mytest.Server
	var errs [2]error
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
	e.src, e.tgt = ss[0], ss[1]
	return nil
}

// connect opens the connections used for loads, polling and checks, each a
// session of its own, with benchdb as the default database.
func (e *myEngine) connect(ctx context.Context) error {
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
	cs, err := open(e.tgt, 1)
	if err != nil {
		return err
	}
	e.tgtConn = cs[0]
	return nil
}

func (e *myEngine) insertWarm(ctx context.Context, table string, id int64) error {
	_, err := e.srcConns[0].ExecContext(ctx, `INSERT INTO `+table+` VALUES (?, 0, 'warm-up', 0, NOW(6))`, id)
	return err
}

func (e *myEngine) prepare(context.Context, workload) error { return nil }

// finish checks that sluice did not win by changing the target's settings.
func (e *myEngine) finish(ctx context.Context) error {
	after, err := globalVars(ctx, e.tgt, myTargetVars)
	if err != nil {
		return fmt.Errorf("target: %w", err)
	}
	if after != e.tgtSettings {
		return fmt.Errorf("the target's settings changed during the run:\n  before: %s\n  after:  %s", e.tgtSettings, after)
	}
	return nil
}

func (e *myEngine) nativeChannel() string {
	return fmt.Sprintf("CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT=%d, MASTER_USER='root', MASTER_USE_GTID=slave_pos, MASTER_CONNECT_RETRY=1", e.src.Port)
}

func (e *myEngine) settings() []string {
	return []string{
		fmt.Sprintf("MariaDB %s; two servers on one machine (source; target, its table emptied per leg), same options (%s); "+
			"the target runs without a binary log", e.version, strings.Join(myServerArgs, " ")),
		"source: " + e.srcSettings,
		"target (checked unchanged at the end): " + e.tgtSettings,
		fmt.Sprintf("native: SET GLOBAL gtid_slave_pos = <source's gtid_binlog_pos>; %s; START SLAVE per leg (backlog: STOP SLAVE / START SLAVE); "+
			"applier settings: %s", strings.Replace(e.nativeChannel(), fmt.Sprintf("MASTER_PORT=%d", e.src.Port), "MASTER_PORT=<source>", 1), e.replSettings),
		fmt.Sprintf("sluice: %s, a new pipeline per leg, source.kind mysql (server_id %d), sink.kind mysql, snapshot: never, merge mode, default batching, log level %s",
			orDev(e.sluiceVer), mySluiceServerID, e.opts.logLevel),
		"source server: the CPU of the whole source mariadbd (its binlog dump thread, and the load)",
	}
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
