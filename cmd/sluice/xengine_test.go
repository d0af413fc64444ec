package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// directions are the engine pairs of the cross-engine tests; the
// PostgreSQL → PostgreSQL path has its own tests.
var directions = []struct{ src, dst string }{
	{"mysql", "mysql"},
	{"mysql", "postgres"},
	{"postgres", "mysql"},
}

// TestCrossEngineSnapshotAndStream copies existing rows, then streams
// inserts, updates (also of the key), deletes, a keyless table with
// duplicate rows, a composite key and a truncate, in every direction.
func TestCrossEngineSnapshotAndStream(t *testing.T) {
	for _, d := range directions {
		t.Run(d.src+"_to_"+d.dst, func(t *testing.T) {
			t.Parallel()
			x := newXEnv(t, d.src, d.dst, "batch:\n  rows: 500\n")
			schema := "app"
			ddl := []string{
				"CREATE TABLE %s.items (id int PRIMARY KEY, name varchar(40) NOT NULL, qty int, price decimal(12,2))",
				"CREATE TABLE %s.pairs (a int, b varchar(10), v text, PRIMARY KEY (a, b))",
				"CREATE TABLE %s.notes (n int, body varchar(20))",
				"CREATE TABLE %s.gone (id int PRIMARY KEY, v int)",
			}
			if d.src == "postgres" {
				schema = "public"
			}
			for _, q := range ddl {
				x.from.exec(t, fmt.Sprintf(q, schema))
			}
			if d.src == "postgres" {
				x.from.exec(t, "ALTER TABLE public.notes REPLICA IDENTITY FULL")
			}
			var ins []string
			for i := 1; i <= 2000; i++ {
				ins = append(ins, fmt.Sprintf("(%d, 'item %d', %d, %d.%02d)", i, i, i%7, i, i%100))
			}
			x.from.exec(t, fmt.Sprintf("INSERT INTO %s.items VALUES %s", schema, strings.Join(ins, ",")))
			x.from.exec(t, fmt.Sprintf("INSERT INTO %s.pairs VALUES (1,'a','x'),(1,'b','y'),(2,'a',NULL)", schema))
			x.from.exec(t, fmt.Sprintf("INSERT INTO %s.notes VALUES (1,'dup'),(1,'dup'),(2,'one')", schema))
			x.from.exec(t, fmt.Sprintf("INSERT INTO %s.gone VALUES (1,1),(2,2)", schema))
			tables := []string{schema + ".items", schema + ".pairs", schema + ".notes", schema + ".gone"}

			p := x.start()
			x.waitSame(60*time.Second, p, tables...)

			stmts := []string{
				"UPDATE %s.items SET qty = qty + 100 WHERE id %% 3 = 0",
				"DELETE FROM %s.items WHERE id %% 5 = 0",
				"UPDATE %s.items SET id = id + 10000 WHERE id BETWEEN 1 AND 20",
				"INSERT INTO %s.items VALUES (5, 'back', NULL, NULL)",
				"UPDATE %s.pairs SET b = 'c', v = 'moved' WHERE a = 1 AND b = 'a'",
				"DELETE FROM %s.pairs WHERE a = 2",
				"UPDATE %s.notes SET body = 'changed' WHERE n = 1 AND body = 'dup' " + limitOne(d.src),
				"DELETE FROM %s.notes WHERE n = 2",
				"INSERT INTO %s.notes VALUES (3, NULL), (3, NULL)",
				"TRUNCATE TABLE %s.gone",
				"INSERT INTO %s.gone VALUES (7, 7)",
			}
			for _, q := range stmts {
				x.from.exec(t, fmt.Sprintf(q, schema))
			}
			x.waitSame(60*time.Second, p, tables...)
			p.stop(t)

			// Changes made while it is down arrive after a restart.
			x.from.exec(t, fmt.Sprintf("UPDATE %s.items SET name = 'later' WHERE id < 100", schema))
			p = x.start()
			x.waitSame(60*time.Second, p, tables...)
			p.stop(t)
		})
	}
}

func limitOne(kind string) string {
	if kind == "mysql" {
		return "LIMIT 1"
	}
	return ""
}

