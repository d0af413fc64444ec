package kafka

import (
	"context"
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

	"github.com/jackc/pgx/v5"

	"github.com/sluicecdc/sluice/internal/kafkatest"
	"github.com/sluicecdc/sluice/internal/pgtest"
	"github.com/sluicecdc/sluice/pkg/change"
)

// pgbenchColumns render each pgbench table's columns as the folded events
// show them: char(n) padded (concat keeps the padding, ::text would not),
// timestamps as Debezium's MicroTimestamp, NULL as ∅.
var pgbenchColumns = map[string][]string{
	"pgbench_accounts": {"aid", "bid", "abalance", "filler"},
	"pgbench_branches": {"bid", "bbalance", "filler"},
	"pgbench_tellers":  {"tid", "bid", "tbalance", "filler"},
	"pgbench_history":  {"tid", "bid", "aid", "delta", "(extract(epoch from mtime) * 1000000)::bigint", "filler"},
}

const tpcbScript = `\set aid random(1, 10000)
\set bid random(1, 1 * :scale)
\set tid random(1, 10 * :scale)
\set delta random(-5000, 5000)
BEGIN;
UPDATE pgbench_accounts SET abalance = abalance + :delta WHERE aid = :aid;
SELECT abalance FROM pgbench_accounts WHERE aid = :aid;
UPDATE pgbench_tellers SET tbalance = tbalance + :delta WHERE tid = :tid;
UPDATE pgbench_branches SET bbalance = bbalance + :delta WHERE bid = :bid;
INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) VALUES (:tid, :bid, :aid, :delta, CURRENT_TIMESTAMP);
END;
`

