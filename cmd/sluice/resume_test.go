package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestTargetRestoredFromBackup rolls the target back to a dump taken
// earlier, while Sluice is stopped: the checkpoint file is then ahead of
// the target. The target's own position says where to read on. A MariaDB
// source still has the lost changes in its binlog: Sluice reads them again
// and the target ends equal. A PostgreSQL slot has released them: Sluice
// must stop with the recovery instead of skipping them, and --resnapshot
// makes the target equal again.
func TestTargetRestoredFromBackup(t *testing.T) {
	for _, src := range []string{"mysql", "postgres"} {
		t.Run(src+"_to_postgres", func(t *testing.T) {
			t.Parallel()
			x := newXEnv(t, src, "postgres", "")
			schema := "public"
			if src == "mysql" {
				schema = "app"
			}
			acct, log := schema+".acct", schema+".log"
			x.from.exec(t, "CREATE TABLE "+acct+" (id int PRIMARY KEY, bal int)")
			x.from.exec(t, "CREATE TABLE "+log+" (n int, note varchar(20))") // no key: doubles would show
			x.from.exec(t, "INSERT INTO "+acct+" SELECT g, 100 FROM "+series(src, 1, 200))
			x.from.exec(t, "INSERT INTO "+log+" SELECT g, 'before' FROM "+series(src, 1, 50))
			p := x.start()
			x.waitSame(60*time.Second, p, acct, log)

			dst := x.to.(*pgEnd)
			dump := filepath.Join(x.dir, "dwh.dump")
			if out, err := exec.Command(dst.c.Tool("pg_dump"), "-Fc", "-f", dump, "-d", dst.dsn()).CombinedOutput(); err != nil {
				t.Fatalf("pg_dump: %v\n%s", err, out)
			}
			// Changes the restored target will have lost.
			x.from.exec(t, "UPDATE "+acct+" SET bal = bal + 1 WHERE id <= 50")
			x.from.exec(t, "DELETE FROM "+acct+" WHERE id > 180")
			x.from.exec(t, "INSERT INTO "+acct+" SELECT g, 7 FROM "+series(src, 1000, 1100))
			x.from.exec(t, "INSERT INTO "+log+" SELECT g, 'lost' FROM "+series(src, 1, 30))
			x.waitSame(60*time.Second, p, acct, log)
			if src == "postgres" { // the slot releases what the target has
				waitConfirmed(t, x.from.(*pgEnd), x.to.(*pgEnd))
			}
			p.stop(t) // the checkpoint file now holds the newest position

			ctx := context.Background()
			if err := dst.c.Exec(ctx, "postgres", "DROP DATABASE dwh WITH (FORCE)"); err != nil {
				t.Fatal(err)
			}
			if err := dst.c.CreateDB(ctx, "dwh"); err != nil {
				t.Fatal(err)
			}
			if out, err := exec.Command(dst.c.Tool("pg_restore"), "-d", dst.dsn(), dump).CombinedOutput(); err != nil {
				t.Fatalf("pg_restore: %v\n%s", err, out)
			}
			if n, _ := dst.c.QueryValue(ctx, "dwh", "SELECT count(*) FROM "+log); n != "50" {
				t.Fatalf("the restored target has %s log rows, want the 50 of the dump", n)
			}
			x.from.exec(t, "INSERT INTO "+acct+" VALUES (5000, 1)")

			p = x.start()
			if src == "mysql" {
				x.waitSame(60*time.Second, p, acct, log)
				if !strings.Contains(p.logText(), "the target is behind the checkpoint file") {
					t.Fatalf("want a warning that the target lost commits; log:\n%s", p.logText())
				}
				p.stop(t)
				return
			}
			select {
			case err := <-p.done:
				text := p.logText()
				if err == nil || !strings.Contains(text, "--resnapshot") || !strings.Contains(text, "lost commits") {
					t.Fatalf("want a non-zero exit naming the lost commits and --resnapshot, got %v; log:\n%s", err, text)
				}
			case <-time.After(60 * time.Second):
				t.Fatalf("sluice went on over a target that lost commits; log:\n%s", p.logText())
			}
			p = x.start("--resnapshot")
			x.waitSame(60*time.Second, p, acct, log)
			p.stop(t)
		})
	}
}

