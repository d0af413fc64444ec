package nats

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sluicecdc/sluice/internal/natstest"
	"github.com/sluicecdc/sluice/internal/pgtest"
	"github.com/sluicecdc/sluice/internal/sluicetest"
	"github.com/sluicecdc/sluice/pkg/change"
	"github.com/sluicecdc/sluice/sink/sinktest"
)

// pgbenchTables are the tables pgbench writes, with a SELECT rendering
// each row as the stream's fold does ("v1|v2", NULL as ∅): char(n) padded,
// timestamp as Debezium's MicroTimestamp.
var pgbenchTables = map[string]string{
	"pgbench_accounts": "SELECT concat_ws('|', aid, bid, abalance, CASE WHEN filler IS NULL THEN '∅' ELSE format('%s', filler) END) FROM pgbench_accounts",
	"pgbench_branches": "SELECT concat_ws('|', bid, bbalance, CASE WHEN filler IS NULL THEN '∅' ELSE format('%s', filler) END) FROM pgbench_branches",
	"pgbench_tellers":  "SELECT concat_ws('|', tid, bid, tbalance, CASE WHEN filler IS NULL THEN '∅' ELSE format('%s', filler) END) FROM pgbench_tellers",
	"pgbench_history": "SELECT concat_ws('|', coalesce(tid::text, '∅'), coalesce(bid::text, '∅'), coalesce(aid::text, '∅'), " +
		"coalesce(delta::text, '∅'), coalesce((extract(epoch FROM mtime) * 1000000)::bigint::text, '∅'), CASE WHEN filler IS NULL THEN '∅' ELSE format('%s', filler) END) FROM pgbench_history",
}

const secretToken = "e2e-s3cret-token"

