package main

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/sluicecdc/sluice/pkg/change"
	"github.com/sluicecdc/sluice/pkg/metrics"
	"github.com/sluicecdc/sluice/pkg/signal"
)

// newSignalEnv is a backfillEnv with source.snapshot_signals on, the
// signal table created on the source and a damaged-able orders table.
func newSignalEnv(t *testing.T) *backfillEnv {
	e := newBackfillEnv(t, "initial")
	b, err := os.ReadFile(e.cfg)
	if err != nil {
		t.Fatal(err)
	}
	cfg := strings.Replace(string(b), "  snapshot: initial\n", "  snapshot: initial\n  snapshot_signals: true\n", 1)
	if err := os.WriteFile(e.cfg, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	e.srcExec(signal.CreateTable("postgres", change.TableID{Schema: "public", Name: "sluice_signals"}) + `;
		CREATE TABLE orders (id int PRIMARY KEY, customer text, total numeric(12,2));
		INSERT INTO orders SELECT g, 'c' || (g % 97), g * 1.5 FROM generate_series(1, 20000) g;
		CREATE TABLE events (id bigserial PRIMARY KEY, what text);
		CREATE TABLE nokey (v int); ALTER TABLE nokey REPLICA IDENTITY FULL`)
	return e
}

// damage makes the target's orders differ from the source's.
func (e *backfillEnv) damage() {
	e.t.Helper()
	e.dstExec(`DELETE FROM orders WHERE id % 10 = 3;
		UPDATE orders SET total = -1 WHERE id % 10 = 4;
		INSERT INTO orders VALUES (100001, 'ghost', 0)`)
	s, _ := rows(e.t, e.src.DSN("app"), "orders")
	d, _ := rows(e.t, e.dst.DSN("dwh"), "orders")
	if diffRows(s, d) == "" {
		e.t.Fatal("the damage did not take")
	}
}

func (e *backfillEnv) targetHas(table string) bool {
	e.t.Helper()
	n, err := e.dst.QueryValue(context.Background(), "dwh", "SELECT count(*) FROM pg_tables WHERE tablename = '"+table+"'")
	if err != nil {
		e.t.Fatal(err)
	}
	return n != "0"
}

// TestSignalBackfill: a row inserted into the signal table re-copies a
// damaged target table; the signal table never reaches the target; bad
// signals are logged, naming the row and the problem, and replication
// goes on.
func TestSignalBackfill(t *testing.T) {
	t.Parallel()
	e := newSignalEnv(t)
	out, err := exec.Command(binary, "check", "--config", e.cfg).CombinedOutput()
	if strings.Contains(string(out), "sluice_signals") {
		t.Errorf("sluice check with the signal table in place: %v\n%s", err, out)
	}
	// A missing signal table: check names the statement to run.
	cmd := exec.Command(binary, "check", "--config", e.cfg)
	cmd.Env = append(os.Environ(), "SLUICE_SOURCE_SIGNAL_TABLE=public.nosignals")
	out, _ = cmd.CombinedOutput()
	if !strings.Contains(string(out), "public.nosignals does not exist") || !strings.Contains(string(out), `CREATE TABLE "public"."nosignals"`) {
		t.Errorf("sluice check without the signal table does not say how to create it:\n%s", out)
	}
	p := e.startWith()
	e.waitStatus(p, 60*time.Second, "streaming", streaming)
	e.waitEqual(60*time.Second, p, "orders")
	e.damage()
	e.srcExec(`INSERT INTO sluice_signals (table_name) VALUES ('public.orders')`)
	e.waitStatus(p, 120*time.Second, "the end of the signalled re-copy", func(s metrics.Status) bool {
		_, done := backfillRows(s, "public.orders")
		return done
	})
	e.waitEqual(60*time.Second, p, "orders")

	// --where through the where_clause column.
	e.dstExec(`UPDATE orders SET total = -2 WHERE id > 19000`)
	e.srcExec(`INSERT INTO sluice_signals (table_name, where_clause) VALUES ('public.orders', 'id > 19000')`)
	e.waitEqual(60*time.Second, p, "orders")

	// Bad signals: logged with their row id, and streaming goes on.
	e.srcExec(`INSERT INTO sluice_signals (table_name) VALUES ('public.nosuch');
		INSERT INTO sluice_signals (table_name) VALUES ('public.nokey');
		INSERT INTO sluice_signals (table_name, where_clause) VALUES ('public.orders', 'nosuch > 1');
		INSERT INTO sluice_signals (table_name) VALUES ('other.orders');
		INSERT INTO events (what) VALUES ('after the bad signals')`)
	e.waitEqual(60*time.Second, p, "events")
	deadline := time.Now().Add(10 * time.Second)
	for strings.Count(p.logText(), "signal row ignored") < 4 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	log := p.logText()
	for _, want := range []string{`"signal":"3"`, `"signal":"4"`, `"signal":"5"`, `"signal":"6"`, "primary key", "nosuch", "not replicated"} {
		if !strings.Contains(log, want) {
			t.Errorf("the log does not name %s for the bad signals:\n%s", want, tail(log, 6000))
		}
	}
	if s, _ := e.status(); s.State != "streaming" {
		t.Errorf("state %s after bad signals, want streaming", s.State)
	}
	if e.targetHas("sluice_signals") {
		t.Error("the signal table reached the target")
	}
	p.stop(t)
}

// TestSignalKilledAfterCommit: sluice is killed (-9) right after a signal
// row commits (before it can have read it), and again once it recorded the
// signal's back-fill; after the restart the table is back-filled exactly
// once, and a later restart starts no second copy.
func TestSignalKilledAfterCommit(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		wait func(p *proc) bool // until the kill
	}{
		{"at the commit", func(*proc) bool { return true }},
		{"once recorded", func(p *proc) bool { return strings.Contains(p.logText(), "back-fill requested") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newSignalEnv(t)
			p := e.startWith()
			e.waitStatus(p, 60*time.Second, "streaming", streaming)
			e.waitEqual(60*time.Second, p, "orders")
			e.damage()
			e.srcExec(`INSERT INTO sluice_signals (table_name) VALUES ('public.orders')`)
			for deadline := time.Now().Add(30 * time.Second); !tc.wait(p); time.Sleep(time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatalf("the signal was not taken; log:\n%s", tail(p.logText(), 6000))
				}
			}
			p.kill9()
			logs := p.logText()
			p = e.startWith()
			e.waitStatus(p, 120*time.Second, "the back-fill after the restart", func(s metrics.Status) bool {
				_, done := backfillRows(s, "public.orders")
				return done || strings.Contains(logs+p.logText(), "table back-filled")
			})
			e.waitEqual(60*time.Second, p, "orders")
			p.stop(t)
			logs += p.logText()
			p = e.startWith() // a third run: the signal must not start anything again
			e.waitStatus(p, 60*time.Second, "streaming", streaming)
			e.srcExec(`INSERT INTO events (what) VALUES ('marker')`)
			e.waitEqual(60*time.Second, p, "events")
			p.stop(t)
			logs += p.logText()
			if n := strings.Count(logs, "table back-filled"); n != 1 {
				t.Errorf("orders back-filled %d times, want once; logs:\n%s", n, tail(logs, 8000))
			}
			t.Logf("signalled: %d, read again: %d, resumed: %d", strings.Count(logs, "back-fill signalled"),
				strings.Count(logs, "signal read again"), strings.Count(logs, "resuming back-fill"))
		})
	}
}

