package main

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestTeardown: teardown refuses while Sluice runs and without a yes,
// then drops the slot, the publication, the applied position and the
// checkpoint (the target tables stay); the next run copies everything
// again.
func TestTeardown(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "")
	e.srcExec(`CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t SELECT g, 'v' FROM generate_series(1, 100) g;`)
	p := e.start()
	e.waitEqual(60*time.Second, p, "t")
	e.srcExec(`INSERT INTO t VALUES (0, 'streamed')`) // the target records an applied position
	e.waitEqual(30*time.Second, p, "t")
	teardown := func(stdin string, args ...string) (string, error) {
		cmd := exec.Command(binary, append([]string{"teardown", "--config", e.cfg}, args...)...)
		cmd.Stdin = strings.NewReader(stdin)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	if out, err := teardown("", "--yes"); err == nil || !strings.Contains(out, "in use") {
		t.Fatalf("teardown while running: %v\n%s", err, out)
	}
	p.stop(t)

	held := func() string {
		t.Helper()
		v, err := e.src.QueryValue(context.Background(), "app", `SELECT (SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'sluice_test') || '/' ||
			(SELECT count(*) FROM pg_publication WHERE pubname = 'sluice_test')`)
		if err != nil {
			t.Fatal(err)
		}
		pos, err := e.dst.QueryValue(context.Background(), "dwh", "SELECT count(*) FROM sluice.positions WHERE pipeline = 'test'")
		if err != nil {
			t.Fatal(err)
		}
		_, statErr := os.Stat(e.dir + "/test.checkpoint")
		return v + "/" + pos + "/" + map[bool]string{true: "file", false: "nofile"}[statErr == nil]
	}
	if h := held(); h != "1/1/1/file" {
		t.Fatalf("before teardown: slot/publication/position/checkpoint %s", h)
	}
	out, err := teardown("no\n")
	if err == nil || !strings.Contains(out, "replication slot sluice_test") || !strings.Contains(out, "cancelled") {
		t.Fatalf("teardown answered no: %v\n%s", err, out)
	}
	if h := held(); h != "1/1/1/file" {
		t.Fatalf("after a cancelled teardown: %s", h)
	}
	if out, err = teardown("yes\n"); err != nil {
		t.Fatalf("teardown: %v\n%s", err, out)
	}
	t.Logf("teardown said:\n%s", out)
	if h := held(); h != "0/0/0/nofile" {
		t.Fatalf("after teardown: %s", h)
	}
	if n, _ := e.dst.QueryValue(context.Background(), "dwh", "SELECT count(*) FROM public.t"); n != "101" {
		t.Fatalf("target table after teardown holds %s rows, want 101 (it stays)", n)
	}
	if out, err = teardown("", "--yes"); err != nil || !strings.Contains(out, "holds nothing") {
		t.Fatalf("second teardown: %v\n%s", err, out)
	}

	e.srcExec(`UPDATE t SET v = 'changed' WHERE id <= 10; INSERT INTO t VALUES (101, 'new')`)
	p = e.start()
	e.waitEqual(60*time.Second, p, "t")
	p.stop(t)
	if !strings.Contains(p.logText(), "snapshot") {
		t.Fatalf("the run after teardown did not snapshot:\n%s", p.logText())
	}
}

// TestTeardownMySQL: a MariaDB source holds nothing on the server; teardown
// drops the applied position in the MariaDB target and the checkpoint,
// and the next run copies everything again.
func TestTeardownMySQL(t *testing.T) {
	t.Parallel()
	x := newXEnv(t, "mysql", "mysql", "")
	x.from.exec(t, "CREATE TABLE app.t (id int PRIMARY KEY, v text); INSERT INTO app.t VALUES (1, 'a'), (2, 'b')")
	p := x.start()
	x.waitSame(60*time.Second, p, "app.t")
	x.from.exec(t, "INSERT INTO app.t VALUES (3, 'streamed')")
	x.waitSame(30*time.Second, p, "app.t")
	p.stop(t)
	dst := x.to.(*myEnd).s
	position := func() string {
		n, err := dst.QueryValue(context.Background(), "SELECT count(*) FROM sluice.positions WHERE pipeline = 'test'")
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	if position() != "1" {
		t.Fatal("no applied position in the target before teardown")
	}
	out, err := exec.Command(binary, "teardown", "--config", x.cfg, "--yes").CombinedOutput()
	if err != nil || strings.Contains(string(out), "slot") || !strings.Contains(string(out), "dropped target") {
		t.Fatalf("teardown: %v\n%s", err, out)
	}
	if _, err := os.Stat(x.dir + "/test.checkpoint"); err == nil || position() != "0" {
		t.Fatalf("after teardown the checkpoint (%v) or the position (%s) is left", err, position())
	}
	x.from.exec(t, "UPDATE app.t SET v = 'changed while torn down' WHERE id = 1")
	p = x.start()
	x.waitSame(60*time.Second, p, "app.t")
	p.stop(t)
}
