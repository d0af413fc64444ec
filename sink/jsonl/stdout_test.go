package jsonl

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sluicecdc/sluice/internal/pgtest"
	"github.com/sluicecdc/sluice/internal/sluicetest"
	"github.com/sluicecdc/sluice/pkg/change"
	"github.com/sluicecdc/sluice/sink/sinktest"
)

// TestStdout runs `sluice run` with path "-" as `sluice run ... | jq`
// would: standard output carries only whole event lines (the log goes to
// standard error), and they fold to the source table.
func TestStdout(t *testing.T) {
	if testing.Short() {
		t.Skip("starts PostgreSQL and sluice")
	}
	ctx := context.Background()
	src := pgtest.Start(t, pgtest.Options{})
	if err := src.CreateDB(ctx, "app"); err != nil {
		t.Fatal(err)
	}
	if err := src.Exec(ctx, "app", `CREATE TABLE t (id int PRIMARY KEY, v text);
		INSERT INTO t SELECT g, 'v' || g FROM generate_series(1, 500) g;`); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cfg := filepath.Join(dir, "sluice.yaml")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf("name: app\nsource: {kind: postgres, dsn: %q}\n"+
		"sink: {kind: jsonl, batch: {wait: 100ms}, jsonl: {path: \"-\"}}\ncheckpoint: {path: %q}\n",
		src.DSN("app"), filepath.Join(dir, "cp"))), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(sluicetest.Binary(t), "run", "--config", cfg)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	lines := make(chan []byte)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- append([]byte(nil), sc.Bytes()...)
		}
		close(lines)
	}()
	var evs []sinktest.Event
	deadline := time.After(60 * time.Second)
	for len(evs) < 502 {
		if len(evs) == 500 { // the snapshot is out: now stream two changes
			if err := src.Exec(ctx, "app", "UPDATE t SET v = 'changed' WHERE id = 1; DELETE FROM t WHERE id = 2"); err != nil {
				t.Fatal(err)
			}
		}
		select {
		case b, ok := <-lines:
			if !ok {
				t.Fatalf("standard output ended after %d lines; stderr:\n%s", len(evs), stderr.String())
			}
			var l line
			if err := json.Unmarshal(b, &l); err != nil || l.Value == nil {
				t.Fatalf("standard output line %d is not an event (%v): %s", len(evs)+1, err, b)
			}
			evs = append(evs, events([]line{l}, false)...)
		case <-deadline:
			t.Fatalf("%d lines within 60s; stderr:\n%s", len(evs), stderr.String())
		}
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	for range lines {
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("sluice: %v\n%s", err, stderr.String())
	}
	s, err := sinktest.Fold(evs)
	if err != nil {
		t.Fatal(err)
	}
	got := s.Rows(change.TableID{Schema: "public", Name: "t"})
	if len(got) != 499 || !slices.Contains(got, "1|changed") || slices.Contains(got, "2|v2") {
		t.Fatalf("folded %d rows (want 499, with 1|changed and without 2): %q...", len(got), got[:min(5, len(got))])
	}
}