// TestMySQLSignalBackfill: the signal table works with a MariaDB source
// (default app.sluice_signals, from source.tables app.*): a signal row
// re-copies a damaged target table while another table streams, a bad
// signal is logged and streaming goes on, and the signal table never
// reaches the target.
func TestMySQLSignalBackfill(t *testing.T) {
	t.Parallel()
	e := newMyBackfillEnv(t, "initial")
	b, err := os.ReadFile(e.cfg)
	if err != nil {
		t.Fatal(err)
	}
	cfg := strings.Replace(string(b), "  snapshot: initial\n", "  snapshot: initial\n  snapshot_signals: true\n", 1)
	if err := os.WriteFile(e.cfg, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	e.srcExec(signal.CreateTable("mysql", change.TableID{Schema: "app", Name: "sluice_signals"}) + `;
		CREATE TABLE app.orders (id int PRIMARY KEY, customer varchar(40), total decimal(12,2));
		INSERT INTO app.orders SELECT seq, concat('c', seq % 97), seq * 1.5 FROM app.seq_1_to_20000;
		CREATE TABLE app.events (id bigint AUTO_INCREMENT PRIMARY KEY, what varchar(20))`)
	p := e.startWith()
	e.waitStatus(p, 60*time.Second, "streaming", streaming)
	e.x.waitSame(60*time.Second, p, "app.orders")
	e.dstExec(`DELETE FROM app.orders WHERE id % 10 = 3;
		UPDATE app.orders SET total = -1 WHERE id % 10 = 4;
		INSERT INTO app.orders VALUES (100001, 'ghost', 0)`)
	e.srcExec(`INSERT INTO app.sluice_signals (table_name) VALUES ('app.orders');
		INSERT INTO app.events (what) VALUES ('after the signal')`)
	e.waitStatus(p, 120*time.Second, "the end of the signalled re-copy", func(s metrics.Status) bool {
		_, done := backfillRows(s, "app.orders")
		return done
	})
	e.x.waitSame(60*time.Second, p, "app.orders", "app.events")

	e.srcExec(`INSERT INTO app.sluice_signals (table_name) VALUES ('app.nosuch');
		INSERT INTO app.events (what) VALUES ('after a bad one')`)
	e.x.waitSame(60*time.Second, p, "app.events")
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(p.logText(), "signal row ignored") && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	if log := p.logText(); !strings.Contains(log, `"signal":"2"`) || !strings.Contains(log, "nosuch") {
		t.Errorf("the bad signal is not logged with its id and table:\n%s", tail(log, 4000))
	}
	if s, _ := e.status(); s.State != "streaming" {
		t.Errorf("state %s after a bad signal, want streaming", s.State)
	}
	if n, err := e.x.to.(*pgEnd).c.QueryValue(context.Background(), "dwh",
		"SELECT count(*) FROM pg_tables WHERE tablename = 'sluice_signals'"); err != nil || n != "0" {
		t.Errorf("the signal table reached the target (%s, %v)", n, err)
	}
	p.stop(t)
}
