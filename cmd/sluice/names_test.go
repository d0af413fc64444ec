package main

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestLongNamesMariaDBToPostgres: MariaDB allows 64-character names,
// PostgreSQL keeps 63 bytes and cuts the rest, so two columns could become
// one. sluice check names each such table and column with the transform
// that fixes it; run stops with the same problem before it writes any
// target table, and again when such a table appears while it streams;
// with the renames it check proposes, the copy goes through.
func TestLongNamesMariaDBToPostgres(t *testing.T) {
	t.Parallel()
	x := newXEnv(t, "mysql", "postgres", "")
	ctx := context.Background()
	long1 := "c" + strings.Repeat("x", 62) + "1" // 64 bytes; the same first 63 as long2
	long2 := "c" + strings.Repeat("x", 62) + "2"
	uml := strings.Repeat("ü", 32) // 32 characters, 64 bytes
	longTable := "t" + strings.Repeat("y", 63)
	x.from.exec(t, "CREATE TABLE app.ok (id int PRIMARY KEY, v text)")
	x.from.exec(t, "INSERT INTO app.ok VALUES (1, 'a'), (2, 'b')")
	x.from.exec(t, "CREATE TABLE app.wide (id int PRIMARY KEY, `"+long1+"` int, `"+long2+"` int, `"+uml+"` int)")
	x.from.exec(t, "INSERT INTO app.wide VALUES (1, 11, 12, 13), (2, 21, 22, 23)")
	x.from.exec(t, "CREATE TABLE app.`"+longTable+"` (id int PRIMARY KEY)")
	x.from.exec(t, "INSERT INTO app.`"+longTable+"` VALUES (1)")

	out, err := exec.Command(binary, "check", "--config", x.cfg).CombinedOutput()
	if err == nil {
		t.Fatalf("check passed:\n%s", out)
	}
	for _, want := range []string{
		`target table app.wide: column "` + long1 + `" is 64 bytes, but PostgreSQL cuts names to 63`,
		`target table app.wide: column "` + long2 + `" is 64 bytes`,
		`target table app.wide: column "` + uml + `" is 64 bytes`,
		`transforms: [{tables: ["app.wide"], columns: {rename: {"` + long1 + `": "`,
		`table name "` + longTable + `" is 64 bytes`,
		`transforms: [{tables: ["app.` + longTable + `"], target: {table: "`,
		"4 problem(s) found",
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("check output lacks %q:\n%s", want, out)
		}
	}

	targetTables := func() string {
		t.Helper()
		n, err := x.to.(*pgEnd).c.QueryValue(ctx, "dwh", `SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'app'`)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	p := x.start()
	select {
	case err := <-p.done:
		if err == nil {
			t.Fatalf("run exited 0:\n%s", p.logText())
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("run did not stop:\n%s", tail(p.logText(), 3000))
	}
	for _, want := range []string{`target table app.wide: column \"` + long1 + `\" is 64 bytes, but PostgreSQL cuts names to 63`, `columns: {rename: {`} {
		if !strings.Contains(p.logText(), want) {
			t.Errorf("run log lacks %q:\n%s", want, tail(p.logText(), 3000))
		}
	}
	if n := targetTables(); n != "0" {
		t.Errorf("the refused run made %s target tables in schema app", n)
	}

	x.addTransforms(t, `- tables: ["app.wide"]
  columns: {rename: {"`+long1+`": c1, "`+long2+`": c2, "`+uml+`": "`+strings.Repeat("ü", 31)+`"}}
- tables: ["app.`+longTable+`"]
  target: {table: short}
`)
	p = x.start()
	x.waitSame(60*time.Second, p, "app.ok")
	cols, err := x.to.(*pgEnd).c.QueryValue(ctx, "dwh", `SELECT string_agg(column_name::text, ',' ORDER BY ordinal_position) || '/' ||
		(SELECT count(*) FROM app.wide) || '/' || (SELECT count(*) FROM app.short) FROM information_schema.columns WHERE table_schema = 'app' AND table_name = 'wide'`)
	if err != nil || cols != "id,c1,c2,"+strings.Repeat("ü", 31)+"/2/1" {
		t.Fatalf("target after the renames: %q, %v\n%s", cols, err, tail(p.logText(), 3000))
	}

	// A table that appears while streaming stops the pipeline before it
	// gets a target table.
	x.from.exec(t, "CREATE TABLE app.later (id int PRIMARY KEY, `"+long1+"` int)")
	x.from.exec(t, "INSERT INTO app.later VALUES (1, 1)")
	select {
	case err := <-p.done:
		if err == nil {
			t.Fatalf("run exited 0:\n%s", p.logText())
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("run did not stop at app.later:\n%s", tail(p.logText(), 3000))
	}
	if !strings.Contains(p.logText(), `target table app.later: column \"`+long1+`\" is 64 bytes`) {
		t.Errorf("run log lacks the problem of app.later:\n%s", tail(p.logText(), 3000))
	}
	if n, _ := x.to.(*pgEnd).c.QueryValue(ctx, "dwh", `SELECT (to_regclass('app.later') IS NULL)::int`); n != "1" {
		t.Errorf("app.later was created in the target")
	}
}
