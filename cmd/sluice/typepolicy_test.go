package main

import (
	"strings"
	"testing"
	"time"
)

// typeEnv is a synced table (id int key, n int, s varchar(10)) between two
// engines, with sluice running under the given sink.schema_changes.
func typeEnv(t *testing.T, src, dst, policy string) (*xenv, string, *proc) {
	t.Helper()
	x := newXEnv(t, src, dst, "schema_changes: "+policy+"\nbatch:\n  rows: 200\n")
	schema := "app"
	if src == "postgres" {
		schema = "public"
	}
	table := schema + ".w"
	x.from.exec(t, "CREATE TABLE "+table+" (id int PRIMARY KEY, n int NOT NULL, s varchar(10))")
	x.from.exec(t, "INSERT INTO "+table+" VALUES (1, 1, 'one'), (2, 2, 'two')")
	p := x.start()
	x.waitSame(60*time.Second, p, table)
	x.from.exec(t, "UPDATE "+table+" SET n = 3 WHERE id = 2") // the stream's own shape reaches the sink
	x.waitSame(60*time.Second, p, table)
	return x, table, p
}

// waitStopped waits for sluice to stop by itself with an error whose log
// holds every one of want.
func waitStopped(t *testing.T, p *proc, want ...string) {
	t.Helper()
	select {
	case err := <-p.done:
		p.done <- err
		if err == nil {
			t.Fatalf("sluice exited cleanly, want an error; log:\n%s", p.logText())
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("sluice still running, want it to stop at the type change; log:\n%s", p.logText())
	}
	log := p.logText()
	for _, w := range want {
		if !strings.Contains(log, w) {
			t.Errorf("log lacks %q:\n%s", w, log)
		}
	}
}

// TestTypeChangePolicies: what each sink.schema_changes does with a
// narrowing and a widening on both SQL sinks.
func TestTypeChangePolicies(t *testing.T) {
	t.Parallel()
	for _, kind := range []string{"postgres", "mysql"} {
		narrow, wideType, narrowType := "smallint", "bigint", "smallint"
		t.Run(kind+"_follow_narrowing_stops", func(t *testing.T) {
			t.Parallel()
			x, table, p := typeEnv(t, kind, kind, "follow")
			// Changes of the old shape right before: likely in the batch
			// that stops, so the restart must not replay them (that would
			// widen the column narrowed by hand back).
			x.from.exec(t, "UPDATE "+table+" SET n = 10 WHERE id = 1")
			x.from.exec(t, alterType(kind, table, "n", narrow))
			x.from.exec(t, "INSERT INTO "+table+" VALUES (3, 3, 'three')")
			stmt := `ALTER TABLE "public"."w" ALTER COLUMN "n" TYPE smallint`
			if kind == "mysql" {
				stmt = "ALTER TABLE `app`.`w` MODIFY COLUMN `n` smallint NOT NULL"
			}
			waitStopped(t, p, "column n", "new type "+narrowType, "sink.schema_changes is follow", strings.ReplaceAll(stmt, `"`, `\"`)) // JSON log
			// The statement is the one to run by hand: run it, and the
			// pipeline goes on with the narrowed column.
			x.to.exec(t, stmt)
			p = x.start()
			x.waitSame(60*time.Second, p, table)
			if typ := columnType(t, x.to, x.targetTable(table), "n"); !strings.HasPrefix(typ, "smallint") {
				t.Errorf("target column n is %s, want smallint", typ)
			}
			if strings.Contains(p.logText(), "widened target column") {
				t.Errorf("the restart widened a column back:\n%s", p.logText())
			}
			p.stop(t)
		})
		t.Run(kind+"_ignore_narrowing_keeps_target", func(t *testing.T) {
			t.Parallel()
			x, table, p := typeEnv(t, kind, kind, "ignore")
			x.from.exec(t, alterType(kind, table, "n", narrow, "s", "varchar(5)"))
			x.from.exec(t, "INSERT INTO "+table+" VALUES (3, 3, 'three')")
			x.waitSame(60*time.Second, p, table)
			if typ := columnType(t, x.to, x.targetTable(table), "n"); typ != map[string]string{"postgres": "integer", "mysql": "int(11)"}[kind] {
				t.Errorf("target column n is %s, want the old int", typ)
			}
			if typ := columnType(t, x.to, x.targetTable(table), "s"); !strings.Contains(typ, "(10)") {
				t.Errorf("target column s is %s, want the old varchar(10)", typ)
			}
			p.stop(t)
		})
		t.Run(kind+"_stop_widening_stops", func(t *testing.T) {
			t.Parallel()
			x, table, p := typeEnv(t, kind, kind, "stop")
			x.from.exec(t, alterType(kind, table, "n", wideType))
			x.from.exec(t, "INSERT INTO "+table+" VALUES (3, 5000000000, 'three')")
			waitStopped(t, p, "column n", "a widening", "new type "+wideType, "sink.schema_changes is stop", "Run on the target: ALTER TABLE")
			if rows, _ := x.to.rows(t.Context(), x.targetTable(table)); len(rows) != 2 {
				t.Errorf("target has %d rows, want the 2 from before the change", len(rows))
			}
		})
		t.Run(kind+"_ignore_widening_fails_on_value", func(t *testing.T) {
			t.Parallel()
			x, table, p := typeEnv(t, kind, kind, "ignore")
			x.from.exec(t, alterType(kind, table, "n", wideType))
			x.from.exec(t, "INSERT INTO "+table+" VALUES (3, 5000000000, 'three')")
			waitStopped(t, p, "ut of range") // PostgreSQL: out of range, MariaDB: Out of range
		})
	}
}

// TestWidenAfterKill: sluice is killed with SIGKILL after the source
// widened a column and before the first change that needs it; after the
// restart, the target column is widened and the change applied.
func TestWidenAfterKill(t *testing.T) {
	t.Parallel()
	for _, kind := range []string{"postgres", "mysql"} {
		t.Run(kind, func(t *testing.T) {
			x, table, p := typeEnv(t, kind, kind, "follow")
			x.from.exec(t, alterType(kind, table, "n", "bigint"))
			time.Sleep(time.Second) // the DDL is read (MariaDB: its event, and the position after it, may be saved)
			p.kill9()
			x.from.exec(t, "INSERT INTO "+table+" VALUES (3, 5000000000, 'three')")
			p = x.start()
			x.waitSame(60*time.Second, p, table)
			if typ := columnType(t, x.to, x.targetTable(table), "n"); !strings.HasPrefix(typ, "bigint") {
				t.Errorf("target column n is %s, want bigint", typ)
			}
			p.stop(t)
		})
	}
}
