package main

// The PostgreSQL comparison: a source cluster and one target cluster with
// identical settings; each leg gets a fresh target database and either a
// fresh subscription (the native subscriber) or a fresh sluice pipeline
// (its own slot), which are dropped after the leg.

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sluicecdc/sluice/internal/pgtest"
)

const (
	dbName  = "bench"
	writers = 4 // connections of the small workload

	schemaSQL = `CREATE TABLE bench_rows (id bigint PRIMARY KEY, k int, payload text, amount numeric(12,2), created timestamptz);
		CREATE TABLE bench_copy (id bigint PRIMARY KEY, k int, payload text, amount numeric(12,2), created timestamptz)`
)

// clusterSettings are the postgresql.conf settings of every cluster
// (besides pgtest's: wal_level=logical, fsync on with Options.Fsync).
var clusterSettings = map[string]string{
	"shared_buffers": "256MB",
	"max_wal_size":   "4GB",
}

// pgEngine is the running PostgreSQL comparison.
type pgEngine struct {
	opts options
	bin  string

	src, tgt *pgtest.Cluster
	dir      string // config and checkpoint files
	log      string // sluice's log, every leg appended; kept
	srcConns []*pgx.Conn
	senders  *walsenderMeter

	pgVersion, settingsStr, sluiceVer string
	cleanups                          []func()
}

func (e *pgEngine) defer_(f func()) { e.cleanups = append(e.cleanups, f) }

func (e *pgEngine) cleanup() {
	for i := len(e.cleanups) - 1; i >= 0; i-- {
		e.cleanups[i]()
	}
	e.cleanups = nil
}

func (e *pgEngine) label() string       { return "pg" }
func (e *pgEngine) logPath() string     { return e.log }
func (e *pgEngine) sourceLabel() string { return "walsender" }

// sourceCPU is the CPU time of the source's walsenders: during a leg only
// the replicator under test has any.
func (e *pgEngine) sourceCPU() time.Duration { return e.senders.read() }
func (e *pgEngine) targetCPU() time.Duration { return clusterCPU(e.tgt) }

func (e *pgEngine) setup(ctx context.Context) error {
	var err error
	if e.dir, err = os.MkdirTemp("", "sluice-bench-"); err != nil {
		return err
	}
	e.defer_(func() { os.RemoveAll(e.dir) })
	f, err := os.CreateTemp("", "sluice-bench-*.log") // kept for inspection
	if err != nil {
		return err
	}
	f.Close()
	e.log = f.Name()
	if out, err := execOutput(ctx, e.bin, "version"); err == nil {
		e.sluiceVer = out
	}
	step("starting 2 PostgreSQL clusters, source and target (fsync on, shared_buffers 256MB, max_wal_size 4GB)")
	if err := e.startClusters(ctx); err != nil {
		return err
	}
	if err := e.src.CreateDB(ctx, dbName); err != nil {
		return err
	}
	if err := e.src.Exec(ctx, dbName, schemaSQL+`;
		CREATE PUBLICATION native_pub FOR TABLE bench_rows;
		CREATE PUBLICATION native_copy_pub FOR TABLE bench_copy`); err != nil {
		return err
	}
	// The subscriber's launcher starts an apply worker at most once per
	// wal_retrieve_retry_interval (5 s by default), counted from the last
	// start of any worker: with a fresh subscription per leg, the default
	// would add up to 5 s of waiting to native's time.
	if err := e.tgt.Exec(ctx, "postgres", `ALTER SYSTEM SET wal_retrieve_retry_interval = '50ms'`); err != nil {
		return err
	}
	if err := e.tgt.Exec(ctx, "postgres", `SELECT pg_reload_conf()`); err != nil {
		return err
	}
	for range writers {
		c, err := pgConnect(ctx, e.src.DSN(dbName))
		if err != nil {
			return err
		}
		e.defer_(func() { c.Close(context.Background()) })
		e.srcConns = append(e.srcConns, c)
	}
	if e.pgVersion, e.settingsStr, err = pgSettings(ctx, e.srcConns[0]); err != nil {
		return err
	}
	e.senders = newWalsenderMeter(e.src)
	e.defer_(e.senders.close)
	return nil
}

// startClusters starts the two clusters in parallel; initdb with fsync on
// is slow.
func (e *pgEngine) startClusters(ctx context.Context) error {
	opts := pgtest.Options{Fsync: true, Settings: clusterSettings}
	var cs [2]*pgtest.Cluster
	var errs [2]error
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
	e.src, e.tgt = cs[0], cs[1]
	return nil
}

