package main

// The back-fill measurement (-engine backfill): how fast sluice copies one
// 1,000,000-row table online, while it streams (`sluice snapshot --table`),
// against its own initial snapshot of the same table in the same run. PostgreSQL
// source and target, sluice alone on the machine (no native replicator).
//
// Per run: a fresh target database and a fresh pipeline (its own slot);
// sluice starts with snapshot: initial and copies the table (a); once it
// streams, `sluice snapshot --table` copies the same table again over the
// full target (b, the re-copy of a damaged table); then the target table
// is emptied (TRUNCATE, streamed) and the table is back-filled into the
// empty target (c, as for a new table). While (b) and (c) run, a trickle
// of small transactions into another table streams. Copy times come from
// sluice's own log: the snapshot's "took" and, for a back-fill, the time
// from "back-fill requested" to "table back-filled" (the last chunk
// applied; its commit follows within a batch). After each run the target
// must equal the source (count and md5 of every row).

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sluicecdc/sluice/internal/pgtest"
)

const (
	bfTable   = "bf_rows"
	bfSchema  = `CREATE TABLE bf_rows (id bigint PRIMARY KEY, k int, payload text, amount numeric(12,2), created timestamptz)`
	bfTick    = `CREATE TABLE bf_tick (id bigserial PRIMARY KEY, at timestamptz DEFAULT now())`
	bfFill    = `INSERT INTO bf_rows SELECT g, g %% 1000, md5(g::text) || md5((g * 7)::text), g * 0.01, '2026-01-01'::timestamptz + g * interval '1 second' FROM generate_series(1, %d) g`
	bfTickHz  = 10
	bfDefRows = 1_000_000
)

// bfEnv is the running back-fill measurement: a source and a target cluster.
type bfEnv struct {
	opts     options
	bin      string
	dir      string
	rows     int64
	src, tgt *pgtest.Cluster
	srcConn  *pgx.Conn
	logPath  string // the last sluice log

	pgVersion, settings, sluiceVer string
	cleanups                       []func()
}

// bfCopy is one copy of the table.
type bfCopy struct {
	took    time.Duration // the copy, from sluice's log
	cpu     time.Duration // sluice's CPU in the copy's window
	srcCPU  time.Duration // the source cluster's processes
	tgtCPU  time.Duration // the target cluster's processes
	rows    int64
	rssKB   int64
	chunks  int // back-fills: chunks applied
	ticksOK bool
}

func (c bfCopy) rate() float64 {
	if c.took <= 0 {
		return 0
	}
	return float64(c.rows) / c.took.Seconds()
}

// bfRun is one run: the snapshot (a), the re-copy (b), the back-fill into an empty table (c).
type bfRun struct{ snap, recopy, empty bfCopy }

func (b *bfEnv) defer_(f func()) { b.cleanups = append(b.cleanups, f) }

func (b *bfEnv) cleanup() {
	for i := len(b.cleanups) - 1; i >= 0; i-- {
		b.cleanups[i]()
	}
	b.cleanups = nil
}

func (b *bfEnv) setup(ctx context.Context) error {
	var err error
	if b.dir, err = os.MkdirTemp("", "sluice-bench-backfill-"); err != nil {
		return err
	}
	b.defer_(func() { os.RemoveAll(b.dir) })
	if out, err := exec.CommandContext(ctx, b.bin, "version").Output(); err == nil {
		b.sluiceVer = strings.TrimSpace(string(out))
	}
	step("back-fill: starting 2 PostgreSQL clusters (fsync on, shared_buffers 256MB, max_wal_size 4GB)")
	opts := pgtest.Options{Fsync: true, Settings: clusterSettings}
	for _, c := range []**pgtest.Cluster{&b.src, &b.tgt} {
		cl, err := pgtest.StartCluster(ctx, opts)
		if err != nil {
			return err
		}
		b.defer_(func() {
			if err := cl.Remove(); err != nil {
				fmt.Fprintf(os.Stderr, "bench: %v\n", err)
			}
		})
		*c = cl
	}
	if err := b.src.CreateDB(ctx, dbName); err != nil {
		return err
	}
	step(fmt.Sprintf("back-fill: loading %d rows into the source table", b.rows))
	if err := b.src.Exec(ctx, dbName, bfSchema+"; "+bfTick+"; "+fmt.Sprintf(bfFill, b.rows)); err != nil {
		return err
	}
	if err := b.src.Exec(ctx, dbName, "VACUUM ANALYZE bf_rows"); err != nil {
		return err
	}
	cfg, err := pgx.ParseConfig(b.src.DSN(dbName))
	if err != nil {
		return err
	}
	if b.srcConn, err = pgx.ConnectConfig(ctx, cfg); err != nil {
		return err
	}
	b.defer_(func() { b.srcConn.Close(context.Background()) })
	return b.srcConn.QueryRow(ctx, `SELECT current_setting('server_version'),
		string_agg(n || '=' || current_setting(n), ', ' ORDER BY n)
		FROM unnest(ARRAY['fsync', 'synchronous_commit', 'shared_buffers', 'max_wal_size', 'wal_level']) n`).Scan(&b.pgVersion, &b.settings)
}

