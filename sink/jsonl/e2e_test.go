package jsonl

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
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

// TestKill9UnderLoad runs sluice from PostgreSQL into rotated JSON-lines
// files while two writers commit transactions, kills it with SIGKILL at
// random moments (the first during the initial snapshot), and then checks
// that the files hold every change exactly once — no two events with the
// same source position, every line whole — and fold to the source tables
// row for row, the keyless one included (a replayed insert would show up
// there twice).
func TestKill9UnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("starts PostgreSQL and sluice")
	}
	ctx := context.Background()
	src := pgtest.Start(t, pgtest.Options{})
	if err := src.CreateDB(ctx, "app"); err != nil {
		t.Fatal(err)
	}
	exec := func(sql string) {
		t.Helper()
		if err := src.Exec(ctx, "app", sql); err != nil {
			t.Fatalf("%v\n%s", err, sql)
		}
	}
	exec(`CREATE TABLE acct (id int PRIMARY KEY, v int NOT NULL, note text);
		CREATE TABLE hist (a int, b text);
		ALTER TABLE hist REPLICA IDENTITY FULL;
		INSERT INTO acct SELECT g, 0, 'n' || g FROM generate_series(1, 20000) g;`)

	dir := t.TempDir()
	data := filepath.Join(dir, "out", "app.jsonl")
	cfg := filepath.Join(dir, "sluice.yaml")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf(`name: app
source:
  kind: postgres
  dsn: %s
  tables: ["public.*"]
sink:
  kind: jsonl
  batch: {wait: 100ms}
  jsonl:
    path: %s
    max_bytes: 256KiB
checkpoint:
  path: %s
`, src.DSN("app"), data, filepath.Join(dir, "app.checkpoint"))), 0o600); err != nil {
		t.Fatal(err)
	}
	sluicetest.Binary(t) // built before the clock starts

	// Two writers: each transaction updates a row, appends to the keyless
	// table, and now and then inserts or deletes a row.
	loadCtx, stopLoad := context.WithCancel(ctx)
	defer stopLoad()
	var txns atomic.Int64
	loadDone := make(chan error, 2)
	for w := range 2 {
		go func() { loadDone <- writer(loadCtx, src.DSN("app"), w, &txns) }()
	}

	kills := []time.Duration{400 * time.Millisecond}
	for range 3 {
		kills = append(kills, time.Duration(800+rand.IntN(2200))*time.Millisecond)
	}
	for i, d := range kills {
		p := sluicetest.Start(t, dir, "run", "--config", cfg)
		time.Sleep(d)
		if done, err := p.Exited(); done {
			t.Fatalf("sluice exited on its own (%v) before kill %d; log:\n%s", err, i+1, p.Log())
		}
		p.Kill9()
		t.Logf("kill -9 #%d after %v", i+1, d)
	}
	p := sluicetest.Start(t, dir, "run", "--config", cfg)
	time.Sleep(2 * time.Second)
	stopLoad()
	for range 2 {
		if err := <-loadDone; err != nil {
			t.Fatalf("writer: %v", err)
		}
	}
	t.Logf("%d source transactions", txns.Load())

	want := map[string][]string{"acct": sourceRows(t, src.DSN("app"), "acct"), "hist": sourceRows(t, src.DSN("app"), "hist")}
	deadline := time.Now().Add(90 * time.Second)
	for {
		s := fold(t, false, data)
		acct, hist := s.Rows(change.TableID{Schema: "public", Name: "acct"}), s.Rows(change.TableID{Schema: "public", Name: "hist"})
		if slices.Equal(acct, want["acct"]) && slices.Equal(hist, want["hist"]) {
			break
		}
		if time.Now().After(deadline) {
			if keep := os.Getenv("JSONL_KEEP"); keep != "" {
				_ = os.CopyFS(keep, os.DirFS(dir))
			}
			checkOnce(t, readLines(t, data))
			t.Fatalf("the files never folded to the source tables: acct %d rows (want %d), hist %d rows (want %d); log:\n%s",
				len(acct), len(want["acct"]), len(hist), len(want["hist"]), p.Log())
		}
		time.Sleep(500 * time.Millisecond)
	}
	p.Stop(t)

	lines := readLines(t, data)
	checkOnce(t, lines)
	files, _ := filepath.Glob(filepath.Join(dir, "out", "app.*.jsonl"))
	if len(files) < 3 {
		t.Errorf("only %d data files: max_bytes should have rotated them", len(files))
	}
	t.Logf("%d lines in %d files fold to the source tables after %d kills", len(lines), len(files), len(kills))
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
		id := 1 + r.IntN(20000)
		batch := &pgx.Batch{}
		batch.Queue("BEGIN")
		batch.Queue("UPDATE acct SET v = v + 1 WHERE id = $1", id)
		batch.Queue("INSERT INTO hist VALUES ($1, $2)", w, fmt.Sprintf("w%d-%d", w, i))
		switch i % 10 {
		case 3:
			batch.Queue("INSERT INTO acct VALUES ($1, 1, NULL) ON CONFLICT DO NOTHING", 100000+w*100000+i)
		case 7:
			batch.Queue("DELETE FROM acct WHERE id = $1", 1+r.IntN(20000))
		}
		batch.Queue("COMMIT")
		if err := conn.SendBatch(context.Background(), batch).Close(); err != nil {
			return err
		}
		n.Add(1)
		time.Sleep(time.Millisecond) // a busy application, not a benchmark
	}
	return nil
}

// sourceRows renders a table as the fold does: "v1|v2|...", NULL as ∅,
// sorted; hist is (a, b), every other table (id, v, note).
func sourceRows(t *testing.T, dsn, table string) []string {
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	q := "SELECT concat_ws('|', id, v, coalesce(note, '∅')) FROM " + pgx.Identifier{table}.Sanitize()
	if table == "hist" {
		q = "SELECT concat_ws('|', coalesce(a::text, '∅'), coalesce(b, '∅')) FROM hist"
	}
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

// checkOnce fails on two change events with the same source position
// (commit LSN and event index) or two snapshot events of the same key.
func checkOnce(t *testing.T, lines []line) {
	t.Helper()
	seen := map[string]int{}
	for i, l := range lines {
		var v struct {
			Op     string          `json:"op"`
			After  json.RawMessage `json:"after"`
			Source struct {
				Table    string `json:"table"`
				LSN      *int64 `json:"lsn"`
				Sequence string `json:"sequence"`
			} `json:"source"`
		}
		if err := json.Unmarshal(l.Value, &v); err != nil {
			t.Fatalf("line %d: %v", i+1, err)
		}
		id := v.Source.Table + " " + v.Source.Sequence
		if v.Op == "r" {
			id = v.Source.Table + " snapshot " + string(l.Key)
			if string(l.Key) == "null" || l.Key == nil {
				id = v.Source.Table + " snapshot " + string(v.After) // rows of the keyless table differ
			}
		}
		if strings.TrimSpace(id) == v.Source.Table {
			t.Fatalf("line %d has no source position: %s", i+1, l.Value)
		}
		if j, dup := seen[id]; dup {
			t.Fatalf("lines %d and %d are the same change (%s): written twice", j+1, i+1, id)
		}
		seen[id] = i
	}
}