// pgConnect opens a connection in UTC, so timestamps print (and checksum)
// the same on every cluster.
func pgConnect(ctx context.Context, dsn string) (*pgx.Conn, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, err
	}
	cfg.RuntimeParams["TimeZone"] = "UTC"
	cfg.RuntimeParams["application_name"] = "bench"
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", dsn, err)
	}
	return conn, nil
}

// pgSettings reads the server version and the settings worth reporting.
func pgSettings(ctx context.Context, conn *pgx.Conn) (version, settings string, err error) {
	err = conn.QueryRow(ctx, `SELECT current_setting('server_version'),
		string_agg(n || '=' || current_setting(n), ', ' ORDER BY n)
		FROM unnest(ARRAY['fsync', 'full_page_writes', 'synchronous_commit', 'shared_buffers', 'max_wal_size',
			'logical_decoding_work_mem', 'wal_level']) n`).Scan(&version, &settings)
	if err != nil {
		return "", "", fmt.Errorf("read settings: %w", err)
	}
	return version, settings, nil
}

func (e *pgEngine) insertWarm(ctx context.Context, table string, id int64) error {
	_, err := e.srcConns[0].Exec(ctx, `INSERT INTO `+table+` VALUES ($1, 0, 'warm-up', 0, now())`, id)
	return err
}

// finish checks that no slot or subscription was left behind.
func (e *pgEngine) finish(ctx context.Context) error {
	var n int
	if err := e.srcConns[0].QueryRow(ctx, `SELECT count(*) FROM pg_replication_slots`).Scan(&n); err != nil {
		return err
	}
	if n != 0 {
		return fmt.Errorf("%d replication slots left on the source after the legs", n)
	}
	return nil
}

func (e *pgEngine) settings() []string {
	return []string{
		fmt.Sprintf("PostgreSQL %s; two clusters on one machine (source; target, a fresh database per leg), identical settings: %s",
			e.pgVersion, e.settingsStr),
		"native: CREATE SUBSCRIPTION ... WITH (copy_data = false, streaming = on) per leg (copy: copy_data = true), otherwise defaults; " +
			"the target's wal_retrieve_retry_interval = 50ms, so a new subscription's worker starts at once",
		fmt.Sprintf("sluice: %s, a new pipeline (slot) per leg, snapshot: never (copy: initial), merge mode, default batching, log level %s; "+
			"its target commits with the server default synchronous_commit (on)", orDev(e.sluiceVer), e.opts.logLevel),
		"walsender: the CPU of the source's walsender processes (the replicator's, and for a copy the table-sync workers'), polled every 50 ms",
	}
}

// newLeg makes a fresh target database with the schema and a connection
// to it, and the replicator for it.
func (e *pgEngine) newLeg(ctx context.Context, s side, w workload, n int) (replica, error) {
	db := fmt.Sprintf("bench_t%d", n)
	if err := e.tgt.CreateDB(ctx, db); err != nil {
		return nil, err
	}
	t := &pgTarget{e: e, db: db, table: w.table}
	if err := e.tgt.Exec(ctx, db, schemaSQL); err != nil {
		t.drop()
		return nil, err
	}
	var err error
	if t.conn, err = pgConnect(ctx, e.tgt.DSN(db)); err != nil {
		t.drop()
		return nil, err
	}
	if s == native {
		pub := "native_pub"
		if w.mode == initialCopy {
			pub = "native_copy_pub"
		}
		return &pgNative{pgTarget: t, sub: fmt.Sprintf("native_sub_%d", n), pub: pub, copy: w.mode == initialCopy}, nil
	}
	name := fmt.Sprintf("bench_s%d", n)
	snapshot := "never"
	if w.mode == initialCopy {
		snapshot = "initial"
	}
	cfg := fmt.Sprintf(`name: %s
source:
  kind: postgres
  dsn: %s
  tables: ["public.%s"]
  snapshot: %s
sink:
  kind: postgres
  dsn: %s
checkpoint:
  path: %s
log:
  level: %s
`, name, e.src.DSN(dbName), w.table, snapshot, e.tgt.DSN(db), filepath.Join(e.dir, name+".checkpoint"), e.opts.logLevel)
	cfgPath := filepath.Join(e.dir, name+".yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.drop()
		return nil, err
	}
	return &pgSluice{pgTarget: t, name: name, copy: w.mode == initialCopy,
		run: &sluiceRun{bin: e.bin, cfgPath: cfgPath, logPath: e.log}}, nil
}