// TestCrashUnderSysbench kills sluice with SIGKILL several times while
// sysbench writes to a MariaDB source (the first kill during the snapshot),
// then checks every table row by row, in MariaDB and PostgreSQL targets.
// A trigger copies every update into a table without a key, where a
// replayed or lost transaction shows up as an extra or a missing row.
func TestCrashUnderSysbench(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("sysbench"); err != nil {
		t.Fatal("sysbench is not installed (apt-get install sysbench; make deps does it)")
	}
	for _, dst := range []string{"mysql", "postgres"} {
		t.Run("mysql_to_"+dst, func(t *testing.T) {
			t.Parallel()
			x := newXEnv(t, "mysql", dst, "batch:\n  rows: 2000\n")
			src := x.from.(*myEnd)
			sysbench := func(args ...string) *exec.Cmd {
				return exec.Command("sysbench", append([]string{"oltp_write_only",
					"--db-driver=mysql", "--mysql-host=127.0.0.1", "--mysql-port=" + strconv.Itoa(src.s.Port),
					"--mysql-user=root", "--mysql-password=", "--mysql-db=app",
					"--tables=3", "--table-size=20000"}, args...)...)
			}
			if out, err := sysbench("prepare").CombinedOutput(); err != nil {
				t.Fatalf("sysbench prepare: %v\n%s", err, out)
			}
			x.from.exec(t, "CREATE TABLE app.audit (id int, k int, at_seq bigint)")
			x.from.exec(t, "CREATE TRIGGER app.sbtest1_audit AFTER UPDATE ON app.sbtest1 FOR EACH ROW INSERT INTO app.audit VALUES (NEW.id, NEW.k, 1)")
			// Large transactions arrive in parts while they are read: a kill
			// in the middle of one must neither lose nor double any of it.
			x.from.exec(t, "CREATE TABLE app.bulk (id int PRIMARY KEY, v int, pad varchar(100)); CREATE TABLE app.bulklog (n int, v int)")
			bulkStop := make(chan struct{})
			bulkDone := make(chan error, 1)
			go func() {
				ctx := context.Background()
				for i := 0; ; i++ {
					select {
					case <-bulkStop:
						bulkDone <- nil
						return
					case <-time.After(300 * time.Millisecond):
					}
					err := src.s.Exec(ctx, fmt.Sprintf(`BEGIN;
						INSERT INTO app.bulk SELECT seq + %d, seq, REPEAT('b', 90) FROM app.seq_1_to_15000;
						UPDATE app.bulk SET v = v + 1 WHERE id %% 3 = 0;
						INSERT INTO app.bulklog SELECT %d, seq %% 10 FROM app.seq_1_to_12000;
						COMMIT`, i*15000, i))
					if err != nil {
						bulkDone <- err
						return
					}
				}
			}()
			load := sysbench("--threads=4", "--time=25", "--report-interval=0", "run")
			out := &limitedBuffer{}
			load.Stdout, load.Stderr = out, out
			if err := load.Start(); err != nil {
				t.Fatal(err)
			}
			loadDone := make(chan error, 1)
			go func() { loadDone <- load.Wait() }()

			kills := []time.Duration{400 * time.Millisecond}
			for i := 0; i < 4; i++ {
				kills = append(kills, time.Duration(1500+rand.IntN(3000))*time.Millisecond)
			}
			for i, d := range kills {
				p := x.start()
				time.Sleep(d)
				select {
				case err := <-p.done:
					t.Fatalf("sluice exited on its own (%v) before kill %d; log:\n%s", err, i+1, p.logText())
				default:
				}
				p.kill9()
				t.Logf("kill -9 #%d after %v", i+1, d)
			}
			p := x.start()
			if err := <-loadDone; err != nil {
				t.Fatalf("sysbench: %v\n%s", err, out.String())
			}
			close(bulkStop)
			if err := <-bulkDone; err != nil {
				t.Fatalf("bulk transactions: %v", err)
			}
			x.waitSame(180*time.Second, p, "app.sbtest1", "app.sbtest2", "app.sbtest3", "app.audit", "app.bulk", "app.bulklog")
			n, _ := src.s.QueryValue(context.Background(), "SELECT count(*) FROM app.audit")
			b, _ := src.s.QueryValue(context.Background(), "SELECT count(DISTINCT n) FROM app.bulklog")
			t.Logf("target equals source row for row after %d kills; the keyless audit table has %s rows; %s large transactions", len(kills), n, b)
			p.stop(t)
		})
	}
}
