package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// The transforms tests compare each target table with what the source
// gives for the equivalent SQL: a view in the source (schema or database
// "expect", outside the replicated patterns) with the rule's WHERE and
// column list. So the expected rows are computed by the source server, not
// by Sluice's code.

// addTransforms appends a transforms section (YAML, top level) to the config.
func (x *xenv) addTransforms(t *testing.T, yaml string) {
	t.Helper()
	f, err := os.OpenFile(x.cfg, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString("transforms:\n" + indent(yaml)); err != nil {
		t.Fatal(err)
	}
}

// waitMatch waits until each target table (pairs: source view, target
// table) holds exactly the view's rows, with the same column names.
func (x *xenv) waitMatch(timeout time.Duration, p *proc, pairs ...[2]string) {
	x.t.Helper()
	ctx := context.Background()
	deadline := time.Now().Add(timeout)
	for {
		last := ""
		for _, pr := range pairs {
			want, err := x.from.rows(ctx, pr[0])
			if err != nil {
				x.t.Fatalf("read expected %s: %v%s", pr[0], err, serverLog(x.from))
			}
			got, err := x.to.rows(ctx, pr[1])
			if err != nil {
				last = fmt.Sprintf("%s: %v", pr[1], err)
				break
			}
			if diff := diffRows(want, got); diff != "" {
				last = pr[1] + ": " + diff
				break
			}
			wc, gc := columnNames(x.t, x.from, pr[0]), columnNames(x.t, x.to, pr[1])
			if !slices.Equal(wc, gc) {
				x.t.Fatalf("%s has columns %v, want %v (as %s)", pr[1], gc, wc, pr[0])
			}
		}
		if last == "" {
			return
		}
		if time.Now().After(deadline) {
			x.t.Fatalf("target did not match within %v: %s\nsluice log:\n%s", timeout, last, tail(p.logText(), 8000))
		}
		select {
		case err := <-p.done:
			x.t.Fatalf("sluice exited (%v) before the target matched: %s\nlog:\n%s", err, last, tail(p.logText(), 8000))
		default:
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// columnNames lists a table's (or view's) columns, sorted.
func columnNames(t *testing.T, e endpoint, table string) []string {
	t.Helper()
	ctx := context.Background()
	schema, name, _ := strings.Cut(table, ".")
	var names []string
	switch e := e.(type) {
	case *myEnd:
		r, err := e.s.DB().QueryContext(ctx, `SELECT column_name FROM information_schema.columns WHERE table_schema = ? AND table_name = ? ORDER BY 1`, schema, name)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		for r.Next() {
			var n string
			r.Scan(&n) //nolint:errcheck
			names = append(names, n)
		}
	case *pgEnd:
		conn, err := pgx.Connect(ctx, e.dsn())
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(ctx)
		r, _ := conn.Query(ctx, `SELECT column_name::text FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2 ORDER BY 1`, schema, name)
		if names, err = pgx.CollectRows(r, pgx.RowTo[string]); err != nil {
			t.Fatal(err)
		}
	}
	return names
}

// waitExit waits for sluice to stop on its own with an error whose log has
// every one of want.
func waitExit(t *testing.T, p *proc, timeout time.Duration, want ...string) {
	t.Helper()
	select {
	case err := <-p.done:
		if err == nil {
			t.Fatalf("sluice exited 0, want a failure; log:\n%s", p.logText())
		}
	case <-time.After(timeout):
		t.Fatalf("sluice did not stop within %v; log:\n%s", timeout, tail(p.logText(), 8000))
	}
	for _, w := range want {
		if !strings.Contains(p.logText(), w) {
			t.Fatalf("log lacks %q:\n%s", w, tail(p.logText(), 8000))
		}
	}
}

// waitLog waits until the log has s.
func waitLog(t *testing.T, p *proc, s string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !strings.Contains(p.logText(), s) {
		if time.Now().After(deadline) {
			t.Fatalf("no %q in the log within %v:\n%s", s, timeout, tail(p.logText(), 8000))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// customersScenario creates customers, orders and plain in schema s with
// rows for the snapshot, and the views holding what the target must hold.
func customersScenario(t *testing.T, e endpoint, s string) {
	create := "CREATE SCHEMA expect"
	if e.kind() == "mysql" {
		create = "CREATE DATABASE expect"
	}
	for _, q := range []string{
		"CREATE TABLE {s}.customers (id int PRIMARY KEY, name varchar(40), country varchar(2), age int, ssn varchar(11), phone_1 varchar(20))",
		"CREATE TABLE {s}.orders (id int PRIMARY KEY, customer_id int, amount decimal(10,2), note varchar(40))",
		"CREATE TABLE {s}.plain (id int PRIMARY KEY, v varchar(10))",
		`INSERT INTO {s}.customers VALUES (1,'ann','NL',20,'111','555-1'), (2,'bob','NL',40,'222','555-2'),
			(3,'cid','DE',20,'333',NULL), (4,'dan','NL',NULL,'444','555-4'), (5,'eve','NL',25,'555','555-5')`,
		"INSERT INTO {s}.orders VALUES (1,1,10.50,'x'), (2,2,20.00,NULL)",
		"INSERT INTO {s}.plain VALUES (1,'a')",
		create,
		"CREATE VIEW expect.customer AS SELECT id, name, country, age, phone_1 AS phone FROM {s}.customers WHERE country = 'NL' AND age < 30",
		"CREATE VIEW expect.orders AS SELECT id, customer_id, amount FROM {s}.orders",
	} {
		e.exec(t, strings.ReplaceAll(q, "{s}", s))
	}
	var rows []string
	for i := 100; i < 600; i++ {
		country := "DE"
		if i%3 == 0 {
			country = "NL"
		}
		rows = append(rows, fmt.Sprintf("(%d,'c%d','%s',%d,'x','p%d')", i, i, country, i%50, i))
	}
	e.exec(t, fmt.Sprintf("INSERT INTO %s.customers VALUES %s", s, strings.Join(rows, ",")))
}

// customersRules keep some columns of customers, rename one, send it to
// dwh.customer with a filter, and drop a column of orders.
func customersRules(s string) string {
	return strings.ReplaceAll(`- tables: ["{s}.customers"]
  columns: {include: [id, name, country, age, phone_1], rename: {phone_1: phone}}
  target: {schema: dwh, table: customer}
  where: "country == 'NL' && age != nil && age < 30"
- tables: ["{s}.ord*"]
  columns: {exclude: [note]}
`, "{s}", s)
}

// customersChanges makes rows enter, stay in, leave and stay out of the
// filter, changes keys, deletes, and truncates.
func customersChanges(t *testing.T, e endpoint, s string) {
	for _, q := range []string{
		"INSERT INTO {s}.customers VALUES (6,'fay','NL',22,'666','555-6')",    // enters
		"INSERT INTO {s}.customers VALUES (7,'gus','DE',22,'777','555-7')",    // stays out
		"UPDATE {s}.customers SET country = 'NL' WHERE id = 3",                // enters
		"UPDATE {s}.customers SET age = 50 WHERE id = 5",                      // leaves
		"UPDATE {s}.customers SET name = 'ann2' WHERE id = 1",                 // stays in
		"UPDATE {s}.customers SET name = 'bob2' WHERE id = 2",                 // stays out
		"UPDATE {s}.customers SET age = 21 WHERE id = 4",                      // NULL age: enters
		"UPDATE {s}.customers SET ssn = '999' WHERE id = 6",                   // only a dropped column
		"UPDATE {s}.customers SET id = 1001 WHERE id = 1",                     // key change, stays in
		"UPDATE {s}.customers SET id = 1006, country = 'DE' WHERE id = 6",     // key change, leaves
		"UPDATE {s}.customers SET id = 1007, country = 'NL' WHERE id = 7",     // key change, enters
		"DELETE FROM {s}.customers WHERE id = 3",                              // in
		"DELETE FROM {s}.customers WHERE id = 2",                              // out
		"UPDATE {s}.customers SET age = age + 7 WHERE id BETWEEN 100 AND 300", // many enter and leave
		"UPDATE {s}.customers SET country = 'NL' WHERE id BETWEEN 300 AND 350",
		"DELETE FROM {s}.customers WHERE id BETWEEN 400 AND 450",
		"INSERT INTO {s}.orders VALUES (3,1,30.25,'n')",
		"UPDATE {s}.orders SET note = 'changed' WHERE id = 1",
		"TRUNCATE TABLE {s}.orders",
		"INSERT INTO {s}.orders VALUES (4,5,1.00,'z')",
		"INSERT INTO {s}.plain VALUES (2,'b')",
	} {
		e.exec(t, strings.ReplaceAll(q, "{s}", s))
	}
}

// TestTransformsPostgres: PostgreSQL → PostgreSQL, snapshot and stream
// through include/rename/target/where and exclude rules; a REPLICA
// IDENTITY FULL table whose large (TOASTed) values are not resent on
// update; then the errors that stop the pipeline: a rule naming a column
// a table lacks (at the snapshot), and a row entering the filter whose
// large value the source did not send (default replica identity).
func TestTransformsPostgres(t *testing.T) {
	t.Parallel()
	x := newXEnv(t, "postgres", "postgres", "")
	customersScenario(t, x.from, "public")
	big := "(SELECT string_agg(md5(i::text || j::text), '') FROM generate_series(1, 200) j)" // ~6 KB, stored out of line
	for _, q := range []string{
		"CREATE TABLE public.docs (id int PRIMARY KEY, kind text, body text)",
		"ALTER TABLE public.docs REPLICA IDENTITY FULL",
		"INSERT INTO public.docs SELECT i, CASE WHEN i % 2 = 0 THEN 'pub' ELSE 'draft' END, " + big + " FROM generate_series(1, 10) i",
		"CREATE VIEW expect.docs AS SELECT * FROM public.docs WHERE kind = 'pub'",
		"CREATE TABLE public.docs2 (id int PRIMARY KEY, kind text, body text)",
		"INSERT INTO public.docs2 SELECT i, 'draft', " + big + " FROM generate_series(1, 3) i",
	} {
		x.from.exec(t, q)
	}
	x.addTransforms(t, customersRules("public")+`- tables: [public.docs]
  where: "kind == 'pub'"
`)
	pairs := [][2]string{{"expect.customer", "dwh.customer"}, {"expect.orders", "public.orders"}, {"public.plain", "public.plain"}, {"expect.docs", "public.docs"}}
	p := x.start()
	x.waitMatch(60*time.Second, p, pairs...)
	customersChanges(t, x.from, "public")
	for _, q := range []string{
		"UPDATE public.docs SET kind = 'pub' WHERE id = 1",   // enters; body not resent, taken from the full old row
		"UPDATE public.docs SET kind = 'draft' WHERE id = 2", // leaves
		"UPDATE public.docs SET kind = 'pub!' WHERE id = 3",  // stays out
		"UPDATE public.docs SET id = 104 WHERE id = 4",       // key change, stays in, body not resent
		"UPDATE public.docs SET body = 'short' WHERE id = 6", // stays in
	} {
		x.from.exec(t, q)
	}
	x.waitMatch(60*time.Second, p, pairs...)
	p.stop(t)

	// A rule naming a column the table lacks stops the pipeline before the
	// snapshot copies anything.
	x.cfg = writeConfig(t, x, "bad1", "initial", `- tables: [public.customers]
  where: "contry == 'NL'"
`)
	waitExit(t, x.start(), 60*time.Second, `transforms[0].where: public.customers has no column \"contry\"`)

	// Streaming without a full old row: a row entering the filter whose
	// large value the source did not resend cannot be written whole.
	x.cfg = writeConfig(t, x, "bad2", "never", `- tables: [public.docs2]
  where: "kind == 'pub'"
`)
	p = x.start()
	waitLog(t, p, "streaming started", 60*time.Second)
	x.from.exec(t, "UPDATE public.docs2 SET kind = 'pub' WHERE id = 1")
	waitExit(t, p, 60*time.Second, "did not send column body", "ALTER TABLE public.docs2 REPLICA IDENTITY FULL")
}

// writeConfig writes another pipeline's config between x's servers.
func writeConfig(t *testing.T, x *xenv, name, snapshot, rules string) string {
	t.Helper()
	path := filepath.Join(x.dir, name+".yaml")
	cfg := fmt.Sprintf("name: %s\nsource:\n  kind: %s\n  dsn: %s\n  tables: [\"public.*\"]\n  snapshot: %s\nsink:\n  kind: %s\n  dsn: %s\n  schema: %s\ncheckpoint:\n  path: %s\ntransforms:\n%s",
		name, x.from.kind(), x.from.dsn(), snapshot, x.to.kind(), x.to.dsn(), name, filepath.Join(x.dir, name+".checkpoint"), indent(rules))
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestTransformsMariaDB: MariaDB → MariaDB; the binlog's full old rows
// take the "old row known" paths of updates.
func TestTransformsMariaDB(t *testing.T) {
	t.Parallel()
	x := newXEnv(t, "mysql", "mysql", "")
	customersScenario(t, x.from, "app")
	x.addTransforms(t, customersRules("app"))
	pairs := [][2]string{{"expect.customer", "dwh.customer"}, {"expect.orders", "app.orders"}, {"app.plain", "app.plain"}}
	p := x.start()
	x.waitMatch(60*time.Second, p, pairs...)
	customersChanges(t, x.from, "app")
	x.waitMatch(60*time.Second, p, pairs...)
	p.stop(t)
}

// TestTransformsMariaDBToPostgres: across engines, with sink.schema for
// the tables whose rule names no target schema.
func TestTransformsMariaDBToPostgres(t *testing.T) {
	t.Parallel()
	x := newXEnv(t, "mysql", "postgres", "schema: crm\n")
	customersScenario(t, x.from, "app")
	x.addTransforms(t, customersRules("app"))
	pairs := [][2]string{{"expect.customer", "dwh.customer"}, {"expect.orders", "crm.orders"}, {"app.plain", "crm.plain"}}
	p := x.start()
	x.waitMatch(60*time.Second, p, pairs...)
	customersChanges(t, x.from, "app")
	x.waitMatch(60*time.Second, p, pairs...)
	p.stop(t)
}

// TestTransformsPostgresToMariaDB: the other direction across engines.
func TestTransformsPostgresToMariaDB(t *testing.T) {
	t.Parallel()
	x := newXEnv(t, "postgres", "mysql", "")
	customersScenario(t, x.from, "public")
	x.addTransforms(t, customersRules("public"))
	pairs := [][2]string{{"expect.customer", "dwh.customer"}, {"expect.orders", "public.orders"}, {"public.plain", "public.plain"}}
	p := x.start()
	x.waitMatch(60*time.Second, p, pairs...)
	customersChanges(t, x.from, "public")
	x.waitMatch(60*time.Second, p, pairs...)
	p.stop(t)
}

// TestTransformsCheckOnline: sluice check holds the rules against the
// source's tables as they are now, for both source kinds, so a rule that
// would stop the pipeline at its first change is reported before it runs.
func TestTransformsCheckOnline(t *testing.T) {
	t.Parallel()
	for _, kind := range []string{"postgres", "mysql"} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			x := newXEnv(t, kind, "postgres", "")
			s := "public"
			if kind == "mysql" {
				s = "app"
			}
			for _, q := range []string{
				"CREATE TABLE {s}.customers (id int PRIMARY KEY, name text, country text)",
				"CREATE TABLE {s}.orders (id int PRIMARY KEY, status text)",
				"CREATE TABLE {s}.lines (id int PRIMARY KEY, qty int)",
			} {
				x.from.exec(t, strings.ReplaceAll(q, "{s}", s))
			}
			good := x.cfg
			bad := strings.TrimSuffix(x.cfg, ".yaml") + "-bad.yaml"
			base, err := os.ReadFile(x.cfg)
			if err != nil {
				t.Fatal(err)
			}
			rules := strings.ReplaceAll(`transforms:
  - tables: ["{s}.customers"]
    columns: {include: [id, name, phone_9]}
  - tables: ["{s}.orders"]
    where: "statuz == 'paid'"
  - tables: ["{s}.lines"]
    columns: {exclude: [id]}
  - tables: ["{s}.custmers"]
    target: {table: c}
`, "{s}", s)
			if err := os.WriteFile(bad, append(base, rules...), 0o600); err != nil {
				t.Fatal(err)
			}
			out, err := exec.Command(binary, "check", "--config", bad).CombinedOutput()
			if err == nil {
				t.Fatalf("check passed with rules that do not fit the tables:\n%s", out)
			}
			for _, want := range []string{
				`transforms[0].columns.include: ` + s + `.customers has no column "phone_9"`,
				`transforms[1].where`, `statuz`,
				`transforms[2].columns.exclude`, `id`,
				`transforms[3].tables: "` + s + `.custmers" matches none of the replicated tables`,
				"4 problem(s) found",
			} {
				if !strings.Contains(string(out), want) {
					t.Errorf("check output lacks %q:\n%s", want, out)
				}
			}
			fine := strings.ReplaceAll(`transforms:
  - tables: ["{s}.customers"]
    columns: {include: [id, name], rename: {name: full_name}}
    where: "country == 'NL'"
`, "{s}", s)
			if err := os.WriteFile(good, append(base, fine...), 0o600); err != nil {
				t.Fatal(err)
			}
			if out, err := exec.Command(binary, "check", "--config", good).CombinedOutput(); err != nil || !strings.Contains(string(out), "ok: source and target are ready") {
				t.Fatalf("check refused rules that fit (%v):\n%s", err, out)
			}
		})
	}
}

// TestTransformsCheckOffline: rule errors are config errors that `sluice
// check --offline` reports without connecting.
func TestTransformsCheckOffline(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "bad.yaml")
	data := `name: x
source: {kind: postgres, dsn: "postgres://u:hunter2@127.0.0.1:1/app"}
sink: {kind: postgres, dsn: "postgres://u@127.0.0.1:1/dwh"}
transforms:
  - tables: []
    columns: {include: [a], exclude: [b]}
  - tables: [public.x]
    where: "country == "
`
	if err := os.WriteFile(cfg, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	cmd := exec.Command(binary, "check", "--offline", "--config", cfg)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err == nil {
		t.Fatalf("check --offline passed:\n%s", out.String())
	}
	for _, want := range []string{
		"transforms[0].tables: required",
		"transforms[0].columns: include and exclude are both set",
		"transforms[1].where: is not a valid expression",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	if strings.Contains(out.String(), "hunter2") {
		t.Errorf("output shows the password:\n%s", out.String())
	}
}
