package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sluicecdc/sluice/internal/kafkatest"
)

// kafkaTPCB is pgbench's tpcb-like script over 10,000 accounts.
const kafkaTPCB = `\set aid random(1, 10000)
\set bid random(1, 1 * :scale)
\set tid random(1, 10 * :scale)
\set delta random(-5000, 5000)
BEGIN;
UPDATE pgbench_accounts SET abalance = abalance + :delta WHERE aid = :aid;
UPDATE pgbench_tellers SET tbalance = tbalance + :delta WHERE tid = :tid;
UPDATE pgbench_branches SET bbalance = bbalance + :delta WHERE bid = :bid;
INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) VALUES (:tid, :bid, :aid, :delta, CURRENT_TIMESTAMP);
END;
`

// kafkaMember writes the config of one member of the applier group (into
// the PostgreSQL target) and returns a starter for it.
func (e *env) kafkaMember(broker, member string) func() *proc {
	return e.kafkaMemberInto(broker, member, `crm\\.public\\..*`, "postgres", e.dst.DSN("dwh"))
}

// kafkaMemberInto is kafkaMember with the topics pattern and the target.
func (e *env) kafkaMemberInto(broker, member, topics, sinkKind, sinkDSN string) func() *proc {
	cfg := filepath.Join(e.dir, member+".yaml")
	text := fmt.Sprintf(`name: apply
source:
  kind: kafka
  kafka:
    brokers: [%q]
    topics: ["%s"]
    group: appliers
    member: %s
sink:
  kind: %s
  dsn: %s
checkpoint:
  path: %s
log:
  level: debug
`, broker, topics, member, sinkKind, sinkDSN, filepath.Join(e.dir, member+".checkpoint"))
	if err := os.WriteFile(cfg, []byte(text), 0o600); err != nil {
		e.t.Fatal(err)
	}
	return func() *proc {
		saved := e.cfg
		e.cfg = cfg
		defer func() { e.cfg = saved }()
		return e.start()
	}
}