// TestEndToEndPgbench runs the sluice binary from PostgreSQL under pgbench
// into nats-server, kills sluice -9 three times and restarts the server
// once, then checks the stream: no change twice, each key's changes in
// commit order, and folding it gives the source tables row for row.
func TestEndToEndPgbench(t *testing.T) {
	dir := t.TempDir()
	src := pgtest.Start(t, pgtest.Options{})
	ctx := context.Background()
	if err := src.CreateDB(ctx, "app"); err != nil {
		t.Fatal(err)
	}
	srv := natstest.Start(t)
	pgbench := func(args ...string) *exec.Cmd {
		return exec.Command(src.Tool("pgbench"), append([]string{"-h", "127.0.0.1", "-p", strconv.Itoa(src.Port), "-U", "postgres"}, append(args, "app")...)...)
	}
	if out, err := pgbench("-i", "-s", "1", "-q").CombinedOutput(); err != nil {
		t.Fatalf("pgbench -i: %v\n%s", err, out)
	}
	cfg := filepath.Join(dir, "sluice.yaml")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf(`name: e2e
source:
  kind: postgres
  dsn: %s
  tables: ["public.*"]
sink:
  kind: nats
  batch: {rows: 2000}
  nats:
    urls: [%s]
    subject_prefix: app
    schemas: false
    token: %s
checkpoint:
  path: %s
log:
  level: debug
`, src.DSN("app"), srv.URL(), secretToken, filepath.Join(dir, "e2e.checkpoint"))), 0o600); err != nil {
		t.Fatal(err)
	}

	// Kill #1 lands in the snapshot, before any write: the restart copies
	// again, and a keyed table's repeated op r events fold to the same rows.
	// (A snapshot cut short is published again in full, at least once, as
	// Debezium's: a keyless table's rows would double, so the later kills
	// wait until the snapshot is done.)
	p := sluicetest.Start(t, dir, "run", "--config", cfg)
	time.Sleep(300 * time.Millisecond)
	p.Kill9()
	t.Logf("kill -9 #1 after 300ms (snapshot finished before: %v)", strings.Contains(p.Log(), "snapshot done"))

	load := pgbench("-n", "-c", "4", "-j", "2", "-T", "15")
	var loadOut strings.Builder
	load.Stdout, load.Stderr = &loadOut, &loadOut
	if err := load.Start(); err != nil {
		t.Fatal(err)
	}
	loadDone := make(chan error, 1)
	go func() { loadDone <- load.Wait() }()
	for i := 2; i <= 3; i++ {
		p = sluicetest.Start(t, dir, "run", "--config", cfg)
		// A snapshot cut by kill #1 starts over: let it finish. "batch
		// flushed" comes once streaming runs (the snapshot is done).
		waitLog(t, p, 60*time.Second, "snapshot done", "batch flushed")
		d := time.Duration(1500+rand.IntN(2500)) * time.Millisecond
		time.Sleep(d)
		if i == 2 { // the server restarts under the running pipeline
			if err := srv.Restart(); err != nil {
				t.Fatal(err)
			}
			t.Log("nats-server restarted")
			// The running pipeline sees the connection go and goes on by
			// itself with a new sink (no exit, checked below).
			waitLog(t, p, 30*time.Second, "recovered from the transient failure")
			time.Sleep(d)
		}
		if done, err := p.Exited(); done {
			t.Fatalf("sluice exited on its own (%v) before kill %d; log:\n%s", err, i, p.Log())
		}
		p.Kill9()
		t.Logf("kill -9 #%d after %v", i, d)
	}
	p = sluicetest.Start(t, dir, "run", "--config", cfg)
	if err := <-loadDone; err != nil {
		t.Fatalf("pgbench: %v\n%s", err, loadOut.String())
	}

	// Wait until the stream folds to the source, table by table.
	deadline := time.Now().Add(90 * time.Second)
	var msgs []stored
	for {
		msgs = readStream(t, srv.URL(), "APP", "app.public.*")
		diff := compareFold(t, src, msgs)
		if diff == "" {
			break
		}
		if done, err := p.Exited(); done {
			t.Fatalf("sluice exited (%v); log:\n%s", err, p.Log())
		}
		if time.Now().After(deadline) {
			for _, l := range strings.Split(p.Log(), "\n") {
				if strings.Contains(l, "snapshot") || strings.Contains(l, "error") || strings.Contains(l, "WRN") || strings.Contains(l, "warn") {
					t.Log(l)
				}
			}
			checkNoDuplicates(t, msgs)
			t.Fatalf("the stream does not fold to the source after 90s: %s", diff)
		}
		time.Sleep(time.Second)
	}
	p.Stop(t)
	checkNoDuplicates(t, msgs)
	checkKeyOrder(t, msgs)

	// sluice check probes the server, stream and subjects; teardown drops
	// the progress markers only.
	// (pgbench_history has no key: check would warn about the source.)
	if err := src.Exec(ctx, "app", "ALTER TABLE pgbench_history REPLICA IDENTITY FULL"); err != nil {
		t.Fatal(err)
	}
	chk := sluicetest.Start(t, dir, "check", "--config", cfg)
	if err := chk.Wait(t, 60*time.Second); err != nil {
		t.Fatalf("sluice check: %v\n%s", err, chk.Log())
	}
	td := sluicetest.Start(t, dir, "teardown", "--yes", "--config", cfg)
	if err := td.Wait(t, 60*time.Second); err != nil || !strings.Contains(td.Log(), "target: progress markers of pipeline e2e") {
		t.Fatalf("sluice teardown (%v):\n%s", err, td.Log())
	}
	if left := readStream(t, srv.URL(), "APP", "app._sluice.>"); len(left) != 0 {
		t.Errorf("%d progress markers left after teardown", len(left))
	}
	if after := readStream(t, srv.URL(), "APP", "app.public.*"); len(after) != len(msgs) {
		t.Errorf("teardown changed the change events: %d, were %d", len(after), len(msgs))
	}
	// The token (a server without auth takes any) is never in a log.
	logs, _ := filepath.Glob(filepath.Join(dir, "sluice-*.log"))
	if len(logs) < 6 {
		t.Errorf("found %d sluice logs to check, want 6 (4 runs, check, teardown)", len(logs))
	}
	for _, f := range logs {
		if b, _ := os.ReadFile(f); strings.Contains(string(b), secretToken) {
			t.Errorf("%s holds sink.nats.token", f)
		}
	}
	n, _ := src.QueryValue(ctx, "app", "SELECT count(*) FROM pgbench_history")
	t.Logf("%d messages; the stream folds to the source row for row; pgbench_history has %s rows", len(msgs), n)
}

