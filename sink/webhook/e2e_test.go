package webhook

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sluicecdc/sluice/internal/pgtest"
	"github.com/sluicecdc/sluice/internal/sluicetest"
	"github.com/sluicecdc/sluice/pkg/change"
)

// e2e is a PostgreSQL source and a sluice config posting to a receiver.
type e2e struct {
	dsn, dir, cfg string
}

func newE2E(t *testing.T, url, extra string) *e2e {
	ctx := context.Background()
	src := pgtest.Start(t, pgtest.Options{})
	if err := src.CreateDB(ctx, "app"); err != nil {
		t.Fatal(err)
	}
	if err := src.Exec(ctx, "app", `CREATE TABLE acct (id int PRIMARY KEY, v int NOT NULL, note text);
		CREATE TABLE hist (a int, b text);
		ALTER TABLE hist REPLICA IDENTITY FULL;
		INSERT INTO acct SELECT g, 0, 'n' || g FROM generate_series(1, 3000) g;`); err != nil {
		t.Fatal(err)
	}
	e := &e2e{dsn: src.DSN("app"), dir: t.TempDir()}
	e.cfg = filepath.Join(e.dir, "sluice.yaml")
	if err := os.WriteFile(e.cfg, []byte(fmt.Sprintf(`name: app
source:
  kind: postgres
  dsn: %s
sink:
  kind: webhook
  batch: {wait: 100ms}
  webhook:
    url: %s
    secret: ${WEBHOOK_SECRET}
    headers: ["Authorization: Bearer ${HOOK_TOKEN}"]
%scheckpoint:
  path: %s
`, e.dsn, url, extra, filepath.Join(e.dir, "app.checkpoint"))), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("WEBHOOK_SECRET", "e2e-hmac-secret")
	t.Setenv("HOOK_TOKEN", "e2e-bearer-token")
	sluicetest.Binary(t)
	return e
}

// TestDeliveryThroughFailures: the receiver answers every third request
// with 503 and lets one request wait past the timeout (after keeping it,
// so its retry is a duplicate). Nothing is lost, every change is kept once
// by Idempotency-Key, the only duplicates the receiver sees repeat a key,
// and every signature checks out.
func TestDeliveryThroughFailures(t *testing.T) {
	r := newReceiver(t, "e2e-hmac-secret")
	var stalled atomic.Int64
	r.answer = func(n int) (int, time.Duration) {
		switch {
		case n%3 == 0:
			return http.StatusServiceUnavailable, 0
		case n == 7:
			stalled.Store(int64(n))
			return 0, 2500 * time.Millisecond // past the timeout: kept, but the answer is too late
		}
		return 0, 0
	}
	e := newE2E(t, r.url(), "    timeout: 1s\n    max_retries: 8\n    max_backoff: 200ms\n    max_batch_rows: 200\n")
	loadCtx, stopLoad := context.WithCancel(context.Background())
	defer stopLoad()
	var txns atomic.Int64
	loadDone := make(chan error, 1)
	go func() { loadDone <- writer(loadCtx, e.dsn, 0, &txns) }()
	p := sluicetest.Start(t, e.dir, "run", "--config", e.cfg)
	time.Sleep(5 * time.Second)
	stopLoad()
	if err := <-loadDone; err != nil {
		t.Fatalf("writer: %v", err)
	}
	want := map[string][]string{"acct": sourceRows(t, e.dsn, "acct"), "hist": sourceRows(t, e.dsn, "hist")}
	deadline := time.Now().Add(60 * time.Second)
	for {
		s := r.fold(t, false)
		acct, hist := s.Rows(change.TableID{Schema: "public", Name: "acct"}), s.Rows(change.TableID{Schema: "public", Name: "hist"})
		if slices.Equal(acct, want["acct"]) && slices.Equal(hist, want["hist"]) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the receiver never held the source tables: acct %d rows (want %d), hist %d (want %d); log:\n%s",
				len(acct), len(want["acct"]), len(hist), len(want["hist"]), p.Log())
		}
		time.Sleep(300 * time.Millisecond)
	}
	p.Stop(t)
	r.check(t)
	r.checkOnce(t)
	r.mu.Lock()
	defer r.mu.Unlock()
	if stalled.Load() == 0 || r.repeats == 0 {
		t.Errorf("no request was repeated after the stall (stalled %d, repeats %d)", stalled.Load(), r.repeats)
	}
	if r.requests < len(r.batches)+r.requests/3 {
		t.Errorf("%d requests for %d batches: the 503s were not retried", r.requests, len(r.batches))
	}
	log := p.Log()
	for _, secret := range []string{"e2e-hmac-secret", "e2e-bearer-token"} {
		if strings.Contains(log, secret) {
			t.Errorf("the log shows a secret (%s)", secret)
		}
	}
	t.Logf("%d source transactions; %d requests, %d batches kept, %d repeated a key", txns.Load(), r.requests, len(r.batches), r.repeats)
}