// runAll runs the measurement o.runs times.
func (b *bfEnv) runAll(ctx context.Context) ([]bfRun, error) {
	var runs []bfRun
	for i := range b.opts.runs {
		r, err := b.runOnce(ctx, i+1)
		if err != nil {
			return runs, fmt.Errorf("run %d: %w", i+1, err)
		}
		step(fmt.Sprintf("back-fill run %d: snapshot %.0f rows/s (%.2fs, sluice cpu %.2fs); re-copy %.0f rows/s (%.2fs, cpu %.2fs, %d chunks), ratio %.2f; "+
			"into an empty table %.0f rows/s (%.2fs, cpu %.2fs), ratio %.2f",
			i+1, r.snap.rate(), r.snap.took.Seconds(), r.snap.cpu.Seconds(),
			r.recopy.rate(), r.recopy.took.Seconds(), r.recopy.cpu.Seconds(), r.recopy.chunks, r.recopy.rate()/r.snap.rate(),
			r.empty.rate(), r.empty.took.Seconds(), r.empty.cpu.Seconds(), r.empty.rate()/r.snap.rate()))
		runs = append(runs, r)
	}
	return runs, nil
}

func (b *bfEnv) runOnce(ctx context.Context, n int) (bfRun, error) {
	var r bfRun
	db := fmt.Sprintf("bf%d", n)
	if err := b.tgt.CreateDB(ctx, db); err != nil {
		return r, err
	}
	defer b.tgt.Exec(context.Background(), "postgres", "DROP DATABASE "+db+" WITH (FORCE)")
	addr, err := freeAddr()
	if err != nil {
		return r, err
	}
	name := fmt.Sprintf("bf%d", n)
	cfgPath := filepath.Join(b.dir, name+".yaml")
	cfg := fmt.Sprintf(`name: %s
source:
  kind: postgres
  dsn: %s
  tables: ["public.bf_rows", "public.bf_tick"]
  snapshot: initial
sink:
  kind: postgres
  dsn: %s
checkpoint:
  path: %s
log:
  level: %s
  format: json
http:
  listen: %s
  admin: true
`, name, b.src.DSN(dbName), b.tgt.DSN(db), filepath.Join(b.dir, name+".checkpoint"), b.opts.logLevel, addr)
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		return r, err
	}
	f, err := os.CreateTemp("", "sluice-bench-backfill-*.log")
	if err != nil {
		return r, err
	}
	b.logPath = f.Name()
	src0, tgt0 := clusterCPU(b.src), clusterCPU(b.tgt)
	proc, err := startSluice(b.bin, cfgPath, f)
	if err != nil {
		return r, err
	}
	defer func() {
		proc.stop(30 * time.Second)
		b.srcConn.Exec(context.Background(), "SELECT pg_drop_replication_slot($1)", "sluice_"+name)
		b.srcConn.Exec(context.Background(), "DROP PUBLICATION IF EXISTS sluice_"+name)
	}()
	rss := newRSSSampler(proc.pid())
	defer rss.close()
	step(fmt.Sprintf("back-fill run %d: initial snapshot", n))
	line, err := b.waitLog(ctx, proc, "snapshot done", 0, 10*time.Minute)
	if err != nil {
		return r, err
	}
	r.snap = bfCopy{took: time.Duration(line.Took * float64(time.Millisecond)), rows: line.Rows, cpu: cpuTime(proc.pid()),
		srcCPU: clusterCPU(b.src) - src0, tgtCPU: clusterCPU(b.tgt) - tgt0, rssKB: rss.peak()}
	if r.snap.rows < b.rows {
		return r, fmt.Errorf("the snapshot copied %d rows, want at least %d", r.snap.rows, b.rows)
	}
	r.snap.rows = b.rows // the tick table's rows are not counted
	if err := b.waitStreaming(ctx, proc, addr); err != nil {
		return r, err
	}
	if err := b.verify(ctx, db); err != nil {
		return r, fmt.Errorf("after the snapshot: %w", err)
	}
	step(fmt.Sprintf("back-fill run %d: re-copy over the full target table", n))
	if r.recopy, err = b.backfill(ctx, proc, cfgPath, rss); err != nil {
		return r, err
	}
	if err := b.verify(ctx, db); err != nil {
		return r, fmt.Errorf("after the re-copy: %w", err)
	}
	step(fmt.Sprintf("back-fill run %d: back-fill into the emptied target table", n))
	if err := b.tgt.Exec(ctx, db, "TRUNCATE "+bfTable); err != nil {
		return r, err
	}
	if r.empty, err = b.backfill(ctx, proc, cfgPath, rss); err != nil {
		return r, err
	}
	if err := b.verify(ctx, db); err != nil {
		return r, fmt.Errorf("after the back-fill into the empty table: %w", err)
	}
	return r, nil
}

