package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sluicecdc/sluice/pkg/metrics"
)

// backfillEnv is an env whose sluice serves the admin endpoint.
type backfillEnv struct {
	*env
	addr string
}

// newBackfillEnv starts the clusters and writes a config with the admin
// endpoint on and the given source.snapshot.
func newBackfillEnv(t *testing.T, snapshot string) *backfillEnv {
	e := newEnv(t, "batch:\n  rows: 5000\n")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	b, err := os.ReadFile(e.cfg)
	if err != nil {
		t.Fatal(err)
	}
	cfg := strings.Replace(string(b), "  tables: [\"public.*\"]\n", "  tables: [\"public.*\"]\n  snapshot: "+snapshot+"\n", 1)
	cfg += fmt.Sprintf("http:\n  listen: %s\n  admin: true\n", addr)
	if err := os.WriteFile(e.cfg, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return &backfillEnv{env: e, addr: addr}
}

// startWith starts sluice run with extra environment variables.
func (e *backfillEnv) startWith(environ ...string) *proc {
	e.t.Helper()
	logPath := filepath.Join(e.dir, fmt.Sprintf("sluice-%d.log", time.Now().UnixNano()))
	f, err := os.Create(logPath)
	if err != nil {
		e.t.Fatal(err)
	}
	cmd := exec.Command(binary, "run", "--config", e.cfg)
	cmd.Env = append(os.Environ(), environ...)
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		e.t.Fatal(err)
	}
	p := &proc{cmd: cmd, log: logPath, done: make(chan error, 1)}
	go func() { p.done <- cmd.Wait(); f.Close() }()
	e.t.Cleanup(func() { cmd.Process.Kill() })
	return p
}

// status asks the running sluice for /status; ok false while it does not answer.
func (e *backfillEnv) status() (metrics.Status, bool) {
	var s metrics.Status
	resp, err := http.Get("http://" + e.addr + "/status")
	if err != nil {
		return s, false
	}
	defer resp.Body.Close()
	return s, json.NewDecoder(resp.Body).Decode(&s) == nil
}