// checkOnce fails on two events of the same change in the batches kept
// (each batch once, by key): a duplicate under a new key.
func (r *receiver) checkOnce(t *testing.T) {
	t.Helper()
	seen := map[string]string{}
	for _, b := range r.batches {
		for _, e := range b.events {
			var v struct {
				Op     string          `json:"op"`
				After  json.RawMessage `json:"after"`
				Source struct {
					Table    string `json:"table"`
					Sequence string `json:"sequence"`
				} `json:"source"`
			}
			if err := json.Unmarshal(e.Value, &v); err != nil {
				t.Fatalf("batch %s: %v", b.key, err)
			}
			id := v.Source.Table + " " + v.Source.Sequence
			if v.Op == "r" {
				id = v.Source.Table + " snapshot " + string(v.After)
			}
			if k, dup := seen[id]; dup {
				t.Fatalf("batches %s and %s both hold %s: a duplicate under another key", k, b.key, id)
			}
			seen[id] = b.key
		}
	}
}

// TestPermanentRefusal: a 400 stops sluice with a message naming the
// status and the response's first bytes, and no secret.
func TestPermanentRefusal(t *testing.T) {
	r := newReceiver(t, "e2e-hmac-secret")
	r.answer = func(int) (int, time.Duration) { return http.StatusBadRequest, 0 }
	e := newE2E(t, r.url(), "")
	p := sluicetest.Start(t, e.dir, "run", "--config", e.cfg)
	err := p.Wait(t, 60*time.Second)
	if err == nil {
		t.Fatalf("sluice exited 0 after a 400; log:\n%s", p.Log())
	}
	log := p.Log()
	for _, want := range []string{"HTTP 400", "scripted answer 400", "permanently"} {
		if !strings.Contains(log, want) {
			t.Errorf("the log does not say %q:\n%s", want, log)
		}
	}
	for _, secret := range []string{"e2e-hmac-secret", "e2e-bearer-token"} {
		if strings.Contains(log, secret) {
			t.Errorf("the log shows a secret (%s)", secret)
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.requests != 1 {
		t.Errorf("%d requests: a 400 must not be retried", r.requests)
	}
	t.Logf("exit: %v; last log line: %s", err, lastLine(log))
}

// writer commits small transactions until ctx ends.
func writer(ctx context.Context, dsn string, w int, n *atomic.Int64) error {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	r := rand.New(rand.NewPCG(uint64(w), 7))
	for i := 0; ctx.Err() == nil; i++ {
		batch := &pgx.Batch{}
		batch.Queue("BEGIN")
		batch.Queue("UPDATE acct SET v = v + 1 WHERE id = $1", 1+r.IntN(3000))
		batch.Queue("INSERT INTO hist VALUES ($1, $2)", w, fmt.Sprintf("w%d-%d", w, i))
		switch i % 10 {
		case 3:
			batch.Queue("INSERT INTO acct VALUES ($1, 1, NULL) ON CONFLICT DO NOTHING", 100000+i)
		case 7:
			batch.Queue("DELETE FROM acct WHERE id = $1", 1+r.IntN(3000))
		}
		batch.Queue("COMMIT")
		if err := conn.SendBatch(context.Background(), batch).Close(); err != nil {
			return err
		}
		n.Add(1)
		time.Sleep(2 * time.Millisecond)
	}
	return nil
}

// sourceRows renders a table as the fold does: "v1|v2|...", NULL as ∅, sorted.
func sourceRows(t *testing.T, dsn, table string) []string {
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	q := map[string]string{
		"acct": "SELECT concat_ws('|', id, v, coalesce(note, '∅')) FROM acct",
		"hist": "SELECT concat_ws('|', coalesce(a::text, '∅'), coalesce(b, '∅')) FROM hist",
	}[table]
	rows, err := conn.Query(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(out)
	return out
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}
