package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/sluicecdc/sluice/pkg/metrics"
)

// withHTTP adds http.listen on a free loopback port to the env's config and
// returns the base URL.
func (e *env) withHTTP() string {
	e.t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		e.t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	f, err := os.OpenFile(e.cfg, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		e.t.Fatal(err)
	}
	fmt.Fprintf(f, "http:\n  listen: %s\n", addr)
	f.Close()
	return "http://" + addr
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// waitHTTP polls url until it answers with code, and returns the body.
func waitHTTP(t *testing.T, p *proc, url string, code int, timeout time.Duration) string {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		got, body := get(t, url)
		if got == code {
			return body
		}
		if time.Now().After(deadline) {
			log := ""
			if p != nil {
				log = tail(p.logText(), 4000)
			}
			t.Fatalf("%s: want HTTP %d within %v, last %d: %s\nlog:\n%s", url, code, timeout, got, body, log)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// scrape reads /metrics into metric families.
func scrape(t *testing.T, base string) map[string]*dto.MetricFamily {
	t.Helper()
	code, body := get(t, base+"/metrics")
	if code != 200 {
		t.Fatalf("/metrics: %d %s", code, body)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := parser.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("parse /metrics: %v\n%s", err, body)
	}
	return mfs
}

// value is the value of the series of a family whose labels include want;
// ok is false when there is none.
func value(mfs map[string]*dto.MetricFamily, name string, want map[string]string) (float64, bool) {
	mf := mfs[name]
	if mf == nil {
		return 0, false
	}
next:
	for _, m := range mf.GetMetric() {
		labels := map[string]string{}
		for _, lp := range m.GetLabel() {
			labels[lp.GetName()] = lp.GetValue()
		}
		for k, v := range want {
			if labels[k] != v {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue(), true
		case m.Gauge != nil:
			return m.Gauge.GetValue(), true
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount()), true
		}
	}
	return 0, false
}

// TestHTTPEndpointsAndStatus runs PostgreSQL → PostgreSQL with http.listen:
// counters match the changes made, lag is 0 once caught up, /readyz turns
// 503 while the target server is down and 200 when it is back, and `sluice
// status` reports from the process, then offline from the checkpoint and
// the slot, and fails clearly when nothing can be reached.
func TestHTTPEndpointsAndStatus(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "")
	base := e.withHTTP()
	e.srcExec(`CREATE TABLE t (id int PRIMARY KEY, v text);
		INSERT INTO t SELECT g, 'row ' || g FROM generate_series(1, 3000) g; ANALYZE t;`)
	p := e.start()
	waitHTTP(t, p, base+"/readyz", 200, 30*time.Second)
	if code, body := get(t, base+"/healthz"); code != 200 {
		t.Fatalf("/healthz: %d %s", code, body)
	}
	e.waitEqual(30*time.Second, p, "t")

	ctx := context.Background()
	conn, err := pgx.Connect(ctx, e.src.DSN("app"))
	if err != nil {
		t.Fatal(err)
	}
	var stmts []string
	for i := range 200 {
		stmts = append(stmts, fmt.Sprintf(`INSERT INTO t VALUES (%d, 'new')`, 10000+i))
	}
	for i := range 50 {
		stmts = append(stmts, fmt.Sprintf(`UPDATE t SET v = 'upd' WHERE id = %d`, 1+i))
	}
	for i := range 20 {
		stmts = append(stmts, fmt.Sprintf(`DELETE FROM t WHERE id = %d`, 2000+i))
	}
	for _, q := range stmts { // one transaction each
		if _, err := conn.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	conn.Close(ctx)
	e.waitEqual(30*time.Second, p, "t")

	// 200 inserts, 50 updates and 20 deletes, in 270 transactions.
	want := map[string]float64{"insert": 200, "update": 50, "delete": 20}
	var mfs map[string]*dto.MetricFamily
	deadline := time.Now().Add(15 * time.Second)
	for {
		mfs = scrape(t, base)
		ok := true
		for op, n := range want {
			for _, name := range []string{"sluice_changes_applied_total", "sluice_changes_read_total"} {
				if v, _ := value(mfs, name, map[string]string{"pipeline": "test", "table": "public.t", "op": op}); v != n {
					ok = false
				}
			}
		}
		lag, _ := value(mfs, "sluice_lag_seconds", nil)
		_, probed := value(mfs, "sluice_lag_bytes", nil) // the source is asked every few seconds
		if ok && lag == 0 && probed {
			break
		}
		if time.Now().After(deadline) {
			var b strings.Builder
			for _, n := range []string{"sluice_changes_applied_total", "sluice_changes_read_total", "sluice_lag_seconds"} {
				fmt.Fprintf(&b, "%v\n", mfs[n])
			}
			t.Fatalf("counters do not match the changes made (want %v, lag 0):\n%s", want, b.String())
		}
		time.Sleep(300 * time.Millisecond)
	}
	for name, check := range map[string]func(float64) bool{
		"sluice_batches_total":                         func(v float64) bool { return v >= 1 && v <= 271 },
		"sluice_transactions_applied_total":            func(v float64) bool { return v >= 270 },
		"sluice_batch_flush_seconds":                   func(v float64) bool { return v >= 1 }, // histogram: sample count
		"sluice_batch_changes":                         func(v float64) bool { return v >= 1 },
		"sluice_snapshot_rows_copied":                  func(v float64) bool { return v == 3000 },
		"sluice_snapshot_rows_estimated":               func(v float64) bool { return v >= 2000 && v <= 4000 },
		"sluice_checkpoint_lsn":                        func(v float64) bool { return v > 0 },
		"sluice_last_applied_commit_timestamp_seconds": func(v float64) bool { return time.Since(time.Unix(int64(v), 0)) < time.Minute },
		"sluice_lag_bytes":                             func(v float64) bool { return v >= 0 && v < 16<<20 },
		"sluice_slot_retained_wal_bytes":               func(v float64) bool { return v >= 0 && v < 256<<20 },
		"sluice_ready":                                 func(v float64) bool { return v == 1 },
		"sluice_sink_reachable":                        func(v float64) bool { return v == 1 },
		"go_goroutines":                                func(v float64) bool { return v > 0 },
		"process_resident_memory_bytes":                func(v float64) bool { return v > 0 },
	} {
		if v, ok := value(mfs, name, nil); !ok || !check(v) {
			t.Errorf("%s = %v (present %v): not sane", name, v, ok)
		}
	}
	if _, ok := value(mfs, "sluice_slot_retained_wal_bytes", map[string]string{"wal_status": "reserved"}); !ok {
		t.Errorf("no sluice_slot_retained_wal_bytes{wal_status=reserved}: %v", mfs["sluice_slot_retained_wal_bytes"])
	}
	if v, ok := value(mfs, "sluice_state", map[string]string{"state": "streaming"}); !ok || v != 1 {
		t.Errorf("sluice_state{state=streaming} = %v", v)
	}

	// /status as JSON.
	code, body := get(t, base+"/status")
	var st metrics.Status
	if err := json.Unmarshal([]byte(body), &st); code != 200 || err != nil {
		t.Fatalf("/status: %d %v\n%s", code, err, body)
	}
	if st.State != "streaming" || !st.Ready || st.Origin != "process" || len(st.Tables) == 0 || st.Tables[len(st.Tables)-1].Applied["insert"] != 200 ||
		len(st.Snapshot) != 1 || st.Snapshot[0].Rows != 3000 || !st.Snapshot[0].Done || st.Snapshot[0].Estimate != 3000 ||
		st.Position.Checkpoint == "" || st.Slot == nil || st.Slot.WALStatus != "reserved" || st.Lag.Bytes == nil {
		t.Errorf("/status does not tell what happened:\n%s", body)
	}

	// sluice status, from the process.
	out, err := exec.Command(binary, "status", "--config", e.cfg).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "from the running process") || !strings.Contains(string(out), "public.t") ||
		!strings.Contains(string(out), "200 / 200") {
		t.Errorf("sluice status (%v):\n%s", err, out)
	}

	p.stop(t)

	// The target goes away: not ready, saying why. (Sluice then stops with
	// the target's error, as any target failure stops it.)
	p = e.start()
	waitHTTP(t, p, base+"/readyz", 200, 30*time.Second)
	if err := e.dst.Stop(); err != nil {
		t.Fatal(err)
	}
	body = waitHTTP(t, p, base+"/readyz", 503, 20*time.Second)
	if !strings.Contains(body, "target unreachable") && !strings.Contains(body, "flush to target") {
		t.Errorf("/readyz with the target down should say so: %s", body)
	}
	p.cmd.Process.Signal(syscall.SIGTERM) // exits 0 or with the target's error
	select {
	case <-p.done:
	case <-time.After(60 * time.Second):
		t.Fatalf("sluice did not stop; log:\n%s", tail(p.logText(), 4000))
	}
	if err := e.dst.Start(context.Background()); err != nil {
		t.Fatal(err)
	}

	// Offline: from the checkpoint and the slot.
	out, err = exec.Command(binary, "status", "--config", e.cfg, "--json").Output()
	var off metrics.Status
	if err != nil || json.Unmarshal(out, &off) != nil {
		t.Fatalf("offline sluice status --json (%v):\n%s", err, out)
	}
	if off.Origin != "checkpoint" || off.Position.Checkpoint == "" || off.Position.SourceHead == "" || off.Lag.Bytes == nil ||
		off.Slot == nil || off.Slot.Active == nil || *off.Slot.Active || !strings.Contains(off.Note, "did not answer") {
		t.Errorf("offline status lacks checkpoint, head, lag or slot:\n%s", out)
	}
	out, err = exec.Command(binary, "status", "--config", e.cfg).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "not running") || !strings.Contains(string(out), off.Position.Checkpoint) {
		t.Errorf("offline sluice status (%v):\n%s", err, out)
	}

	// Nothing to ask: no process, no checkpoint, no source server.
	if err := os.Remove(e.dir + "/test.checkpoint"); err != nil {
		t.Fatal(err)
	}
	if err := e.src.Stop(); err != nil {
		t.Fatal(err)
	}
	out, err = exec.Command(binary, "status", "--config", e.cfg).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "nothing to report") || !strings.Contains(string(out), "no checkpoint at") {
		t.Errorf("status with nothing reachable should fail clearly (%v):\n%s", err, out)
	}
}

