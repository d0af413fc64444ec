package main

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// editConfig replaces old by new in the env's config file.
func (e *env) editConfig(old, new string) {
	e.t.Helper()
	text, err := os.ReadFile(e.cfg)
	if err != nil {
		e.t.Fatal(err)
	}
	if !strings.Contains(string(text), old) {
		e.t.Fatalf("config lacks %q:\n%s", old, text)
	}
	if err := os.WriteFile(e.cfg, []byte(strings.Replace(string(text), old, new, 1)), 0o600); err != nil {
		e.t.Fatal(err)
	}
}

// TestMySQLSinkDatabase: the database a MySQL sink's DSN names is where
// the tables go (not a database named like the source schema), and
// sink.schema wins over it.
func TestMySQLSinkDatabase(t *testing.T) {
	t.Parallel()
	x := newXEnv(t, "postgres", "mysql", "")
	my := x.to.(*myEnd)
	x.editConfig("dsn: "+my.s.DSN(""), "dsn: "+my.s.DSN("dwh"))
	x.from.exec(t, "CREATE TABLE items (id int PRIMARY KEY, v text); INSERT INTO items VALUES (1, 'a'), (2, 'b')")
	x.into = "dwh"
	p := x.start()
	x.waitSame(60*time.Second, p, "public.items")
	x.from.exec(t, "UPDATE items SET v = 'c' WHERE id = 2")
	x.waitSame(30*time.Second, p, "public.items")
	p.stop(t)
	if _, err := x.to.rows(context.Background(), "public.items"); err == nil {
		t.Error("a table public.items exists in the target too")
	}

	x.editConfig("checkpoint:\n", "  schema: crm\ncheckpoint:\n")
	x.editConfig("test.checkpoint", "crm.checkpoint")
	x.editConfig("name: test", "name: crm")
	x.into = "crm"
	p = x.start()
	x.waitSame(60*time.Second, p, "public.items")
	p.stop(t)
}

// TestOneTargetTableFromTwoSchemas: shop1.orders and shop2.orders would
// both land in dwh.orders when sink.schema (or a MySQL sink's DSN
// database) puts every table into dwh, mixing their rows, deletes and
// truncates. sluice check and sluice run refuse that, naming both tables
// and the fix, and run writes nothing into the target.
func TestOneTargetTableFromTwoSchemas(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		src, dst string
		key      string // what puts both into dwh: sink.schema, or sink.dsn's database
	}{
		{"postgres", "postgres", "sink.schema"},
		{"mysql", "mysql", "sink.dsn"},
		{"postgres", "mysql", "sink.dsn"},
		{"mysql", "postgres", "sink.schema"},
	} {
		t.Run(c.src+"-"+c.dst+"-"+c.key, func(t *testing.T) {
			t.Parallel()
			x := newXEnv(t, c.src, c.dst, "")
			if c.key == "sink.schema" {
				x.editConfig("checkpoint:\n", "  schema: dwh\ncheckpoint:\n")
			} else {
				my := x.to.(*myEnd)
				x.editConfig("dsn: "+my.s.DSN(""), "dsn: "+my.s.DSN("dwh"))
			}
			tables := `tables: ["public.*"]`
			if c.src == "mysql" {
				tables = `tables: ["app.*"]`
			}
			x.editConfig(tables, `tables: ["shop1.*", "shop2.*"]`)
			for _, shop := range []string{"shop1", "shop2"} {
				create := "CREATE SCHEMA " + shop
				if c.src == "mysql" {
					create = "CREATE DATABASE " + shop
				}
				x.from.exec(t, create)
				x.from.exec(t, "CREATE TABLE "+shop+".orders (id int PRIMARY KEY, note text)")
				x.from.exec(t, "INSERT INTO "+shop+".orders VALUES (1, '"+shop+"')")
			}
			refusal := "shop1.orders and shop2.orders would both be replicated into dwh.orders"
			fix := map[string]string{"sink.schema": "remove sink.schema", "sink.dsn": "remove the database from sink.dsn"}[c.key]

			out, err := exec.Command(binary, "check", "--config", x.cfg).CombinedOutput()
			if code := exitCode(err); code != 1 || !strings.Contains(string(out), c.key+": "+refusal) || !strings.Contains(string(out), fix) {
				t.Errorf("sluice check exited %d, want 1 with %q and %q:\n%s", code, refusal, fix, out)
			}

			p := x.start()
			select {
			case err = <-p.done:
			case <-time.After(60 * time.Second):
				t.Fatalf("sluice run did not stop; log:\n%s", tail(p.logText(), 4000))
			}
			if code := exitCode(err); code == 0 || !strings.Contains(p.logText(), refusal) || !strings.Contains(p.logText(), fix) {
				t.Errorf("sluice run exited %d, want non-zero with %q and %q; log:\n%s", code, refusal, fix, tail(p.logText(), 4000))
			}
			for _, table := range []string{"dwh.orders", "shop1.orders", "shop2.orders"} {
				if rows, err := x.to.rows(context.Background(), table); err == nil {
					t.Errorf("sluice run wrote %s into the target: %v", table, rows)
				}
			}
		})
	}
}

// TestOneTargetTableWhileRunning: a table created while Sluice runs that
// would land in a target table another one fills stops Sluice at its first
// change with the refusal, before that change is written.
func TestOneTargetTableWhileRunning(t *testing.T) {
	t.Parallel()
	x := newXEnv(t, "mysql", "mysql", "")
	my := x.to.(*myEnd)
	x.editConfig("dsn: "+my.s.DSN(""), "dsn: "+my.s.DSN("dwh"))
	x.editConfig(`tables: ["app.*"]`, `tables: ["shop1.*", "shop2.*"]`)
	x.from.exec(t, "CREATE DATABASE shop1")
	x.from.exec(t, "CREATE TABLE shop1.orders (id int PRIMARY KEY, note text)")
	x.from.exec(t, "INSERT INTO shop1.orders VALUES (1, 'shop1')")
	x.into = "dwh"
	p := x.start()
	x.waitSame(60*time.Second, p, "shop1.orders")

	x.from.exec(t, "CREATE DATABASE shop2")
	x.from.exec(t, "CREATE TABLE shop2.orders (id int PRIMARY KEY, note text)")
	x.from.exec(t, "INSERT INTO shop2.orders VALUES (2, 'shop2')")
	var err error
	select {
	case err = <-p.done:
	case <-time.After(60 * time.Second):
		t.Fatalf("sluice run did not stop; log:\n%s", tail(p.logText(), 4000))
	}
	refusal := "sink.dsn: shop1.orders and shop2.orders would both be replicated into dwh.orders"
	if exitCode(err) == 0 || !strings.Contains(p.logText(), refusal) {
		t.Errorf("sluice run exited %v, want non-zero with %q; log:\n%s", err, refusal, tail(p.logText(), 4000))
	}
	rows, err := x.to.rows(context.Background(), "dwh.orders")
	if err != nil || len(rows) != 1 || !strings.Contains(rows[0], "shop1") {
		t.Errorf("dwh.orders holds %q (%v), want shop1's row only", rows, err)
	}
}

// exitCode is the exit status err reports: 0 for nil, -1 if it is none.
func exitCode(err error) int {
	if err == nil {
		return 0
	}
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	return -1
}