func sourceRows(t *testing.T, c *pgtest.Cluster, table string) []string {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, c.DSN("app"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var exprs []string
	for _, col := range pgbenchColumns[table] {
		exprs = append(exprs, fmt.Sprintf("CASE WHEN %[1]s IS NULL THEN '∅' ELSE concat(%[1]s) END", col))
	}
	rows, err := conn.Query(ctx, fmt.Sprintf("SELECT concat_ws('|', %s) FROM %s", strings.Join(exprs, ", "), table))
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

// TestPgbenchKill9 publishes a pgbench load with exactly_once while sluice
// is killed with SIGKILL three times and the broker restarts once; then
// every source change is in the topics once (read_committed), each key's
// changes in commit order, and folding the topics gives the source tables
// row for row.
func TestPgbenchKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	ctx := context.Background()
	began := time.Now()
	phase := func(what string) { t.Logf("%s at %s", what, time.Since(began).Round(100*time.Millisecond)) }
	src := pgtest.Start(t, pgtest.Options{})
	if err := src.CreateDB(ctx, "app"); err != nil {
		t.Fatal(err)
	}
	b := kafkatest.Start(t)
	pgbench := func(args ...string) *exec.Cmd {
		return exec.Command(src.Tool("pgbench"), append([]string{"-h", "127.0.0.1", "-p", strconv.Itoa(src.Port), "-U", "postgres"}, append(args, "app")...)...)
	}
	if out, err := pgbench("-i", "-s", "1", "-q").CombinedOutput(); err != nil {
		t.Fatalf("pgbench -i: %v\n%s", err, out)
	}
	// 10,000 accounts instead of 100,000 keep the test short; the
	// script is pgbench's tpcb-like with that range.
	if err := src.Exec(ctx, "app", "DELETE FROM pgbench_accounts WHERE aid > 10000; CREATE TABLE done_marker (id int PRIMARY KEY)"); err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(t.TempDir(), "tpcb.sql")
	if err := os.WriteFile(script, []byte(tpcbScript), 0o644); err != nil {
		t.Fatal(err)
	}
	run := newSluiceRun(t, fmt.Sprintf(`name: pgbench
source:
  kind: postgres
  dsn: %s
  tables: ["public.*"]
sink:
  kind: kafka
  kafka:
    brokers: [%q]
    topic_prefix: crm
    schemas: false
    create_topics: {partitions: 3, replication_factor: 1}
checkpoint:
  path: CHECKPOINT
log:
  level: info
`, src.DSN("app"), b.Addr()))

	phase("source ready")
	p := run.start()
	waitLog(t, p, "snapshot done", 90*time.Second)
	phase("snapshot done")
	load := pgbench("-n", "-c", "4", "-j", "2", "-T", "15", "-f", script)
	var loadOut strings.Builder
	load.Stdout, load.Stderr = &loadOut, &loadOut
	if err := load.Start(); err != nil {
		t.Fatal(err)
	}
	loadDone := make(chan error, 1)
	go func() { loadDone <- load.Wait() }()
	for i := 1; i <= 3; i++ {
		d := time.Duration(1000+rand.IntN(2500)) * time.Millisecond
		time.Sleep(d)
		if i == 2 { // the broker restarts under the running sluice
			if err := b.Stop(); err != nil {
				t.Fatal(err)
			}
			time.Sleep(500 * time.Millisecond)
			if err := b.Start(); err != nil {
				t.Fatal(err)
			}
			t.Logf("broker restarted")
			time.Sleep(time.Duration(500+rand.IntN(1500)) * time.Millisecond)
		}
		if exited, err := p.Exited(); exited {
			t.Fatalf("sluice exited (%v) before kill %d; log:\n%s", err, i, tail(p.Log()))
		}
		p.Kill9()
		t.Logf("kill -9 #%d after %s", i, d)
		p = run.start()
	}
	if err := <-loadDone; err != nil {
		t.Fatalf("pgbench: %v\n%s", err, loadOut.String())
	}
	phase("load done")
	if err := src.Exec(ctx, "app", "INSERT INTO done_marker VALUES (1)"); err != nil {
		t.Fatal(err)
	}
	waitTopic(t, b, p, "crm.public.done_marker", 1, 120*time.Second)
	p.Stop(t)
	phase("caught up")
	defer phase("checked")

	history, _ := src.QueryValue(ctx, "app", "SELECT count(*) FROM pgbench_history")
	t.Logf("pgbench_history has %s rows", history)
	streamed := map[string]map[string]int{"aid": {}, "tid": {}, "bid": {}} // pgbench transactions after the snapshot, by the key they update
	hist, msgs := topicStats(t, b, "crm.public.pgbench_history")
	checkFold(t, src, "pgbench_history", msgs)
	for _, e := range hist[""] {
		if e.Op == "c" {
			for col := range streamed {
				streamed[col][fmt.Sprint(e.After[col])]++
			}
		}
	}
	if n, _ := strconv.Atoi(history); sumLen(hist) != n {
		t.Errorf("pgbench_history: %d events, the source has %d rows: a change is missing or doubled", sumLen(hist), n)
	}
	for table, col := range map[string]string{"pgbench_accounts": "aid", "pgbench_tellers": "tid", "pgbench_branches": "bid"} {
		byKey, msgs := topicStats(t, b, "crm.public."+table)
		checkFold(t, src, table, msgs)
		bad := 0
		for key, evs := range byKey {
			reads, updates := 0, 0
			for _, e := range evs {
				switch e.Op {
				case "r":
					reads++
				case "u":
					updates++
				}
			}
			id := strings.TrimSuffix(strings.TrimPrefix(key, `{"`+col+`":`), "}")
			if want := streamed[col][id]; (reads != 1 || updates != want || reads+updates != len(evs)) && bad < 5 {
				t.Errorf("%s key %s: %d snapshot reads and %d updates (of %d events), want 1 and %d", table, key, reads, updates, len(evs), want)
				bad++
			}
		}
	}
}

// checkFold compares the folded topic with the source table.
func checkFold(t *testing.T, src *pgtest.Cluster, table string, msgs []kafkatest.Message) {
	t.Helper()
	got := fold(t, msgs, false).Rows(change.TableID{Schema: "public", Name: table})
	equalRows(t, table, got, sourceRows(t, src, table))
}
