package kafka

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	_ "github.com/go-sql-driver/mysql" // the driver of the checks

	"github.com/sluicecdc/sluice/internal/kafkatest"
	"github.com/sluicecdc/sluice/internal/mytest"
	"github.com/sluicecdc/sluice/pkg/change"
)

const (
	sbTables    = 2
	sbTableSize = 2000
)

// auditRow is one change of an sbtest row as the source's triggers
// recorded it, inside the changing transaction: op c, u or d, and the
// after-image's k and c (NULL for a delete).
type auditRow struct {
	op string
	k  sql.NullInt64
	c  sql.NullString
}

// TestMariaDBKill9 publishes a sysbench oltp_write_only load on MariaDB
// with exactly_once while sluice is killed with SIGKILL three times and
// the broker restarts once (cleanly); then, read_committed:
//   - each sbtest key's events are its snapshot read followed by exactly
//     the changes the source made to it, in commit order, with the same
//     after-images: triggers record every row change (op, k, c) in
//     app.audit, in the changing transaction, and per key the audit's
//     auto-increment order is the commit order (row locks serialize the
//     transactions that change one key);
//   - no change is in the topics twice (its binlog file, position and
//     row appear once), and each key's changes are in binlog order;
//   - folding the topics gives the source tables row for row, the keyless
//     app.audit included.
func TestMariaDBKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	if _, err := exec.LookPath("sysbench"); err != nil {
		t.Fatal("sysbench is not installed (apt-get install sysbench; make deps does it)")
	}
	ctx := context.Background()
	began := time.Now()
	phase := func(what string) { t.Logf("%s at %s", what, time.Since(began).Round(100*time.Millisecond)) }
	srv := mytest.Start(t, mytest.Options{})
	if err := srv.Exec(ctx, "CREATE DATABASE app"); err != nil {
		t.Fatal(err)
	}
	sysbench := func(args ...string) *exec.Cmd {
		return exec.Command("sysbench", append([]string{"oltp_write_only",
			"--db-driver=mysql", "--mysql-host=127.0.0.1", "--mysql-port=" + strconv.Itoa(srv.Port),
			"--mysql-user=root", "--mysql-password=", "--mysql-db=app",
			"--tables=" + strconv.Itoa(sbTables), "--table-size=" + strconv.Itoa(sbTableSize)}, args...)...)
	}
	if out, err := sysbench("prepare").CombinedOutput(); err != nil {
		t.Fatalf("sysbench prepare: %v\n%s", err, out)
	}
	// The audit table has no primary key: it is also the keyless table
	// whose fold must equal the source (a replayed or lost change is an
	// extra or a missing row).
	ddl := []string{"CREATE TABLE app.audit (seq bigint NOT NULL AUTO_INCREMENT, tbl varchar(10) NOT NULL, id int NOT NULL, " +
		"op char(1) NOT NULL, k int, c char(120), KEY (seq))", "CREATE TABLE app.done_marker (id int PRIMARY KEY)"}
	for i := 1; i <= sbTables; i++ {
		tbl := "sbtest" + strconv.Itoa(i)
		ddl = append(ddl,
			fmt.Sprintf("CREATE TRIGGER app.%[1]s_c AFTER INSERT ON app.%[1]s FOR EACH ROW INSERT INTO app.audit (tbl, id, op, k, c) VALUES ('%[1]s', NEW.id, 'c', NEW.k, NEW.c)", tbl),
			fmt.Sprintf("CREATE TRIGGER app.%[1]s_u AFTER UPDATE ON app.%[1]s FOR EACH ROW INSERT INTO app.audit (tbl, id, op, k, c) VALUES ('%[1]s', NEW.id, 'u', NEW.k, NEW.c)", tbl),
			fmt.Sprintf("CREATE TRIGGER app.%[1]s_d AFTER DELETE ON app.%[1]s FOR EACH ROW INSERT INTO app.audit (tbl, id, op) VALUES ('%[1]s', OLD.id, 'd')", tbl))
	}
	for _, q := range ddl {
		if err := srv.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	db, err := sql.Open("mysql", srv.DriverDSN("app"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	phase("source prepared")
	b := kafkatest.Start(t)
	phase("broker up")
	run := newSluiceRun(t, fmt.Sprintf(`name: maria
source:
  kind: mysql
  dsn: %s
  tables: ["app.*"]
  mysql:
    server_id: 4242
sink:
  kind: kafka
  kafka:
    brokers: [%q]
    topic_prefix: crm
    schemas: false
    create_topics: {partitions: 3}
checkpoint:
  path: CHECKPOINT
log:
  level: info
`, srv.DSN("app"), b.Addr()))

	p := run.start()
	waitLog(t, p, "snapshot done", 90*time.Second)
	phase("snapshot done")
	// A steady rate keeps the topics small enough to read back quickly;
	// four threads on 2,000 rows still collide on keys (sysbench retries
	// deadlocks, whose changes the rollback undoes, triggers' included).
	load := sysbench("--threads=4", "--rate=400", "--time=18", "--report-interval=0", "run")
	var loadOut strings.Builder
	load.Stdout, load.Stderr = &loadOut, &loadOut
	if err := load.Start(); err != nil {
		t.Fatal(err)
	}
	loadDone := make(chan error, 1)
	go func() { loadDone <- load.Wait() }()
	for i := 1; i <= 3; i++ {
		d := time.Duration(800+rand.IntN(2000)) * time.Millisecond
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
		select {
		case err := <-loadDone:
			t.Fatalf("sysbench ended (%v) before kill %d: the kills are not under load\n%s", err, i, loadOut.String())
		default:
		}
		p.Kill9()
		t.Logf("kill -9 #%d after %s", i, d)
		p = run.start()
	}
	if err := <-loadDone; err != nil {
		t.Fatalf("sysbench: %v\n%s", err, loadOut.String())
	}
	phase("load done")
	if _, err := db.ExecContext(ctx, "INSERT INTO done_marker VALUES (1)"); err != nil {
		t.Fatal(err)
	}
	waitTopic(t, b, p, "crm.app.done_marker", 1, 120*time.Second)
	p.Stop(t)
	phase("caught up")
	defer phase("checked")

	// The source's changes per key, in commit order.
	audit := map[string]map[string][]auditRow{}
	rows, err := db.QueryContext(ctx, "SELECT tbl, id, op, k, c FROM audit ORDER BY seq")
	if err != nil {
		t.Fatal(err)
	}
	nAudit := 0
	for rows.Next() {
		var tbl, id string
		var r auditRow
		if err := rows.Scan(&tbl, &id, &r.op, &r.k, &r.c); err != nil {
			t.Fatal(err)
		}
		if audit[tbl] == nil {
			audit[tbl] = map[string][]auditRow{}
		}
		audit[tbl][id] = append(audit[tbl][id], r)
		nAudit++
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	rows.Close()
	t.Logf("%d source row changes in the sbtest tables", nAudit)
	if nAudit < 1000 {
		t.Errorf("only %d changes: the load did not run", nAudit)
	}

	seen := map[order]string{} // every streamed change's binlog file, position and row
	once := func(topic string, evs []event) {
		for _, e := range evs {
			if e.Op == "r" {
				continue
			}
			o := orderOf(t, e)
			if prev, ok := seen[o]; ok {
				t.Errorf("%s: the change at %+v is in the topics twice (also in %s)", topic, o, prev)
			}
			seen[o] = topic
		}
	}
	for i := 1; i <= sbTables; i++ {
		tbl := "sbtest" + strconv.Itoa(i)
		topic := "crm.app." + tbl
		byKey, msgs := topicStats(t, b, topic)
		keys := map[string]bool{}
		bad := 0
		for key, evs := range byKey {
			once(topic, evs)
			id := strings.TrimSuffix(strings.TrimPrefix(key, `{"id":`), "}")
			keys[id] = true
			if msg := sameChanges(id, evs, audit[tbl][id]); msg != "" && bad < 5 {
				t.Errorf("%s id %s: %s", tbl, id, msg)
				bad++
			}
		}
		for id := range audit[tbl] {
			if !keys[id] && bad < 5 {
				t.Errorf("%s id %s: %d changes in the source, no event", tbl, id, len(audit[tbl][id]))
				bad++
			}
		}
		equalRows(t, "app."+tbl, fold(t, msgs, false).Rows(change.TableID{Schema: "app", Name: tbl}),
			mariaRows(t, db, "SELECT CONCAT_WS('|', id, k, c, pad) FROM "+tbl))
	}
	auditEvents, msgs := topicStats(t, b, "crm.app.audit")
	once("crm.app.audit", auditEvents[""])
	if n := sumLen(auditEvents); n != nAudit {
		t.Errorf("app.audit: %d events, the source has %d rows", n, nAudit)
	}
	equalRows(t, "app.audit", fold(t, msgs, false).Rows(change.TableID{Schema: "app", Name: "audit"}),
		mariaRows(t, db, "SELECT CONCAT_WS('|', seq, tbl, id, op, IFNULL(k, '∅'), IFNULL(c, '∅')) FROM audit"))

	// sluice check and teardown work with the kafka sink. (The MySQL
	// source's check reports app.audit, which has no primary key, whatever
	// the sink: the only problem allowed.)
	check := run.command("check", "--config", run.cfg)
	check.Wait(t, time.Minute) //nolint:errcheck // the output tells
	for _, line := range strings.Split(check.Log(), "\n") {
		if strings.HasPrefix(line, "problem:") && !strings.Contains(line, "source table app.audit has no primary key") {
			t.Errorf("sluice check: %s", line)
		}
	}
	down := run.command("teardown", "--yes", "--config", run.cfg)
	if err := down.Wait(t, time.Minute); err != nil || !strings.Contains(down.Log(), "dropped target: progress record of pipeline maria") {
		t.Errorf("sluice teardown: %v\n%s", err, down.Log())
	}
}

// sameChanges compares a key's events with the source's changes to it:
// the snapshot read of a row sysbench prepared, then one event per change,
// in the same order, with the same op and after-image. It describes the
// first difference, or returns "".
func sameChanges(id string, evs []event, want []auditRow) string {
	if n, _ := strconv.Atoi(id); n >= 1 && n <= sbTableSize {
		if len(evs) == 0 || evs[0].Op != "r" {
			return "no snapshot read first"
		}
		evs = evs[1:]
	}
	for i, e := range evs {
		if i >= len(want) {
			return fmt.Sprintf("%d events after the snapshot, the source made %d changes (event %d: %s at %s/%s/%s)",
				len(evs), len(want), i, e.Op, e.Source.File, e.Source.Pos, e.Source.Row)
		}
		w := want[i]
		if e.Op != w.op {
			return fmt.Sprintf("change %d: op %s, the source's is %s (%d events, %d changes)", i, e.Op, w.op, len(evs), len(want))
		}
		if w.op == "d" {
			continue
		}
		if k := fmt.Sprint(e.After["k"]); k != strconv.FormatInt(w.k.Int64, 10) || e.After["c"] != w.c.String {
			return fmt.Sprintf("change %d (%s): after k=%s c=%v, the source's k=%d c=%s", i, e.Op, k, e.After["c"], w.k.Int64, w.c.String)
		}
	}
	if len(evs) < len(want) {
		return fmt.Sprintf("%d events after the snapshot, the source made %d changes: some are missing", len(evs), len(want))
	}
	return ""
}

func mariaRows(t *testing.T, db *sql.DB, q string) []string {
	t.Helper()
	rows, err := db.Query(q)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	slices.Sort(out)
	return out
}
