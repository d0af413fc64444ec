package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/sluicecdc/sluice/internal/mytest"
	"github.com/sluicecdc/sluice/pkg/metrics"
)

// The online back-fill with a MariaDB source (source/mysql/backfill.go),
// into a PostgreSQL target: the same guarantees as backfill_test.go.

// myBackfillEnv is a MariaDB → PostgreSQL env whose sluice serves the
// admin endpoint.
type myBackfillEnv struct {
	*backfillEnv
	x   *xenv
	src *mytest.Server
}

func newMyBackfillEnv(t *testing.T, snapshot string) *myBackfillEnv {
	x := newXEnv(t, "mysql", "postgres", "batch:\n  rows: 5000\n")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	b, err := os.ReadFile(x.cfg)
	if err != nil {
		t.Fatal(err)
	}
	cfg := strings.Replace(string(b), "  tables: [\"app.*\"]\n", "  tables: [\"app.*\"]\n  snapshot: "+snapshot+"\n", 1)
	cfg += fmt.Sprintf("http:\n  listen: %s\n  admin: true\n", addr)
	if err := os.WriteFile(x.cfg, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return &myBackfillEnv{backfillEnv: &backfillEnv{env: x.env, addr: addr}, x: x, src: x.from.(*myEnd).s}
}

func (e *myBackfillEnv) srcExec(q string) { e.t.Helper(); e.x.from.exec(e.t, q) }
func (e *myBackfillEnv) dstExec(q string) { e.t.Helper(); e.x.to.exec(e.t, q) }

// oltpWriter is a sysbench oltp_write_only style load on one table
// (id, k, c, pad): each transaction updates an indexed column, a
// non-indexed one, deletes a row and inserts it again, on random ids,
// from several connections. It records the longest statement, which is
// where a lock held by the back-fill would show.
type oltpWriter struct {
	hot     atomic.Int64 // where the back-fill reads now: half the ids go just ahead of it
	stop    atomic.Bool
	wg      sync.WaitGroup
	txns    atomic.Int64
	longest atomic.Int64 // nanoseconds
	// deadlocks counts transactions InnoDB rolled back because two writers
	// deadlocked each other (random ids; sluice's chunk reads take no
	// locks); like sysbench, the writer goes on with a new transaction.
	deadlocks atomic.Int64
	threads   []int64 // the writers' connection ids
	errMu     sync.Mutex
	err       error
}

func startOLTP(t *testing.T, srv *mytest.Server, table string, keys, conns int) *oltpWriter {
	w := &oltpWriter{}
	db, err := sql.Open("mysql", srv.DriverDSN("app"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	for i := range conns {
		conn, err := db.Conn(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		var id int64
		if err := conn.QueryRowContext(context.Background(), "SELECT CONNECTION_ID()").Scan(&id); err != nil {
			t.Fatal(err)
		}
		w.threads = append(w.threads, id)
		w.wg.Add(1)
		go func() {
			defer w.wg.Done()
			defer conn.Close()
			rnd := rand.New(rand.NewPCG(uint64(i), uint64(time.Now().UnixNano())))
			for !w.stop.Load() {
				err := w.one(conn, rnd, table, keys)
				var me *mysql.MySQLError
				if errors.As(err, &me) && me.Number == 1213 {
					w.deadlocks.Add(1)
					continue
				}
				if err != nil {
					w.errMu.Lock()
					w.err = err
					w.errMu.Unlock()
					return
				}
				time.Sleep(2 * time.Millisecond) // a pace the pipeline keeps up with (see backfill_test.go)
			}
		}()
	}
	return w
}

func (w *oltpWriter) one(conn *sql.Conn, rnd *rand.Rand, table string, keys int) error {
	ctx := context.Background()
	id := func() int {
		if h := w.hot.Load(); h > 0 && rnd.IntN(2) == 0 {
			return int(h) + rnd.IntN(30000)
		}
		return 1 + rnd.IntN(keys+keys/10) // some beyond the initial rows
	}
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck
	del := id()
	for _, q := range []string{
		fmt.Sprintf("UPDATE %s SET k = k + 1 WHERE id = %d", table, id()),
		fmt.Sprintf("UPDATE %s SET c = md5(rand()) WHERE id = %d", table, id()),
		fmt.Sprintf("DELETE FROM %s WHERE id = %d", table, del),
		fmt.Sprintf("INSERT INTO %s (id, k, c, pad) VALUES (%d, %d, md5(rand()), 'reinserted') ON DUPLICATE KEY UPDATE k = k + 1000", table, del, rnd.IntN(1000)),
	} {
		start := time.Now()
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("%s: %w", q, err)
		}
		if d := int64(time.Since(start)); d > w.longest.Load() {
			w.longest.Store(d)
		}
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	w.txns.Add(1)
	return nil
}

func (w *oltpWriter) halt(t *testing.T) {
	w.stop.Store(true)
	w.wg.Wait()
	if n := w.deadlocks.Load(); n > 0 {
		t.Logf("%d writer transactions deadlocked with each other and were replaced by new ones", n)
	}
	if w.err != nil {
		t.Fatalf("writer: %v", w.err)
	}
}

// myLockWatch samples the server's lock waits: the longest row-lock wait
// of any transaction (every 150 ms), and the longest wait on something
// held by a session other than the writers (sluice's chunk reads and
// look-ups): row locks held by them (every 150 ms), and metadata lock or
// table flush waits (every 10 ms; only a non-writer causes them here).
// The writers' own longest statement is the exact measure of what they
// waited; this tells who made them wait.
type myLockWatch struct {
	mu                sync.Mutex
	stop, done        chan struct{}
	longest, bySluice time.Duration
	samples           int
	err               error // the last failed sample's
}

func watchMyLocks(t *testing.T, srv *mytest.Server, writers []int64) *myLockWatch {
	db, err := sql.Open("mysql", srv.DriverDSN(""))
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	ids := make([]string, len(writers))
	for i, w := range writers {
		ids[i] = fmt.Sprint(w)
	}
	notWriter := "(" + strings.Join(ids, ",") + ")"
	lw := &myLockWatch{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(lw.done)
		defer db.Close()
		fail := func(err error) {
			lw.mu.Lock()
			lw.err = err
			lw.mu.Unlock()
		}
		for i := 0; ; i++ {
			select {
			case <-lw.stop:
				return
			case <-time.After(10 * time.Millisecond):
			}
			// Metadata lock and table flush waits, every 10 ms.
			var mdl int64
			if err := db.QueryRow(`SELECT CAST(COALESCE(MAX(TIME_MS), 0) AS SIGNED) FROM information_schema.PROCESSLIST
				WHERE STATE LIKE 'Waiting for table%'`).Scan(&mdl); err != nil {
				fail(err)
				continue
			}
			// Row lock waits: InnoDB refreshes its INNODB_TRX view only
			// when it was not read for 100 ms, so every 150 ms.
			var all, other int64
			if i%15 == 0 {
				if err := db.QueryRow(`SELECT CAST(COALESCE(MAX(p.TIME_MS), 0) * 1000 AS SIGNED)
					FROM information_schema.INNODB_TRX r JOIN information_schema.PROCESSLIST p ON p.ID = r.trx_mysql_thread_id
					WHERE r.trx_state = 'LOCK WAIT'`).Scan(&all); err != nil {
					fail(err)
					continue
				}
				if err := db.QueryRow(`SELECT CAST(COALESCE(MAX(p.TIME_MS), 0) * 1000 AS SIGNED)
					FROM information_schema.INNODB_LOCK_WAITS w
					JOIN information_schema.INNODB_TRX r ON r.trx_id = w.requesting_trx_id
					JOIN information_schema.PROCESSLIST p ON p.ID = r.trx_mysql_thread_id
					JOIN information_schema.INNODB_TRX b ON b.trx_id = w.blocking_trx_id
					WHERE b.trx_mysql_thread_id NOT IN ` + notWriter).Scan(&other); err != nil {
					fail(err)
					continue
				}
			}
			lw.mu.Lock()
			lw.samples++
			lw.longest = max(lw.longest, time.Duration(all)*time.Microsecond)
			lw.bySluice = max(lw.bySluice, time.Duration(other)*time.Microsecond, time.Duration(mdl)*time.Millisecond)
			lw.mu.Unlock()
		}
	}()
	return lw
}

func (lw *myLockWatch) halt() { close(lw.stop); <-lw.done }

func (lw *myLockWatch) peek() (time.Duration, time.Duration) {
	lw.mu.Lock()
	defer lw.mu.Unlock()
	return lw.longest, lw.bySluice
}

// provokeMyLockWait makes a session that is not a writer hold a row lock
// for 400 ms while another waits for it: the sampler must see it both as
// a lock wait and as one held by a non-writer.
func provokeMyLockWait(t *testing.T, srv *mytest.Server, lw *myLockWatch) (time.Duration, time.Duration) {
	db, err := sql.Open("mysql", srv.DriverDSN("app"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec("CREATE TABLE IF NOT EXISTS lockprobe (id int PRIMARY KEY, v int)"); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("INSERT IGNORE INTO lockprobe VALUES (1, 0)"); err != nil {
		t.Fatal(err)
	}
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec("UPDATE lockprobe SET v = v + 1 WHERE id = 1"); err != nil {
		t.Fatal(err)
	}
	waited := make(chan error, 1)
	go func() { _, err := db.Exec("UPDATE lockprobe SET v = v + 1 WHERE id = 1"); waited <- err }()
	time.Sleep(400 * time.Millisecond)
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := <-waited; err != nil {
		t.Fatal(err)
	}
	time.Sleep(30 * time.Millisecond)
	return lw.peek()
}

// myBackfillRowsWanted is the size of the big MariaDB table, as for the
// PostgreSQL one: 200,000 in make test; SLUICE_BACKFILL_ROWS=1000000 runs
// the size (about a minute here).
func myBackfillRowsWanted(t *testing.T) int { return backfillRowsWanted(t) }

// runMyBigBackfill creates a MariaDB table of n rows that the pipeline
// (source.snapshot: never) never copied, back-fills it with `sluice
// snapshot --table` while an oltp_write_only style load changes the same
// table, kills sluice -9 twice during the back-fill, and returns once the
// back-fill is done, the writers stopped and their last change streamed.
func runMyBigBackfill(t *testing.T, n int, env ...string) (*myBackfillEnv, *proc, *oltpWriter, *myLockWatch) {
	e := newMyBackfillEnv(t, "never")
	created := time.Now()
	e.srcExec(fmt.Sprintf(`CREATE TABLE app.big (id bigint PRIMARY KEY, k int NOT NULL DEFAULT 0, c char(120) NOT NULL DEFAULT '', pad char(60) NOT NULL DEFAULT '', KEY k_1 (k));
		INSERT INTO app.big SELECT seq, seq %% 1000, md5(seq), 'pad' FROM app.seq_1_to_%d;
		CREATE TABLE app.marker (id int PRIMARY KEY)`, n))
	t.Logf("source table of %d rows created in %v", n, time.Since(created).Round(time.Millisecond))
	p := e.startWith(env...)
	e.waitStatus(p, 60*time.Second, "streaming", streaming)
	w := startOLTP(t, e.src, "big", n, 4)
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
				if r, done := backfillRows(s, "app.big"); r >= 0 && !done {
					w.hot.Store(r)
				} else if done {
					w.hot.Store(0)
				}
			}
		}
	}()
	time.Sleep(500 * time.Millisecond)
	lw := watchMyLocks(t, e.src, w.threads)
	if all, other := provokeMyLockWait(t, e.src, lw); all < 100*time.Millisecond || other < 100*time.Millisecond {
		t.Fatalf("the lock sampler saw a 400ms lock wait as %v (held by a non-writer: %v; %d samples, last error %v): it does not measure", all, other, lw.samples, lw.err)
	}
	lw.mu.Lock()
	lw.longest, lw.bySluice = 0, 0 // the provoked wait was only to check the sampler
	lw.mu.Unlock()
	began := time.Now()
	e.snapshotCmd("--table", "app.big")
	for i, frac := range []int64{5, 2} { // kill at a fifth, then at half
		at := int64(n) / frac
		e.waitStatus(p, 120*time.Second, fmt.Sprintf("back-fill past %d rows", at), func(s metrics.Status) bool {
			r, done := backfillRows(s, "app.big")
			if done {
				t.Fatalf("back-fill finished before kill %d at %d rows: make the table bigger", i+1, at)
			}
			return r >= at
		})
		s, _ := e.status()
		r, _ := backfillRows(s, "app.big")
		p.kill9()
		t.Logf("kill -9 #%d with %d rows back-filled (%v after the request)", i+1, r, time.Since(began).Round(time.Millisecond))
		p = e.startWith(env...)
		s = e.waitStatus(p, 60*time.Second, "the resumed back-fill", func(s metrics.Status) bool {
			r, _ := backfillRows(s, "app.big")
			return r >= 0
		})
		r, _ = backfillRows(s, "app.big")
		if r <= 0 {
			t.Fatalf("after kill %d the back-fill did not resume from its checkpoint (rows %d)", i+1, r)
		}
		t.Logf("restarted: back-fill resumes at %d rows", r)
	}
	e.waitStatus(p, 300*time.Second, "the end of the back-fill", func(s metrics.Status) bool {
		_, done := backfillRows(s, "app.big")
		return done
	})
	took := time.Since(began)
	t.Logf("back-fill of %d rows done %v after the request (%.0f rows/s, two restarts included), with %d write transactions meanwhile",
		n, took.Round(time.Millisecond), float64(n)/took.Seconds(), w.txns.Load())
	lw.halt()
	time.Sleep(time.Second) // writes after the back-fill still stream
	w.halt(t)
	e.srcExec("INSERT INTO app.marker VALUES (1)")
	e.x.waitSame(120*time.Second, p, "app.marker")
	return e, p, w, lw
}

// TestMySQLBackfillUnderWritesWithKills: a MariaDB table of 1,000,000
// rows (myBackfillRowsWanted), never copied before, is back-filled while
// an oltp_write_only style load changes the same table, with two kill -9
// during the back-fill; afterwards the PostgreSQL target equals the
// source row for row, and no writer waited for a lock sluice held.
func TestMySQLBackfillUnderWritesWithKills(t *testing.T) {
	t.Parallel()
	e, p, w, lw := runMyBigBackfill(t, myBackfillRowsWanted(t), chunkDelay)
	e.x.waitSame(120*time.Second, p, "app.big")
	t.Logf("target equals source row for row; longest write statement during the back-fill: %v (%d transactions of 4 statements)",
		time.Duration(w.longest.Load()).Round(time.Microsecond), w.txns.Load())
	t.Logf("lock waits on the source during the back-fill (%d samples, every 10ms): longest any transaction waited %v "+
		"(the writers' own row locks; sampled every 150ms), longest on a lock held by sluice (row locks of non-writers, metadata locks, table flushes) %v",
		lw.samples, lw.longest.Round(time.Millisecond), lw.bySluice.Round(time.Millisecond))
	if lw.bySluice > 0 {
		t.Errorf("a writer waited %v for a lock sluice held: the back-fill must take no lock a writer waits for", lw.bySluice)
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

// TestMySQLBackfillWithoutStaleFilterFails shows that the stale-row filter
// is what makes the MariaDB back-fill right: without it (a test-only
// switch) chunk rows read before concurrent changes overwrite them, and
// the target ends different from the source.
func TestMySQLBackfillWithoutStaleFilterFails(t *testing.T) {
	t.Parallel()
	e, p, _, _ := runMyBigBackfill(t, 200000, chunkDelay, "SLUICE_TEST_SKIP_STALE_FILTER=1")
	time.Sleep(2 * time.Second)
	ctx := context.Background()
	src, err := e.x.from.rows(ctx, "app.big")
	if err != nil {
		t.Fatal(err)
	}
	dst, err := e.x.to.rows(ctx, "app.big")
	if err != nil {
		t.Fatal(err)
	}
	diff := diffRows(src, dst)
	if diff == "" {
		t.Fatal("without the stale-row filter the target still equals the source: the test does not exercise the race")
	}
	t.Logf("without the stale-row filter the target differs, as expected: %s", strings.SplitN(diff, "\n", 2)[0])
	p.stop(t)
}

// TestMySQLRecopyDamagedTable damages target tables by hand (rows
// deleted, changed and added; rows the source deleted meanwhile put back),
// then `sluice snapshot --table` makes them equal to the source again,
// while another table keeps streaming and the pipeline never stops. A
// table keyed by a unique NOT NULL index is re-copied too; one with no key
// is refused with the fix.
func TestMySQLRecopyDamagedTable(t *testing.T) {
	t.Parallel()
	e := newMyBackfillEnv(t, "initial")
	e.srcExec(`CREATE TABLE app.orders (id int PRIMARY KEY, customer varchar(40), total decimal(12,2));
		INSERT INTO app.orders SELECT seq, concat('c', seq % 97), seq * 1.5 FROM app.seq_1_to_30000;
		CREATE TABLE app.events (id bigint AUTO_INCREMENT PRIMARY KEY, what varchar(20));
		CREATE TABLE app.codes (code varchar(12) NOT NULL, v int, UNIQUE KEY code_u (code));
		INSERT INTO app.codes SELECT concat('k', seq), seq FROM app.seq_1_to_3000;
		CREATE TABLE app.nokey (v int)`)
	p := e.startWith()
	e.waitStatus(p, 60*time.Second, "streaming", streaming)
	e.x.waitSame(60*time.Second, p, "app.orders", "app.codes")
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
			if err := e.src.Exec(context.Background(), "INSERT INTO app.events (what) VALUES ('tick')"); err != nil {
				t.Error(err)
				return
			}
			n++
		}
	}()
	e.dstExec(`DELETE FROM app.orders WHERE id % 10 = 3;
		UPDATE app.orders SET total = -1 WHERE id % 10 = 4;
		INSERT INTO app.orders VALUES (100001, 'ghost', 0), (100002, 'ghost', 0);
		UPDATE app.codes SET v = -1 WHERE v % 7 = 0;
		DELETE FROM app.codes WHERE v % 11 = 0`)
	e.srcExec(`DELETE FROM app.orders WHERE id BETWEEN 20000 AND 20099`)
	e.waitStatus(p, 30*time.Second, "the source's delete applied", func(metrics.Status) bool {
		n, err := e.x.to.(*pgEnd).c.QueryValue(context.Background(), "dwh", "SELECT count(*) FROM app.orders WHERE id BETWEEN 20000 AND 20099")
		return err == nil && n == "0"
	})
	e.dstExec(`INSERT INTO app.orders SELECT g, 'deleted on the source', 0 FROM generate_series(20000, 20049) g`)
	for _, tbl := range []string{"app.orders", "app.codes"} {
		s, _ := e.x.from.rows(context.Background(), tbl)
		d, _ := e.x.to.rows(context.Background(), tbl)
		if diffRows(s, d) == "" {
			t.Fatalf("the damage to %s did not take", tbl)
		}
	}
	began := time.Now()
	e.snapshotCmd("--table", "app.orders", "--table", "app.codes")
	for _, tbl := range []string{"app.orders", "app.codes"} {
		e.waitStatus(p, 120*time.Second, "the end of the re-copy of "+tbl, func(s metrics.Status) bool {
			_, done := backfillRows(s, tbl)
			return done
		})
	}
	e.x.waitSame(60*time.Second, p, "app.orders", "app.codes")
	t.Logf("orders (30,000 rows) and codes (3,000) equal again %v after the request", time.Since(began).Round(time.Millisecond))
	close(stop)
	n := <-streamed
	e.x.waitSame(60*time.Second, p, "app.events")
	t.Logf("%d events streamed meanwhile", n)

	// --where copies part of a table again (without pruning).
	e.dstExec(`UPDATE app.orders SET total = -2 WHERE id > 29000`)
	e.snapshotCmd("--table", "app.orders", "--where", "id > 29000")
	e.x.waitSame(60*time.Second, p, "app.orders")

	// Requests the pipeline refuses, with the fix.
	out, err := exec.Command(binary, "snapshot", "--config", e.cfg, "--table", "app.nokey").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "app.nokey has no primary key") || !strings.Contains(string(out), "ADD PRIMARY KEY") {
		t.Errorf("snapshot of a table without a key: %v\n%s", err, out)
	} else {
		t.Logf("a table without a key is refused: %s", strings.TrimSpace(string(out)))
	}
	out, err = exec.Command(binary, "snapshot", "--config", e.cfg, "--table", "app.orders", "--where", "nosuch > 1").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "nosuch") {
		t.Errorf("snapshot with a bad --where: %v\n%s", err, out)
	}
	if s, _ := e.status(); s.State != "streaming" {
		t.Errorf("state %s after refused requests, want streaming", s.State)
	}
	p.stop(t)
}

// TestMySQLNewTableWhileStreaming: tables that appear in the selection
// while sluice streams arrive with their rows and later changes, with no
// restart: created and filled, created by CREATE TABLE ... SELECT, and
// renamed into the selection from a database sluice does not replicate
// (rows the binlog never showed as the table's: only the back-fill
// brings them). A kill -9 right after a rename was noticed loses nothing.
func TestMySQLNewTableWhileStreaming(t *testing.T) {
	t.Parallel()
	e := newMyBackfillEnv(t, "initial")
	e.srcExec(`CREATE TABLE app.old (id int PRIMARY KEY); CREATE DATABASE stage`)
	p := e.startWith()
	e.waitStatus(p, 60*time.Second, "streaming", streaming)
	e.srcExec(`CREATE TABLE app.fresh (id int PRIMARY KEY, v varchar(20)); INSERT INTO app.fresh SELECT seq, 'first' FROM app.seq_1_to_20000`)
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
			q := fmt.Sprintf("UPDATE app.fresh SET v = 'upd%d' WHERE id = %d; INSERT INTO app.fresh VALUES (%d, 'late')", i, 1+i*7%20000, 20001+i)
			if err := e.src.Exec(context.Background(), q); err != nil {
				t.Error(err)
				return
			}
			n++
		}
	}()
	e.waitStatus(p, 60*time.Second, "the new table's back-fill", func(s metrics.Status) bool {
		_, done := backfillRows(s, "app.fresh")
		return done
	})
	time.Sleep(time.Second)
	close(stop)
	n := <-done
	e.srcExec(`UPDATE app.fresh SET v = 'after' WHERE id <= 100; DELETE FROM app.fresh WHERE id BETWEEN 200 AND 299`)
	e.x.waitSame(60*time.Second, p, "app.fresh", "app.old")
	t.Logf("created table copied and streaming with no restart (%d write transactions raced its back-fill)", n)

	// CREATE TABLE ... SELECT, and a table renamed into the selection.
	e.srcExec(`CREATE TABLE app.copied (PRIMARY KEY (id)) SELECT id, v FROM app.fresh WHERE id <= 5000;
		CREATE TABLE stage.moved (id int PRIMARY KEY, v varchar(20)); INSERT INTO stage.moved SELECT seq, 'staged' FROM app.seq_1_to_8000;
		RENAME TABLE stage.moved TO app.moved`)
	e.waitStatus(p, 60*time.Second, "the renamed table's back-fill", func(s metrics.Status) bool {
		_, done := backfillRows(s, "app.moved")
		return done
	})
	e.srcExec(`UPDATE app.moved SET v = 'after' WHERE id <= 10; UPDATE app.copied SET v = 'after' WHERE id <= 10`)
	e.x.waitSame(60*time.Second, p, "app.moved", "app.copied")

	// Killed right after a renamed table was noticed: the next start
	// resumes (or asks again for) its back-fill.
	e.srcExec(`CREATE TABLE stage.moved2 (id int PRIMARY KEY, v varchar(20)); INSERT INTO stage.moved2 SELECT seq, 'x' FROM app.seq_1_to_5000;
		ALTER TABLE stage.moved2 RENAME TO app.moved2`)
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(p.logText(), `"table":"app.moved2"`) {
		if time.Now().After(deadline) {
			t.Fatalf("renamed table moved2 not noticed; log:\n%s", tail(p.logText(), 4000))
		}
		time.Sleep(5 * time.Millisecond)
	}
	p.kill9()
	e.srcExec(`UPDATE app.moved2 SET v = 'while down' WHERE id <= 10; INSERT INTO app.moved2 VALUES (5001, 'while down')`)
	p = e.startWith()
	e.waitStatus(p, 60*time.Second, "streaming", streaming)
	e.srcExec(`UPDATE app.moved2 SET v = 'after restart' WHERE id BETWEEN 11 AND 20`)
	e.x.waitSame(60*time.Second, p, "app.moved2", "app.moved", "app.fresh")
	if !strings.Contains(p.logText()+readLogs(e.dir), "new table in the selection") {
		t.Error("no log line about new tables")
	}
	p.stop(t)
}

// readLogs is the text of every sluice log of the test.
func readLogs(dir string) string {
	var b strings.Builder
	logs, _ := filepath.Glob(filepath.Join(dir, "sluice-*.log"))
	for _, l := range logs {
		t, _ := os.ReadFile(l)
		b.Write(t)
	}
	return b.String()
}