// TestMySQLTargetRestoredFromBackup is the same with a MariaDB target (as
// after innodb_flush_log_at_trx_commit=2 lost commits in a crash, or a
// restore): mariadb-dump of the target, changes, stop, the dump restored,
// restart. The target's own position wins over the file's: the MariaDB
// source reads the lost changes again and the target ends equal, keyless
// table included (no doubled rows).
func TestMySQLTargetRestoredFromBackup(t *testing.T) {
	t.Parallel()
	x := newXEnv(t, "mysql", "mysql", "")
	acct, log := "app.acct", "app.log"
	x.from.exec(t, "CREATE TABLE "+acct+" (id int PRIMARY KEY, bal int)")
	x.from.exec(t, "CREATE TABLE "+log+" (n int, note varchar(20))") // no key: doubles would show
	x.from.exec(t, "INSERT INTO "+acct+" SELECT g, 100 FROM "+series("mysql", 1, 200))
	x.from.exec(t, "INSERT INTO "+log+" SELECT g, 'before' FROM "+series("mysql", 1, 50))
	p := x.start()
	x.waitSame(60*time.Second, p, acct, log)

	dst := x.to.(*myEnd).s
	dump := filepath.Join(x.dir, "dwh.sql")
	conn := []string{"--protocol=tcp", "-h", "127.0.0.1", "-P", strconv.Itoa(dst.Port), "-u", "root"}
	out, err := exec.Command("mariadb-dump", append(conn, "--single-transaction", "--databases", "app", "sluice", "--result-file="+dump)...).CombinedOutput()
	if err != nil {
		t.Fatalf("mariadb-dump: %v\n%s", err, out)
	}
	// Changes the restored target will have lost.
	x.from.exec(t, "UPDATE "+acct+" SET bal = bal + 1 WHERE id <= 50")
	x.from.exec(t, "DELETE FROM "+acct+" WHERE id > 180")
	x.from.exec(t, "INSERT INTO "+acct+" SELECT g, 7 FROM "+series("mysql", 1000, 1100))
	x.from.exec(t, "INSERT INTO "+log+" SELECT g, 'lost' FROM "+series("mysql", 1, 30))
	x.waitSame(60*time.Second, p, acct, log)
	p.stop(t) // the checkpoint file now holds the newest position

	ctx := context.Background()
	if err := dst.Exec(ctx, "DROP DATABASE app"); err != nil {
		t.Fatal(err)
	}
	if err := dst.Exec(ctx, "DROP DATABASE sluice"); err != nil {
		t.Fatal(err)
	}
	restore := exec.Command("mariadb", conn...)
	f, err := os.Open(dump)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	restore.Stdin = f
	if out, err := restore.CombinedOutput(); err != nil {
		t.Fatalf("restore: %v\n%s", err, out)
	}
	if n, _ := dst.QueryValue(ctx, "SELECT count(*) FROM "+log); n != "50" {
		t.Fatalf("the restored target has %s log rows, want the 50 of the dump", n)
	}
	x.from.exec(t, "INSERT INTO "+acct+" VALUES (5000, 1)")

	p = x.start()
	x.waitSame(60*time.Second, p, acct, log)
	if !strings.Contains(p.logText(), "the target is behind the checkpoint file") {
		t.Fatalf("want a warning that the target lost commits; log:\n%s", p.logText())
	}
	p.stop(t)
}

// series is a FROM clause yielding column g from lo to hi in either engine.
func series(engine string, lo, hi int) string {
	if engine == "mysql" {
		return sprintf("(SELECT seq AS g FROM app.seq_%d_to_%d) s", lo, hi)
	}
	return sprintf("generate_series(%d, %d) g", lo, hi)
}

// waitConfirmed waits until the slot has confirmed the position the
// target holds: the server then no longer sends what came before.
func waitConfirmed(t *testing.T, src, dst *pgEnd) {
	t.Helper()
	ctx := context.Background()
	lsn, err := dst.c.QueryValue(ctx, dst.db, "SELECT position FROM sluice.positions WHERE pipeline = 'test'")
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		ok, err := src.c.QueryValue(ctx, src.db, "SELECT confirmed_flush_lsn >= '"+lsn+"' FROM pg_replication_slots WHERE slot_name = 'sluice_test'")
		if err != nil {
			t.Fatal(err)
		}
		if ok == "t" {
			return
		}
		if time.Now().After(deadline) {
			v, _ := src.c.QueryValue(ctx, src.db, "SELECT confirmed_flush_lsn::text || ' ' || restart_lsn::text || ' ' || active::text FROM pg_replication_slots")
			t.Fatalf("the slot did not confirm %s: %s", lsn, v)
		}
	}
}