// backfill asks the running sluice to copy the table again and measures it.
func (b *bfEnv) backfill(ctx context.Context, proc *sluiceProc, cfgPath string, rss *rssSampler) (bfCopy, error) {
	var c bfCopy
	from := countLines(b.logPath)
	stop := make(chan struct{})
	ticked := make(chan error, 1)
	go func() { ticked <- b.tick(ctx, stop) }()
	rss.reset()
	cpu0, src0, tgt0 := cpuTime(proc.pid()), clusterCPU(b.src), clusterCPU(b.tgt)
	if out, err := exec.CommandContext(ctx, b.bin, "snapshot", "--config", cfgPath, "--table", "public."+bfTable).CombinedOutput(); err != nil {
		close(stop)
		<-ticked
		return c, fmt.Errorf("sluice snapshot: %v\n%s", err, out)
	}
	start, err := b.waitLog(ctx, proc, "back-fill requested", from, time.Minute)
	if err == nil {
		var end logLine
		if end, err = b.waitLog(ctx, proc, "table back-filled", from, 10*time.Minute); err == nil {
			c.took, c.rows = end.Time.Sub(start.Time), end.Rows
		}
	}
	c.cpu, c.srcCPU, c.tgtCPU, c.rssKB = cpuTime(proc.pid())-cpu0, clusterCPU(b.src)-src0, clusterCPU(b.tgt)-tgt0, rss.peak()
	close(stop)
	if terr := <-ticked; err == nil && terr != nil {
		err = terr
	}
	c.chunks = b.countChunks(from)
	return c, err
}

// tick commits small transactions into bf_tick until stop: the stream
// the back-fill runs beside.
func (b *bfEnv) tick(ctx context.Context, stop chan struct{}) error {
	conn, err := pgx.Connect(ctx, b.src.DSN(dbName))
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	t := time.NewTicker(time.Second / bfTickHz)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
			if _, err := conn.Exec(ctx, "INSERT INTO bf_tick DEFAULT VALUES"); err != nil {
				return err
			}
		}
	}
}

// verify checks that the target's tables equal the source's.
func (b *bfEnv) verify(ctx context.Context, db string) error {
	const q = `SELECT count(*) || ' ' || coalesce(md5(string_agg(t::text, ',' ORDER BY id)), '') FROM %s t`
	for _, table := range []string{bfTable, "bf_tick"} {
		deadline := time.Now().Add(time.Minute)
		for {
			s, err := b.src.QueryValue(ctx, dbName, fmt.Sprintf(q, table))
			if err != nil {
				return err
			}
			d, err := b.tgt.QueryValue(ctx, db, fmt.Sprintf(q, table))
			if err == nil && s == d {
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("target %s differs from the source: %s vs %s (%v)", table, d, s, err)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	return nil
}

// logLine is what the measurement reads from one of sluice's log lines.
type logLine struct {
	Time    time.Time `json:"time"`
	Message string    `json:"message"`
	Rows    int64     `json:"rows"`
	Took    float64   `json:"took"` // ms
}

// waitLog waits for a log line with message msg after line from.
func (b *bfEnv) waitLog(ctx context.Context, proc *sluiceProc, msg string, from int, timeout time.Duration) (logLine, error) {
	deadline := time.Now().Add(timeout)
	for {
		if l, ok := findLine(b.logPath, msg, from); ok {
			return l, nil
		}
		if err := proc.exited(); err != nil {
			return logLine{}, err
		}
		if time.Now().After(deadline) {
			return logLine{}, fmt.Errorf("no %q in sluice's log after %v", msg, timeout)
		}
		select {
		case <-ctx.Done():
			return logLine{}, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func findLine(path, msg string, from int) (logLine, bool) {
	f, err := os.Open(path)
	if err != nil {
		return logLine{}, false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for i := 0; sc.Scan(); i++ {
		if i < from || !strings.Contains(sc.Text(), `"message":"`+msg+`"`) {
			continue
		}
		var l logLine
		if json.Unmarshal(sc.Bytes(), &l) == nil {
			return l, true
		}
	}
	return logLine{}, false
}

func countLines(path string) int {
	b, _ := os.ReadFile(path)
	return strings.Count(string(b), "\n")
}

// countChunks counts the back-fill chunks applied after line from (debug log only).
func (b *bfEnv) countChunks(from int) int {
	data, _ := os.ReadFile(b.logPath)
	lines := strings.Split(string(data), "\n")
	n := 0
	for i, l := range lines {
		if i >= from && strings.Contains(l, `"message":"back-fill chunk applied"`) {
			n++
		}
	}
	return n
}

// waitStreaming waits until /status says streaming.
func (b *bfEnv) waitStreaming(ctx context.Context, proc *sluiceProc, addr string) error {
	deadline := time.Now().Add(2 * time.Minute)
	for {
		var out []byte
		var st struct{ State string }
		if resp, err := http.Get("http://" + addr + "/status"); err == nil {
			out, _ = io.ReadAll(resp.Body)
			resp.Body.Close()
		}
		if json.Unmarshal(out, &st) == nil && st.State == "streaming" {
			return nil
		}
		if err := proc.exited(); err != nil {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("sluice not streaming 2 minutes after its snapshot: %s", out)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}
