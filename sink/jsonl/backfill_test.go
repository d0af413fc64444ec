package jsonl

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sluicecdc/sluice/internal/pgtest"
	"github.com/sluicecdc/sluice/internal/sluicetest"
	"github.com/sluicecdc/sluice/pkg/change"
)

// A table created and filled while Sluice streams into a stream sink is
// back-filled online: its existing rows arrive as op "r" events marked
// source.snapshot "incremental" (Debezium's marker for incremental
// snapshots), its later changes as ordinary events, and the lines fold to
// the source table, while rows keep changing during the back-fill.
func TestBackfillNewTableIntoStream(t *testing.T) {
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
	exec(`CREATE TABLE acct (id int PRIMARY KEY, v int NOT NULL, note text)`)
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
checkpoint:
  path: %s
`, src.DSN("app"), data, filepath.Join(dir, "app.checkpoint"))), 0o600); err != nil {
		t.Fatal(err)
	}
	p := sluicetest.Start(t, dir, "run", "--config", cfg)
	defer p.Stop(t)
	waitFor(t, 60*time.Second, p.Log, func() bool { return fileExists(data + ".state") })

	// Created and filled while Sluice streams; changed while it is being
	// back-filled.
	exec(`CREATE TABLE acct2 (id int PRIMARY KEY, v int NOT NULL, note text);
		INSERT INTO acct2 SELECT g, g, 'n' || g FROM generate_series(1, 30000) g`)
	conn, err := pgx.Connect(ctx, src.DSN("app"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	for i := range 200 {
		if _, err := conn.Exec(ctx, fmt.Sprintf(`UPDATE acct2 SET v = v + 1000000 WHERE id = %d; DELETE FROM acct2 WHERE id = %d; INSERT INTO acct2 VALUES (%d, 0, 'new')`,
			1+i*97%30000, 2+i*89%30000, 100000+i)); err != nil {
			t.Fatal(err)
		}
		time.Sleep(5 * time.Millisecond)
	}
	exec(`INSERT INTO acct VALUES (1, 1, 'after')`)

	id := change.TableID{Schema: "public", Name: "acct2"}
	want := sourceRows(t, src.DSN("app"), "acct2")
	waitFor(t, 90*time.Second, p.Log, func() bool { return slices.Equal(fold(t, false, data).Rows(id), want) })

	var reads, incremental int
	for _, l := range readLines(t, data) {
		var v struct {
			Op     string `json:"op"`
			Source struct {
				Table    string `json:"table"`
				Snapshot string `json:"snapshot"`
			} `json:"source"`
		}
		if err := json.Unmarshal(l.Value, &v); err != nil || v.Source.Table != "acct2" || v.Op != "r" {
			continue
		}
		reads++
		if v.Source.Snapshot == "incremental" {
			incremental++
		}
	}
	if reads < 25000 || incremental != reads {
		t.Fatalf("acct2: %d op r events, %d of them marked incremental; want about 30,000, all incremental", reads, incremental)
	}
	t.Logf("acct2 back-filled into the stream: %d op r events (incremental), folds to %d source rows", reads, len(want))
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

// waitFor polls cond until it holds, failing with the log after d.
func waitFor(t *testing.T, d time.Duration, log func() string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v; sluice log:\n%s", d, log())
		}
		time.Sleep(200 * time.Millisecond)
	}
}