// TestHalfSnapshotThenSnapshotNever kills sluice during its initial copy,
// then restarts it with source.snapshot: never. Streaming over the partial
// copy would leave the target short of rows for good: it must refuse with
// the recovery, exit non-zero and write nothing.
func TestHalfSnapshotThenSnapshotNever(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "")
	e.srcExec(`CREATE TABLE big (id int PRIMARY KEY, pad text);
		INSERT INTO big SELECT g, repeat('x', 200) FROM generate_series(1, 400000) g;`)
	// One snapshot reader: the table's three chunks are copied one after
	// the other, so the kill after the first commit lands mid-copy (with
	// parallel readers all of them could commit before the kill).
	one, err := os.ReadFile(e.cfg)
	if err != nil {
		t.Fatal(err)
	}
	one = []byte(strings.Replace(string(one), `  tables: ["public.*"]`, "  tables: [\"public.*\"]\n  postgres:\n    snapshot_workers: 1", 1))
	if err := os.WriteFile(e.cfg, one, 0o600); err != nil {
		t.Fatal(err)
	}
	p := e.start()
	ctx := context.Background()
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		n, _ := e.dst.QueryValue(ctx, "dwh", "SELECT count(*) FROM big")
		if n != "" && n != "0" {
			break // the copy is under way
		}
		if time.Now().After(deadline) {
			t.Fatalf("the copy did not start; log:\n%s", p.logText())
		}
	}
	p.kill9()
	cp, err := os.ReadFile(filepath.Join(e.dir, "test.checkpoint"))
	if err != nil || !strings.Contains(string(cp), `"phase": "snapshot"`) {
		t.Fatalf("want a checkpoint in phase snapshot after the kill, got %s (%v)", cp, err)
	}
	// The killed process's last chunk commits may still be in the target
	// server's receive buffer: it finishes them after the kill. Count the
	// rows once no session of the killed process is left.
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		n, err := e.dst.QueryValue(ctx, "dwh", `SELECT count(*) FROM pg_stat_activity
			WHERE datname = 'dwh' AND backend_type = 'client backend' AND pid <> pg_backend_pid()`)
		if err == nil && n == "0" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the killed sluice's target sessions did not end within 60s (%s left, %v)", n, err)
		}
	}
	before, _ := e.dst.QueryValue(ctx, "dwh", "SELECT count(*) FROM big")
	cfg, err := os.ReadFile(e.cfg)
	if err != nil {
		t.Fatal(err)
	}
	never := strings.Replace(string(cfg), `  tables: ["public.*"]`, "  tables: [\"public.*\"]\n  snapshot: never", 1)
	if err := os.WriteFile(e.cfg, []byte(never), 0o600); err != nil {
		t.Fatal(err)
	}
	e.srcExec("INSERT INTO big VALUES (0, 'after')")
	p = e.start()
	select {
	case err := <-p.done:
		text := p.logText()
		if err == nil || !strings.Contains(text, "did not finish") || !strings.Contains(text, "--resnapshot") {
			t.Fatalf("want a non-zero exit naming the unfinished snapshot and --resnapshot, got %v; log:\n%s", err, text)
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("sluice streamed over a half copy; log:\n%s", p.logText())
	}
	if after, _ := e.dst.QueryValue(ctx, "dwh", "SELECT count(*) FROM big"); after != before {
		t.Fatalf("the target changed from %s to %s rows after the refusal", before, after)
	}
	p = e.start("--resnapshot")
	e.waitEqual(120*time.Second, p, "big")
	p.stop(t)
}

// SIGTERM while the initial snapshot copies is a clean stop (exit 0, as
// at any other moment): the checkpoint still says the snapshot did not
// finish, and the next run copies again and ends equal.
func TestSigtermDuringSnapshot(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "")
	e.srcExec(`CREATE TABLE big (id int PRIMARY KEY, pad text);
		INSERT INTO big SELECT g, repeat('x', 200) FROM generate_series(1, 300000) g;`)
	cfg, err := os.ReadFile(e.cfg)
	if err != nil {
		t.Fatal(err)
	}
	one := strings.Replace(string(cfg), `  tables: ["public.*"]`, "  tables: [\"public.*\"]\n  postgres:\n    snapshot_workers: 1", 1)
	if err := os.WriteFile(e.cfg, []byte(one), 0o600); err != nil {
		t.Fatal(err)
	}
	p := e.start()
	ctx := context.Background()
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if n, _ := e.dst.QueryValue(ctx, "dwh", "SELECT count(*) FROM big"); n != "" && n != "0" {
			break // the copy is under way
		}
		if time.Now().After(deadline) {
			t.Fatalf("the copy did not start; log:\n%s", p.logText())
		}
	}
	p.stop(t) // fails the test unless sluice exits 0
	if !strings.Contains(p.logText(), "the next run starts it again") {
		t.Fatalf("want the stop during the snapshot logged; log:\n%s", p.logText())
	}
	cp, err := os.ReadFile(filepath.Join(e.dir, "test.checkpoint"))
	if err != nil || !strings.Contains(string(cp), `"phase": "snapshot"`) {
		t.Fatalf("want a checkpoint in phase snapshot after the stop, got %s (%v)", cp, err)
	}
	e.srcExec("INSERT INTO big VALUES (0, 'after'); UPDATE big SET pad = 'changed' WHERE id = 7")
	p = e.start()
	e.waitEqual(120*time.Second, p, "big")
	p.stop(t)
}
