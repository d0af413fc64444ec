package main

import (
	"context"
	"testing"
	"time"
)

// TestEnumLabelsVerbatim: enum labels holding quotes, backslashes and SQL
// reach the target byte for byte, both when the target type is created and
// when a label is added later, even though the target server's default is
// standard_conforming_strings = off (where a backslash in '...' escapes).
func TestEnumLabelsVerbatim(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "")
	ctx := context.Background()
	e.dstExec(`ALTER SYSTEM SET standard_conforming_strings = off`) // into postgresql.auto.conf
	e.dstExec(`SELECT pg_reload_conf()`)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if v, _ := e.dst.QueryValue(ctx, "dwh", "SHOW standard_conforming_strings"); v == "off" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the target server did not take standard_conforming_strings = off")
		}
	}
	e.dstExec(`CREATE TABLE t (id int)`) // what an injected DROP TABLE t would remove
	e.srcExec(`CREATE TYPE weird AS ENUM ($$a\'b$$, $$x';DROP TABLE t;--$$, $$\$$, $$plain$$);
		CREATE TABLE w (id int PRIMARY KEY, m weird);
		INSERT INTO w VALUES (1, $$a\'b$$), (2, $$x';DROP TABLE t;--$$), (3, $$\$$);`)
	labels := func(get func(context.Context, string, string) (string, error), db string) string {
		t.Helper()
		v, err := get(ctx, db, `SELECT string_agg(enumlabel, '|' ORDER BY enumsortorder) FROM pg_enum WHERE enumtypid = 'public.weird'::regtype`)
		if err != nil {
			t.Fatalf("read labels: %v", err)
		}
		return v
	}
	p := e.start()
	e.waitEqual(60*time.Second, p, "w")
	if s, d := labels(e.src.QueryValue, "app"), labels(e.dst.QueryValue, "dwh"); s != d {
		t.Fatalf("created enum labels differ: source %q, target %q", s, d)
	}
	// A label added while streaming goes through ALTER TYPE ... ADD VALUE.
	e.srcExec(`ALTER TYPE weird ADD VALUE $$late\'; SELECT 1;--$$`)
	e.srcExec(`INSERT INTO w VALUES (4, $$late\'; SELECT 1;--$$)`)
	e.waitEqual(60*time.Second, p, "w")
	if s, d := labels(e.src.QueryValue, "app"), labels(e.dst.QueryValue, "dwh"); s != d {
		t.Fatalf("added enum label differs: source %q, target %q", s, d)
	}
	if n, err := e.dst.QueryValue(ctx, "dwh", "SELECT count(*) FROM public.t"); err != nil || n != "0" {
		t.Fatalf("target table t: %q, %v (it must still exist)", n, err)
	}
	p.stop(t)
}