// TestKafkaSourceGroup: PostgreSQL → sluice (Kafka sink, 6 partitions) →
// Kafka → a group of sluice members (source.kind kafka) → PostgreSQL,
// under a pgbench load, with members killed with SIGKILL and restarted and
// a third member joining mid-load: the target equals the source row for
// row, pgbench_history (no key) included, so every change was applied
// exactly once.
func TestKafkaSourceGroup(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("end-to-end")
	}
	began := time.Now()
	phase := func(what string) { t.Logf("%s at %s", what, time.Since(began).Round(100*time.Millisecond)) }
	e := newEnv(t, "")
	b := kafkatest.Start(t)
	ctx := context.Background()
	pgbench := func(args ...string) *exec.Cmd {
		return exec.Command(e.src.Tool("pgbench"), append([]string{"-h", "127.0.0.1", "-p", strconv.Itoa(e.src.Port), "-U", "postgres"}, append(args, "app")...)...)
	}
	if out, err := pgbench("-i", "-s", "1", "-q").CombinedOutput(); err != nil {
		t.Fatalf("pgbench -i: %v\n%s", err, out)
	}
	e.srcExec("DELETE FROM pgbench_accounts WHERE aid > 10000; CREATE TABLE done_marker (id int PRIMARY KEY)")
	script := filepath.Join(e.dir, "tpcb.sql")
	if err := os.WriteFile(script, []byte(kafkaTPCB), 0o644); err != nil {
		t.Fatal(err)
	}
	pubCfg := filepath.Join(e.dir, "publish.yaml")
	if err := os.WriteFile(pubCfg, []byte(fmt.Sprintf(`name: publish
source:
  kind: postgres
  dsn: %s
  tables: ["public.*"]
sink:
  kind: kafka
  kafka:
    brokers: [%q]
    topic_prefix: crm
    create_topics: {partitions: 6, replication_factor: 1}
checkpoint:
  path: %s
log:
  level: info
`, e.src.DSN("app"), b.Addr(), filepath.Join(e.dir, "publish.checkpoint"))), 0o600); err != nil {
		t.Fatal(err)
	}
	e.cfg = pubCfg
	pub := e.start()
	defer pub.stop(t)
	phase("publisher started")

	m1, m2, m3 := e.kafkaMember(b.Addr(), "m1"), e.kafkaMember(b.Addr(), "m2"), e.kafkaMember(b.Addr(), "m3")
	members := []*proc{m1(), m2()}
	load := pgbench("-n", "-c", "4", "-j", "2", "-T", "20", "-f", script)
	var loadOut strings.Builder
	load.Stdout, load.Stderr = &loadOut, &loadOut
	if err := load.Start(); err != nil {
		t.Fatal(err)
	}
	loadDone := make(chan error, 1)
	go func() { loadDone <- load.Wait() }()
	alive := func(i int) {
		t.Helper()
		select {
		case err := <-members[i].done:
			t.Fatalf("member %d exited (%v); log:\n%s", i+1, err, tailText(members[i].logText()))
		default:
		}
	}
	time.Sleep(5 * time.Second)
	alive(0)
	members[0].kill9()
	t.Log("kill -9 m1")
	time.Sleep(time.Second)
	members[0] = m1()
	time.Sleep(4 * time.Second)
	members = append(members, m3())
	t.Log("m3 joined")
	time.Sleep(4 * time.Second)
	alive(1)
	members[1].kill9()
	t.Log("kill -9 m2")
	time.Sleep(2 * time.Second)
	members[1] = m2()
	if err := <-loadDone; err != nil {
		t.Fatalf("pgbench: %v\n%s", err, loadOut.String())
	}
	phase("load done")
	for i := range members {
		alive(i)
	}
	e.srcExec("INSERT INTO done_marker VALUES (1)")
	e.waitEqual(90*time.Second, members[2], "done_marker", "pgbench_accounts", "pgbench_tellers", "pgbench_branches", "pgbench_history")
	phase("target equals source")
	history, _ := e.src.QueryValue(ctx, "app", "SELECT count(*) FROM pgbench_history")
	t.Logf("pgbench_history: %s rows, each once in the target", history)
	positions, _ := e.dst.QueryValue(ctx, "dwh", "SELECT string_agg(pipeline || ': ' || position, E'\\n' ORDER BY pipeline) FROM sluice.positions WHERE pipeline LIKE 'apply@%'")
	t.Logf("positions:\n%s", positions)
	for _, m := range members {
		m.stop(t)
	}
	m1Cfg := filepath.Join(e.dir, "m1.yaml")
	if out, err := exec.Command(binary, "check", "--config", m1Cfg).CombinedOutput(); err != nil || !strings.Contains(string(out), "ok") {
		t.Errorf("sluice check of a member: %v\n%s", err, out)
	}
	out, err := exec.Command(binary, "status", "--config", m1Cfg).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "apply@m1") {
		t.Errorf("sluice status of a member: %v\n%s", err, out)
	}
	t.Logf("status:\n%s", out)
	out, err = exec.Command(binary, "teardown", "--config", m1Cfg, "--yes").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "3 member(s)") || !strings.Contains(string(out), "consumer group appliers") {
		t.Errorf("sluice teardown of a member: %v\n%s", err, out)
	}
	if n, _ := e.dst.QueryValue(ctx, "dwh", "SELECT count(*) FROM sluice.positions WHERE pipeline LIKE 'apply@%'"); n != "0" {
		t.Errorf("after teardown the target holds %s positions of the group", n)
	}
	bad := filepath.Join(e.dir, "bad.yaml")
	text, _ := os.ReadFile(m1Cfg)
	os.WriteFile(bad, []byte(strings.Replace(string(text), `"crm\\.public\\..*"`, "crm.public.no_such_table", 1)), 0o600)
	if out, err := exec.Command(binary, "check", "--config", bad).CombinedOutput(); err == nil || !strings.Contains(string(out), "topic crm.public.no_such_table does not exist") {
		t.Errorf("sluice check with a missing topic: %v\n%s", err, out)
	}
}

func tailText(s string) string {
	if len(s) > 8000 {
		return "..." + s[len(s)-8000:]
	}
	return s
}