// waitStatus polls /status until cond holds.
func (e *backfillEnv) waitStatus(p *proc, timeout time.Duration, what string, cond func(metrics.Status) bool) metrics.Status {
	e.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		s, ok := e.status()
		if ok && cond(s) {
			return s
		}
		select {
		case err := <-p.done:
			e.t.Fatalf("sluice exited (%v) while waiting for %s; log:\n%s", err, what, tail(p.logText(), 8000))
		default:
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("no %s within %v (last status %+v); log:\n%s", what, timeout, s.Backfills, tail(p.logText(), 8000))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func streaming(s metrics.Status) bool { return s.State == "streaming" }

// backfillRows is the progress /status shows for table (-1: none listed).
func backfillRows(s metrics.Status, table string) (int64, bool) {
	for _, b := range s.Backfills {
		if b.Table == table {
			return b.Rows, b.Done
		}
	}
	return -1, false
}

// snapshotCmd runs `sluice snapshot` and checks that it returns at once.
func (e *backfillEnv) snapshotCmd(args ...string) {
	e.t.Helper()
	start := time.Now()
	out, err := exec.Command(binary, append([]string{"snapshot", "--config", e.cfg}, args...)...).CombinedOutput()
	if err != nil {
		e.t.Fatalf("sluice snapshot %v: %v\n%s", args, err, out)
	}
	if took := time.Since(start); took > 10*time.Second {
		e.t.Fatalf("sluice snapshot took %v; it should return once the back-fill is queued", took)
	}
	if !strings.Contains(string(out), "back-fill queued") {
		e.t.Fatalf("sluice snapshot said: %s", out)
	}
}

// writer hits one table with updates, deletes and inserts of random keys
// from several connections and records the longest statement (which is
// where a lock held by the back-fill would show).
type writer struct {
	// hot is about where the back-fill reads now: half the writes go to
	// the keys just ahead of it, where a chunk's read and a write race.
	hot     atomic.Int64
	stop    atomic.Bool
	wg      sync.WaitGroup
	ops     atomic.Int64
	longest atomic.Int64 // nanoseconds
	errMu   sync.Mutex
	err     error
}

func startWriter(t *testing.T, dsn, table string, keys, conns int) *writer {
	w := &writer{}
	for i := range conns {
		conn, err := pgx.Connect(context.Background(), dsn)
		if err != nil {
			t.Fatal(err)
		}
		w.wg.Add(1)
		go func() {
			defer w.wg.Done()
			defer conn.Close(context.Background())
			rnd := rand.New(rand.NewPCG(uint64(i), uint64(time.Now().UnixNano())))
			for !w.stop.Load() {
				if err := w.one(conn, rnd, table, keys); err != nil {
					w.errMu.Lock()
					w.err = err
					w.errMu.Unlock()
					return
				}
				// A pace the pipeline keeps up with: a pipeline that lags
				// reads the log late, which hides the race the stale filter
				// is for (see source/postgres/backfill.go).
				time.Sleep(2 * time.Millisecond)
			}
		}()
	}
	return w
}

// one runs a transaction of one to three statements on random keys.
func (w *writer) one(conn *pgx.Conn, rnd *rand.Rand, table string, keys int) error {
	ctx := context.Background()
	n := 1 + rnd.IntN(3)
	tx, err := conn.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx) //nolint:errcheck
	for range n {
		id := 1 + rnd.IntN(keys+keys/10) // some inserts beyond the initial rows
		if h := w.hot.Load(); h > 0 && rnd.IntN(2) == 0 {
			id = int(h) + rnd.IntN(60000)
		}
		var sql string
		switch r := rnd.IntN(100); {
		case r < 55:
			sql = fmt.Sprintf("UPDATE %s SET a = a + 1, b = md5(random()::text) WHERE id = %d", table, id)
		case r < 75:
			sql = fmt.Sprintf("DELETE FROM %s WHERE id = %d", table, id)
		default:
			sql = fmt.Sprintf("INSERT INTO %s (id, a, b) VALUES (%d, 0, 'new') ON CONFLICT (id) DO UPDATE SET a = %s.a + 1000, b = 'reinserted'", table, id, table)
		}
		start := time.Now()
		if _, err := tx.Exec(ctx, sql); err != nil {
			return err
		}
		if d := int64(time.Since(start)); d > w.longest.Load() {
			w.longest.Store(d)
		}
		w.ops.Add(1)
	}
	return tx.Commit(ctx)
}

func (w *writer) halt(t *testing.T) {
	w.stop.Store(true)
	w.wg.Wait()
	if w.err != nil {
		t.Fatalf("writer: %v", w.err)
	}
}

// lockWatch samples the source's lock waits every 10 ms: the longest any
// backend waited for a lock, and the longest wait on a lock that a sluice
// session (the back-fill's reads, the catalog look-ups) held.
type lockWatch struct {
	mu               sync.Mutex
	stop             chan struct{}
	done             chan struct{}
	longest, bySluce time.Duration
	samples          int
}

func watchLocks(t *testing.T, dsn string) *lockWatch {
	conn, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	lw := &lockWatch{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(lw.done)
		defer conn.Close(context.Background())
		for {
			select {
			case <-lw.stop:
				return
			case <-time.After(10 * time.Millisecond):
			}
			var all, sluice float64
			err := conn.QueryRow(context.Background(), `
				SELECT coalesce(max(extract(epoch FROM clock_timestamp() - a.query_start)), 0),
				       coalesce(max(extract(epoch FROM clock_timestamp() - a.query_start)) FILTER (WHERE EXISTS (
				         SELECT 1 FROM pg_stat_activity h WHERE h.pid = ANY (pg_blocking_pids(a.pid)) AND h.application_name = 'sluice')), 0)
				FROM pg_stat_activity a WHERE a.wait_event_type = 'Lock'`).Scan(&all, &sluice)
			if err != nil {
				continue
			}
			lw.mu.Lock()
			lw.samples++
			lw.longest = max(lw.longest, time.Duration(all*float64(time.Second)))
			lw.bySluce = max(lw.bySluce, time.Duration(sluice*float64(time.Second)))
			lw.mu.Unlock()
		}
	}()
	return lw
}

func (lw *lockWatch) halt() { close(lw.stop); <-lw.done }

func (lw *lockWatch) peek() time.Duration {
	lw.mu.Lock()
	defer lw.mu.Unlock()
	return lw.longest
}

// provokeLockWait makes one session wait 300ms for another's row lock and
// returns the longest wait the sampler saw meanwhile.
func provokeLockWait(t *testing.T, dsn string, lw *lockWatch) time.Duration {
	ctx := context.Background()
	a, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close(ctx)
	b, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close(ctx)
	if _, err := a.Exec(ctx, "CREATE TABLE IF NOT EXISTS lockprobe (id int PRIMARY KEY); INSERT INTO lockprobe VALUES (1) ON CONFLICT DO NOTHING"); err != nil {
		t.Fatal(err)
	}
	tx, err := a.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, "UPDATE lockprobe SET id = 1"); err != nil {
		t.Fatal(err)
	}
	waited := make(chan error, 1)
	go func() { _, err := b.Exec(ctx, "UPDATE lockprobe SET id = 1"); waited <- err }()
	time.Sleep(300 * time.Millisecond)
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-waited; err != nil {
		t.Fatal(err)
	}
	time.Sleep(30 * time.Millisecond)
	return lw.peek()
}