// waitLog waits until the process logged one of texts.
func waitLog(t *testing.T, p *sluicetest.Proc, d time.Duration, texts ...string) {
	t.Helper()
	for deadline := time.Now().Add(d); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		log := p.Log()
		for _, text := range texts {
			if strings.Contains(log, text) {
				return
			}
		}
		if done, err := p.Exited(); done {
			t.Fatalf("sluice exited (%v); log:\n%s", err, log)
		}
	}
	t.Fatalf("sluice did not log %q within %v; log:\n%s", texts, d, p.Log())
}

// compareFold folds the stream and compares every pgbench table; "" when
// all are equal.
func compareFold(t *testing.T, src *pgtest.Cluster, msgs []stored) string {
	s, err := sinktest.Fold(events(msgs))
	if err != nil {
		t.Fatalf("fold the stream: %v", err)
	}
	for table, query := range pgbenchTables {
		want := queryRows(t, src, query)
		got := s.Rows(change.TableID{Schema: "public", Name: table})
		if !slices.Equal(got, want) {
			return fmt.Sprintf("%s: the stream folds to %d rows, the source has %d (first difference: %s)", table, len(got), len(want), firstDiff(got, want))
		}
	}
	return ""
}

func queryRows(t *testing.T, src *pgtest.Cluster, query string) []string {
	t.Helper()
	v, err := src.QueryValue(context.Background(), "app", "SELECT coalesce(string_agg(r, E'\\n'), '') FROM ("+query+") AS x(r)")
	if err != nil {
		t.Fatal(err)
	}
	if v == "" {
		return nil
	}
	rows := strings.Split(v, "\n")
	slices.Sort(rows)
	return rows
}

func firstDiff(got, want []string) string {
	for i := range min(len(got), len(want)) {
		if got[i] != want[i] {
			return fmt.Sprintf("stream %q, source %q", got[i], want[i])
		}
	}
	return "one is a prefix of the other"
}

// checkNoDuplicates: each streamed change (not snapshot rows, which a
// restarted snapshot publishes again) is stored once: its id is its
// transaction's position and its index there.
func checkNoDuplicates(t *testing.T, msgs []stored) {
	t.Helper()
	seen := map[string]uint64{}
	streamed := 0
	for _, m := range msgs {
		id := m.Header.Get("Nats-Msg-Id")
		if id == "" {
			t.Fatalf("message %d has no Nats-Msg-Id", m.Seq)
		}
		if strings.Contains(id, ":snapshot:") {
			continue
		}
		streamed++
		if first, dup := seen[id]; dup {
			t.Fatalf("change %s is stored twice: messages %d and %d", id, first, m.Seq)
		}
		seen[id] = m.Seq
	}
	if streamed == 0 {
		t.Fatal("no streamed changes in the stream")
	}
	t.Logf("%d streamed change messages, each once", streamed)
}

// checkKeyOrder: along the stream, each key's events come in commit order
// (source.lsn, then the event index of source.sequence).
func checkKeyOrder(t *testing.T, msgs []stored) {
	t.Helper()
	type at struct{ lsn, idx int64 }
	last := map[string]at{}
	for _, m := range msgs {
		if len(m.Data) == 0 || strings.Contains(m.Header.Get("Nats-Msg-Id"), ":snapshot:") {
			continue
		}
		var ev struct {
			Source struct {
				Table    string `json:"table"`
				LSN      int64  `json:"lsn"`
				Sequence string `json:"sequence"`
			} `json:"source"`
		}
		if err := json.Unmarshal(m.Data, &ev); err != nil {
			t.Fatalf("message %d: %v", m.Seq, err)
		}
		var seq []string
		if err := json.Unmarshal([]byte(ev.Source.Sequence), &seq); err != nil || len(seq) != 2 {
			t.Fatalf("message %d: source.sequence %q", m.Seq, ev.Source.Sequence)
		}
		idx, _ := strconv.ParseInt(seq[1], 10, 64)
		key := ev.Source.Table + "/" + m.Header.Get(HeaderKey)
		if m.Header.Get(HeaderKey) == "" {
			continue // pgbench_history has no key
		}
		now := at{ev.Source.LSN, idx}
		if prev, ok := last[key]; ok && (now.lsn < prev.lsn || now.lsn == prev.lsn && now.idx <= prev.idx) {
			t.Fatalf("key %s: message %d at %v comes after %v: out of commit order", key, m.Seq, now, prev)
		}
		last[key] = now
	}
}