// TestHTTPMySQLSource checks the counters, lag and snapshot metrics of a
// MariaDB source, and the offline status against SHOW MASTER STATUS.
func TestHTTPMySQLSource(t *testing.T) {
	t.Parallel()
	x := newXEnv(t, "mysql", "postgres", "")
	base := x.withHTTP()
	x.from.exec(t, `CREATE TABLE app.t (id int PRIMARY KEY, v text)`)
	x.from.exec(t, `INSERT INTO app.t SELECT seq, 'r' FROM app.seq_1_to_500`)
	p := x.start()
	waitHTTP(t, p, base+"/readyz", 200, 60*time.Second)
	x.waitSame(60*time.Second, p, "app.t")
	for i := range 30 {
		x.from.exec(t, fmt.Sprintf(`INSERT INTO app.t VALUES (%d, 'n')`, 1000+i))
	}
	for i := range 10 {
		x.from.exec(t, fmt.Sprintf(`UPDATE app.t SET v = 'u' WHERE id = %d`, 1+i))
	}
	x.waitSame(60*time.Second, p, "app.t")
	deadline := time.Now().Add(20 * time.Second)
	for {
		mfs := scrape(t, base)
		ins, _ := value(mfs, "sluice_changes_applied_total", map[string]string{"table": "app.t", "op": "insert"})
		upd, _ := value(mfs, "sluice_changes_applied_total", map[string]string{"table": "app.t", "op": "update"})
		lag, _ := value(mfs, "sluice_lag_seconds", nil)
		lagBytes, probed := value(mfs, "sluice_lag_bytes", nil)
		snap, _ := value(mfs, "sluice_snapshot_rows_copied", map[string]string{"table": "app.t"})
		_, estimated := value(mfs, "sluice_snapshot_rows_estimated", map[string]string{"table": "app.t"})
		if ins == 30 && upd == 10 && lag == 0 && probed && lagBytes < 1<<20 && snap == 500 && estimated {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("metrics: inserts %v updates %v lag %v lag bytes %v (%v) snapshot %v estimated %v", ins, upd, lag, lagBytes, probed, snap, estimated)
		}
		time.Sleep(300 * time.Millisecond)
	}
	p.stop(t)
	out, err := exec.Command(binary, "status", "--config", x.cfg, "--json").Output()
	var off metrics.Status
	if err != nil || json.Unmarshal(out, &off) != nil {
		t.Fatalf("offline status (%v):\n%s", err, out)
	}
	if off.Origin != "checkpoint" || !strings.HasPrefix(off.Position.Checkpoint, "file=") || !strings.HasPrefix(off.Position.SourceHead, "file=") ||
		off.Lag.Bytes == nil || off.Source.Reachable == nil || !*off.Source.Reachable {
		t.Fatalf("offline status of a MariaDB source:\n%s", out)
	}
}