// backfillRowsWanted is the size of the big table: 200,000 by default (CI
// time), SLUICE_BACKFILL_ROWS to change it (e.g. 1000000).
func backfillRowsWanted(t *testing.T) int {
	if v := os.Getenv("SLUICE_BACKFILL_ROWS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1000 {
			t.Fatalf("SLUICE_BACKFILL_ROWS=%q: want a number >= 1000", v)
		}
		return n
	}
	return 200000
}

// runBigBackfill creates a table of n rows that the pipeline (started with
// source.snapshot: never) has never copied, back-fills it with `sluice
// snapshot --table` while writers change the same table, kills sluice -9
// twice during the back-fill, and returns the env and the last process
// once the back-fill is done and the writers stopped.
func runBigBackfill(t *testing.T, n int, environ ...string) (*backfillEnv, *proc, *writer, *lockWatch) {
	e := newBackfillEnv(t, "never")
	e.srcExec(fmt.Sprintf(`CREATE TABLE big (id bigint PRIMARY KEY, a int NOT NULL, b text, c timestamptz DEFAULT now());
		INSERT INTO big (id, a, b) SELECT g, g %% 1000, md5(g::text) FROM generate_series(1, %d) g;
		CREATE TABLE marker (id int PRIMARY KEY)`, n))
	p := e.startWith(environ...)
	e.waitStatus(p, 60*time.Second, "streaming", streaming)
	w := startWriter(t, e.src.DSN("app"), "big", n, 3)
	polling := make(chan struct{})
	defer close(polling)
	go func() { // tell the writers where the back-fill is
		for {
			select {
			case <-polling:
				return
			case <-time.After(20 * time.Millisecond):
			}
			if s, ok := e.status(); ok {
				if r, done := backfillRows(s, "public.big"); r >= 0 && !done {
					w.hot.Store(r)
				} else if done {
					w.hot.Store(0)
				}
			}
		}
	}()
	time.Sleep(500 * time.Millisecond)
	lw := watchLocks(t, e.src.DSN("app"))
	if d := provokeLockWait(t, e.src.DSN("app"), lw); d < 100*time.Millisecond {
		t.Fatalf("the lock sampler saw a 300ms lock wait as %v: it does not measure", d)
	}
	lw.mu.Lock()
	lw.longest = 0 // the provoked wait was only to check the sampler
	lw.mu.Unlock()
	began := time.Now()
	e.snapshotCmd("--table", "public.big")
	for i, frac := range []int64{5, 2} { // kill at a fifth, then at half
		at := int64(n) / frac
		e.waitStatus(p, 120*time.Second, fmt.Sprintf("back-fill past %d rows", at), func(s metrics.Status) bool {
			r, done := backfillRows(s, "public.big")
			if done {
				t.Fatalf("back-fill finished before kill %d at %d rows: make the table bigger", i+1, at)
			}
			return r >= at
		})
		s, _ := e.status()
		r, _ := backfillRows(s, "public.big")
		p.kill9()
		t.Logf("kill -9 #%d with %d rows back-filled (%v after the request)", i+1, r, time.Since(began).Round(time.Millisecond))
		p = e.startWith(environ...)
		s = e.waitStatus(p, 60*time.Second, "the resumed back-fill", func(s metrics.Status) bool {
			r, _ := backfillRows(s, "public.big")
			return r >= 0
		})
		r, _ = backfillRows(s, "public.big")
		if r <= 0 {
			t.Fatalf("after kill %d the back-fill did not resume from its checkpoint (rows %d)", i+1, r)
		}
		t.Logf("restarted: back-fill resumes at %d rows", r)
	}
	e.waitStatus(p, 300*time.Second, "the end of the back-fill", func(s metrics.Status) bool {
		_, done := backfillRows(s, "public.big")
		return done
	})
	t.Logf("back-fill of %d rows done %v after the request, with %d writes meanwhile", n, time.Since(began).Round(time.Millisecond), w.ops.Load())
	lw.halt()
	time.Sleep(time.Second) // writes after the back-fill still stream
	w.halt(t)
	// A row in another table marks the end of the writes in the stream.
	e.srcExec("INSERT INTO marker VALUES (1)")
	e.waitEqual(120*time.Second, p, "marker")
	return e, p, w, lw
}

