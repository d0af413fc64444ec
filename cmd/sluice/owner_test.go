package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestSharedSlotRefused: pipelines crm-dwh and crm_dwh map to the same
// default slot and publication. The second one stops (check, run and
// teardown alike) naming both pipelines and the fix, exits non-zero, and
// touches nothing: the first keeps streaming. A checkpoint file of another
// pipeline is refused too, and a publication without an owner record (an
// installation from before records) is adopted.
func TestSharedSlotRefused(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "")
	ctx := context.Background()
	base, err := os.ReadFile(e.cfg)
	if err != nil {
		t.Fatal(err)
	}
	config := func(file, name, checkpoint, extraSource string) string {
		t.Helper()
		c := strings.Replace(string(base), "name: test", "name: "+name, 1)
		c = strings.Replace(c, filepath.Join(e.dir, "test.checkpoint"), filepath.Join(e.dir, checkpoint), 1)
		c = strings.Replace(c, "  tables: [\"public.*\"]\n", "  tables: [\"public.*\"]\n"+extraSource, 1)
		path := filepath.Join(e.dir, file)
		if err := os.WriteFile(path, []byte(c), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	first := config("first.yaml", "crm-dwh", "first.checkpoint", "")
	second := config("second.yaml", "crm_dwh", "second.checkpoint", "")
	e.srcExec(`CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t SELECT g, 'v' FROM generate_series(1, 100) g;`)
	e.cfg = first
	p := e.start()
	e.waitEqual(60*time.Second, p, "t")

	wantRefusal := func(what, out string) {
		t.Helper()
		for _, want := range []string{"belongs to pipeline crm-dwh", "this pipeline is crm_dwh", "source.postgres.slot", "source.postgres.publication"} {
			if !strings.Contains(out, want) {
				t.Errorf("%s: output lacks %q:\n%s", what, want, tail(out, 3000))
			}
		}
	}
	out, err := exec.Command(binary, "check", "--config", second).CombinedOutput()
	if err == nil {
		t.Errorf("check of the second pipeline passed:\n%s", out)
	}
	wantRefusal("check", string(out))

	cmd := exec.CommandContext(ctx, binary, "run", "--config", second)
	cmd.WaitDelay = time.Second
	done := make(chan struct{})
	var runOut []byte
	go func() { runOut, err = cmd.CombinedOutput(); close(done) }()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("the second pipeline did not stop")
	}
	if err == nil {
		t.Errorf("the second pipeline exited 0")
	}
	wantRefusal("run", string(runOut))
	t.Logf("the second pipeline said:\n%s", tail(string(runOut), 1500))

	out, err = exec.Command(binary, "teardown", "--config", second, "--yes").CombinedOutput()
	if err == nil {
		t.Errorf("teardown of the second pipeline passed:\n%s", out)
	}
	wantRefusal("teardown", string(out))
	t.Logf("its teardown said:\n%s", out)
	if n, _ := e.src.QueryValue(ctx, "app", `SELECT (SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'sluice_crm_dwh') +
		(SELECT count(*) FROM pg_publication WHERE pubname = 'sluice_crm_dwh')`); n != "2" {
		t.Fatalf("slot and publication of crm-dwh: %s of 2 left after the second pipeline's teardown", n)
	}

	// The first keeps streaming.
	e.srcExec(`UPDATE t SET v = 'after' WHERE id <= 10; INSERT INTO t VALUES (101, 'new')`)
	e.waitEqual(30*time.Second, p, "t")

	// A checkpoint file of another pipeline: refused before anything else.
	third := config("third.yaml", "crm_dwh", "first.checkpoint", "  postgres: {slot: sluice_third, publication: sluice_third}\n")
	out, err = exec.Command(binary, "run", "--config", third).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "was saved by pipeline crm-dwh, but this config's name is crm_dwh") ||
		!strings.Contains(string(out), "checkpoint.path") {
		t.Errorf("a run on another pipeline's checkpoint (%v):\n%s", err, tail(string(out), 3000))
	}
	if n, _ := e.src.QueryValue(ctx, "app", `SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'sluice_third'`); n != "0" {
		t.Errorf("the refused pipeline created its slot")
	}
	p.stop(t)

	// An installation from before owner records is adopted, not refused.
	e.srcExec(`COMMENT ON PUBLICATION sluice_crm_dwh IS NULL`)
	p = e.start()
	e.srcExec(`INSERT INTO t VALUES (102, 'adopted')`)
	e.waitEqual(30*time.Second, p, "t")
	if c, _ := e.src.QueryValue(ctx, "app", `SELECT obj_description(oid, 'pg_publication') FROM pg_publication WHERE pubname = 'sluice_crm_dwh'`); c != "sluice pipeline crm-dwh, slot sluice_crm_dwh" {
		t.Errorf("publication comment after adoption: %q", c)
	}
	p.stop(t)
}