// TestReadyzSourceRestart stops the source server: /readyz says the source
// is lost, a retry is counted, and once the server is back sluice is ready
// again.
func TestReadyzSourceRestart(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "")
	base := e.withHTTP()
	e.srcExec(`CREATE TABLE t (id int PRIMARY KEY)`)
	p := e.start()
	waitHTTP(t, p, base+"/readyz", 200, 30*time.Second)
	// Streaming, not still copying: the stream's own reconnect is tested.
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if _, body := get(t, base+"/status"); strings.Contains(body, `"state": "streaming"`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the pipeline did not start streaming")
		}
	}
	if err := e.src.Stop(); err != nil {
		t.Fatal(err)
	}
	body := waitHTTP(t, p, base+"/readyz", 503, 20*time.Second)
	if !strings.Contains(body, "source") {
		t.Errorf("/readyz should blame the source: %s", body)
	}
	// The stream itself reports that it retries (not only the probe).
	for deadline := time.Now().Add(20 * time.Second); !strings.Contains(body, "reconnecting"); time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("/readyz never said the source is reconnecting: %s", body)
		}
		_, body = get(t, base+"/readyz")
	}
	if err := e.src.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	waitHTTP(t, p, base+"/readyz", 200, 60*time.Second)
	e.srcExec(`INSERT INTO t VALUES (1)`)
	e.waitEqual(30*time.Second, p, "t")
	if v, ok := value(scrape(t, base), "sluice_retries_total", map[string]string{"kind": "source_reconnect"}); !ok || v < 1 {
		t.Errorf("sluice_retries_total{kind=source_reconnect} = %v", v)
	}
	p.stop(t)
}