// chunkDelay makes each chunk's read last a while after its snapshot (a
// test-only switch), so that writes commit between a chunk's snapshot and
// its place in the stream, as on a busy server: the race the stale-row
// filter resolves happens many times per run instead of rarely.
const chunkDelay = "SLUICE_TEST_CHUNK_DELAY=150ms"

// TestBackfillUnderWritesWithKills is the back-fill's main guarantee: a
// table copied while the same table is written to, with two kill -9 during
// the copy, ends equal to the source row for row.
func TestBackfillUnderWritesWithKills(t *testing.T) {
	t.Parallel()
	n := backfillRowsWanted(t)
	e, p, w, lw := runBigBackfill(t, n, chunkDelay)
	e.waitEqual(120*time.Second, p, "big")
	t.Logf("target equals source row for row; longest write statement during the back-fill: %v (%d writes)",
		time.Duration(w.longest.Load()).Round(time.Microsecond), w.ops.Load())
	t.Logf("lock waits on the source during the back-fill (%d samples, every 10ms): longest any session waited %v "+
		"(the writers' own row locks), longest on a lock a sluice session held %v",
		lw.samples, lw.longest.Round(time.Millisecond), lw.bySluce.Round(time.Millisecond))
	if lw.bySluce > 0 {
		t.Errorf("a writer waited %v for a lock sluice held: the back-fill must take no lock a writer waits for", lw.bySluce)
	}
	var chunks, stale int
	logs, _ := filepath.Glob(filepath.Join(e.dir, "sluice-*.log"))
	for _, l := range logs {
		b, _ := os.ReadFile(l)
		c, s := staleStats(string(b))
		chunks, stale = chunks+c, stale+s
	}
	t.Logf("the %d runs emitted %d chunks in which the stale filter found %d stale keys", len(logs), chunks, stale)
	if stale == 0 {
		t.Errorf("no chunk had a stale key: the writes never raced a chunk, so the test proves little")
	}
	if !strings.Contains(p.logText(), "table back-filled") {
		t.Errorf("no \"table back-filled\" log line")
	}
	p.stop(t)
}

// TestBackfillWithoutStaleFilterFails shows that the stale-row filter is
// what makes the back-fill right: without it (a test-only switch), chunk
// rows read before a concurrent change overwrite that change, and the
// target ends different from the source.
func TestBackfillWithoutStaleFilterFails(t *testing.T) {
	t.Parallel()
	e, p, _, _ := runBigBackfill(t, 100000, chunkDelay, "SLUICE_TEST_SKIP_STALE_FILTER=1")
	src, err := rows(t, e.src.DSN("app"), "big")
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second)
	dst, err := rows(t, e.dst.DSN("dwh"), "big")
	if err != nil {
		t.Fatal(err)
	}
	diff := diffRows(src, dst)
	if diff == "" {
		t.Fatal("without the stale-row filter the target still equals the source: the test does not exercise the race")
	}
	t.Logf("without the stale-row filter the target differs, as expected: %s", diff)
	p.stop(t)
}

// staleStats counts the chunks and stale keys in a sluice log.
func staleStats(log string) (chunks, stale int) {
	for _, line := range strings.Split(log, "\n") {
		if !strings.Contains(line, "back-fill chunk emitted") {
			continue
		}
		var ev struct {
			Stale int `json:"stale_keys"`
		}
		if json.Unmarshal([]byte(line), &ev) == nil {
			chunks++
			stale += ev.Stale
		}
	}
	return chunks, stale
}

// TestRecopyDamagedTable damages a target table by hand (rows deleted,
// changed and added, and rows deleted on the source meanwhile), then
// `sluice snapshot --table` makes it equal to the source again, while
// another table keeps streaming and the pipeline never stops.
func TestRecopyDamagedTable(t *testing.T) {
	t.Parallel()
	e := newBackfillEnv(t, "initial")
	e.srcExec(`CREATE TABLE orders (id int PRIMARY KEY, customer text, total numeric(12,2));
		INSERT INTO orders SELECT g, 'c' || (g % 97), g * 1.5 FROM generate_series(1, 30000) g;
		CREATE TABLE events (id bigserial PRIMARY KEY, what text);
		CREATE TABLE nokey (v int) -- REPLICA IDENTITY FULL lets it stream, but it has no key order to back-fill by
		;ALTER TABLE nokey REPLICA IDENTITY FULL`)
	p := e.startWith()
	e.waitStatus(p, 60*time.Second, "streaming", streaming)
	e.waitEqual(60*time.Second, p, "orders")
	stop := make(chan struct{})
	streamed := make(chan int, 1)
	go func() { // the other table streams throughout
		n := 0
		defer func() { streamed <- n }()
		for {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
			if err := e.src.Exec(context.Background(), "app", "INSERT INTO events (what) VALUES ('tick')"); err != nil {
				t.Error(err)
				return
			}
			n++
		}
	}()
	// Damage: the target loses rows, has rows changed, and keeps rows the
	// source deletes while replication of orders is "broken" (simulated by
	// deleting on the source and re-inserting on the target).
	e.dstExec(`DELETE FROM orders WHERE id % 10 = 3;
		UPDATE orders SET total = -1 WHERE id % 10 = 4;
		INSERT INTO orders VALUES (100001, 'ghost', 0), (100002, 'ghost', 0)`)
	e.srcExec(`DELETE FROM orders WHERE id BETWEEN 20000 AND 20099`)
	e.waitStatus(p, 30*time.Second, "the source's delete applied", func(metrics.Status) bool {
		n, err := e.dst.QueryValue(context.Background(), "dwh", "SELECT count(*) FROM orders WHERE id BETWEEN 20000 AND 20099")
		return err == nil && n == "0"
	})
	e.dstExec(`INSERT INTO orders SELECT g, 'deleted on the source', 0 FROM generate_series(20000, 20049) g`)
	if s, _ := rows(t, e.src.DSN("app"), "orders"); true {
		d, _ := rows(t, e.dst.DSN("dwh"), "orders")
		if diffRows(s, d) == "" {
			t.Fatal("the damage did not take")
		}
	}
	e.snapshotCmd("--table", "public.orders")
	e.waitStatus(p, 120*time.Second, "the end of the re-copy", func(s metrics.Status) bool {
		_, done := backfillRows(s, "public.orders")
		return done
	})
	e.waitEqual(60*time.Second, p, "orders")
	close(stop)
	n := <-streamed
	e.waitEqual(60*time.Second, p, "events")
	t.Logf("orders equal again after the re-copy; %d events streamed meanwhile", n)

	// --where copies part of a table again (without pruning).
	e.dstExec(`UPDATE orders SET total = -2 WHERE id > 29000`)
	e.snapshotCmd("--table", "public.orders", "--where", "id > 29000")
	e.waitEqual(60*time.Second, p, "orders")

	// Requests the pipeline refuses, with the fix.
	out, err := exec.Command(binary, "snapshot", "--config", e.cfg, "--table", "public.nokey").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "primary key") {
		t.Errorf("snapshot of a table without a key: %v\n%s", err, out)
	}
	out, err = exec.Command(binary, "snapshot", "--config", e.cfg, "--table", "public.orders", "--where", "nosuch > 1").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "nosuch") {
		t.Errorf("snapshot with a bad --where: %v\n%s", err, out)
	}
	s, _ := e.status()
	if s.State != "streaming" {
		t.Errorf("state %s after refused requests, want streaming", s.State)
	}
	st, err := exec.Command(binary, "status", "--config", e.cfg).CombinedOutput()
	if err != nil || !strings.Contains(string(st), "back-fills") || !strings.Contains(string(st), "public.orders") {
		t.Errorf("sluice status shows no back-fills: %v\n%s", err, st)
	}
	metricsText := httpGet(t, "http://"+e.addr+"/metrics")
	if !strings.Contains(metricsText, `sluice_backfill_rows_copied{pipeline="test",table="public.orders"}`) {
		t.Errorf("/metrics has no back-fill rows")
	}
	p.stop(t)
}

func httpGet(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b strings.Builder
	if _, err := io.Copy(&b, resp.Body); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// TestNewTableWhileStreaming creates and fills a table while sluice
// streams: it is found, published and back-filled, and its later changes
// flow, with no restart; rows written between its creation and its
// publication are not lost.
func TestNewTableWhileStreaming(t *testing.T) {
	t.Parallel()
	e := newBackfillEnv(t, "initial")
	e.srcExec(`CREATE TABLE old (id int PRIMARY KEY)`)
	p := e.startWith()
	e.waitStatus(p, 60*time.Second, "streaming", streaming)
	// Created and filled in one go, and written to right away, so writes
	// land before, during and after its publication.
	e.srcExec(`CREATE TABLE fresh (id int PRIMARY KEY, v text); INSERT INTO fresh SELECT g, 'first' FROM generate_series(1, 20000) g`)
	stop := make(chan struct{})
	done := make(chan int, 1)
	go func() {
		n := 0
		defer func() { done <- n }()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
			sql := fmt.Sprintf("UPDATE fresh SET v = 'upd%d' WHERE id = %d; INSERT INTO fresh VALUES (%d, 'late')", i, 1+i*7%20000, 20001+i)
			if err := e.src.Exec(context.Background(), "app", sql); err != nil {
				t.Error(err)
				return
			}
			n++
		}
	}()
	e.waitStatus(p, 60*time.Second, "the new table's back-fill", func(s metrics.Status) bool {
		_, done := backfillRows(s, "public.fresh")
		return done
	})
	time.Sleep(time.Second)
	close(stop)
	n := <-done
	e.srcExec(`UPDATE fresh SET v = 'after' WHERE id <= 100; DELETE FROM fresh WHERE id BETWEEN 200 AND 299`)
	e.waitEqual(60*time.Second, p, "fresh", "old")
	log := p.logText()
	if !strings.Contains(log, "new table added to the publication") {
		t.Error("no log line about the new table")
	}
	t.Logf("new table copied and streaming with no restart (%d write transactions raced its publication)", n)
	// Killed right after the new table's back-fill is recorded (before or
	// just after its publication): the next start publishes it and resumes.
	e.srcExec(`CREATE TABLE fresh2 (id int PRIMARY KEY, v text); INSERT INTO fresh2 SELECT g, 'x' FROM generate_series(1, 5000) g`)
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(p.logText(), `"table":"public.fresh2"`) {
		if time.Now().After(deadline) {
			t.Fatalf("new table fresh2 not noticed; log:\n%s", tail(p.logText(), 4000))
		}
		time.Sleep(5 * time.Millisecond)
	}
	p.kill9()
	e.srcExec(`UPDATE fresh2 SET v = 'while down' WHERE id <= 10; INSERT INTO fresh2 VALUES (5001, 'while down')`)
	p = e.startWith()
	e.waitStatus(p, 60*time.Second, "streaming", streaming)
	e.srcExec(`UPDATE fresh2 SET v = 'after restart' WHERE id BETWEEN 11 AND 20`)
	e.waitEqual(60*time.Second, p, "fresh2", "fresh")
	// A new table without a key is not published (its UPDATEs would fail).
	e.srcExec(`CREATE TABLE keyless (v int); INSERT INTO keyless VALUES (1); UPDATE keyless SET v = 2`)
	time.Sleep(2 * TableWatchEveryForTests)
	e.srcExec(`UPDATE keyless SET v = 3`) // would fail if it had been published
	if !strings.Contains(p.logText(), "has no primary key: not replicated") {
		t.Error("no warning about the new keyless table")
	}
	// A table created while sluice is stopped is copied after the restart.
	p.stop(t)
	e.srcExec(`CREATE TABLE between (id int PRIMARY KEY, v text); INSERT INTO between SELECT g, 'x' FROM generate_series(1, 3000) g`)
	p = e.startWith()
	e.waitStatus(p, 60*time.Second, "streaming", streaming)
	e.srcExec(`UPDATE between SET v = 'y' WHERE id <= 5`)
	e.waitEqual(60*time.Second, p, "between", "fresh2", "fresh")
	p.stop(t)
}

// TableWatchEveryForTests is the source's catalog poll interval.
const TableWatchEveryForTests = 3 * time.Second
