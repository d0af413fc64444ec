package main

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sluicecdc/sluice/internal/mytest"
	"github.com/sluicecdc/sluice/internal/pgtest"
)

// endpoint is a throwaway database server of either engine, seen the same
// way by the cross-engine tests.
type endpoint interface {
	kind() string // "postgres" or "mysql"
	dsn() string  // Sluice's URL for the test database
	exec(t *testing.T, sql string)
	// rows returns every row of schema.table as comparable text, sorted:
	// columns by name, NULL as ∅, binary values as hex.
	rows(ctx context.Context, table string) ([]string, error)
}

type myEnd struct {
	s      *mytest.Server
	db     string
	target bool
}

func (m *myEnd) kind() string { return "mysql" }

// dsn names the database, except for a target: there it would be the
// default target database, and these tests keep each table's schema.
func (m *myEnd) dsn() string {
	if m.target {
		return m.s.DSN("")
	}
	return m.s.DSN(m.db)
}

func (m *myEnd) exec(t *testing.T, q string) {
	t.Helper()
	if err := m.s.Exec(context.Background(), q); err != nil {
		t.Fatalf("mariadb: %v\n%s", err, q)
	}
}

func (m *myEnd) rows(ctx context.Context, table string) ([]string, error) {
	schema, name, _ := strings.Cut(table, ".")
	db := m.s.DB()
	if db == nil {
		return nil, fmt.Errorf("server is not running")
	}
	r, err := db.QueryContext(ctx, `SELECT column_name, data_type FROM information_schema.columns
		WHERE table_schema = ? AND table_name = ? ORDER BY column_name`, schema, name)
	if err != nil {
		return nil, err
	}
	var exprs []string
	for r.Next() {
		var col, typ string
		if err := r.Scan(&col, &typ); err != nil {
			r.Close()
			return nil, err
		}
		q := "`" + col + "`"
		switch {
		case strings.Contains(typ, "binary") || strings.Contains(typ, "blob"):
			q = "LOWER(HEX(" + q + "))"
		case typ == "bit":
			q = "BIN(" + q + ")"
		}
		exprs = append(exprs, fmt.Sprintf("IFNULL(CAST(%s AS CHAR), '∅')", q))
	}
	r.Close()
	if len(exprs) == 0 {
		return nil, fmt.Errorf("table %s does not exist", table)
	}
	return collect(db.QueryContext(ctx, fmt.Sprintf("SELECT CONCAT_WS('|', %s) FROM `%s`.`%s`", strings.Join(exprs, ", "), schema, name)))
}

func collect(r *sql.Rows, err error) ([]string, error) {
	if err != nil {
		return nil, err
	}
	defer r.Close()
	var out []string
	for r.Next() {
		var s string
		if err := r.Scan(&s); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	sort.Strings(out)
	return out, r.Err()
}

type pgEnd struct {
	c  *pgtest.Cluster
	db string
}

func (p *pgEnd) kind() string { return "postgres" }
func (p *pgEnd) dsn() string  { return p.c.DSN(p.db) }

func (p *pgEnd) exec(t *testing.T, q string) {
	t.Helper()
	if err := p.c.Exec(context.Background(), p.db, q); err != nil {
		t.Fatalf("postgres: %v\n%s", err, q)
	}
}

func (p *pgEnd) rows(ctx context.Context, table string) ([]string, error) {
	schema, name, _ := strings.Cut(table, ".")
	conn, err := pgx.Connect(ctx, p.dsn())
	if err != nil {
		return nil, err
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "SET TimeZone = 'UTC'; SET extra_float_digits = 3"); err != nil {
		return nil, err
	}
	cols, err := conn.Query(ctx, `SELECT column_name, data_type FROM information_schema.columns
		WHERE table_schema = $1 AND table_name = $2 ORDER BY column_name`, schema, name)
	if err != nil {
		return nil, err
	}
	var exprs []string
	for cols.Next() {
		var col, typ string
		if err := cols.Scan(&col, &typ); err != nil {
			cols.Close()
			return nil, err
		}
		q := pgx.Identifier{col}.Sanitize()
		if typ == "bytea" {
			q = "encode(" + q + ", 'hex')"
		}
		exprs = append(exprs, fmt.Sprintf("coalesce(%s::text, '∅')", q))
	}
	cols.Close()
	if len(exprs) == 0 {
		return nil, fmt.Errorf("table %s does not exist", table)
	}
	r, err := conn.Query(ctx, fmt.Sprintf("SELECT concat_ws('|', %s) FROM %s", strings.Join(exprs, ", "), pgx.Identifier{schema, name}.Sanitize()))
	if err != nil {
		return nil, err
	}
	out, err := pgx.CollectRows(r, pgx.RowTo[string])
	sort.Strings(out)
	return out, err
}

// xenv is a source and a target of any engines and a config between them.
type xenv struct {
	*env
	from, to endpoint
	into     string // the target schema every table goes into, "" for its own
}

// newXEnv starts a source of engine srcKind (with database "app") and a
// target of engine dstKind (database "dwh"), and writes the config.
func newXEnv(t *testing.T, srcKind, dstKind, sinkExtra string) *xenv {
	t.Helper()
	x := &xenv{env: &env{t: t, dir: t.TempDir()}}
	x.from = startEndpoint(t, srcKind, "app", true)
	x.to = startEndpoint(t, dstKind, "dwh", false)
	tables, extra := `["public.*"]`, ""
	if srcKind == "mysql" {
		tables, extra = `["app.*"]`, "  mysql:\n    server_id: 4242\n"
	}
	x.cfg = filepath.Join(x.dir, "sluice.yaml")
	cfg := fmt.Sprintf(`name: test
source:
  kind: %s
  dsn: %s
  tables: %s
%ssink:
  kind: %s
  dsn: %s
%scheckpoint:
  path: %s
log:
  level: debug
`, srcKind, x.from.dsn(), tables, extra, dstKind, x.to.dsn(), indent(sinkExtra), filepath.Join(x.dir, "test.checkpoint"))
	if err := os.WriteFile(x.cfg, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return x
}

func startEndpoint(t *testing.T, kind, db string, source bool) endpoint {
	t.Helper()
	ctx := context.Background()
	if kind == "mysql" {
		s := mytest.Start(t, mytest.Options{Durable: true})
		if err := s.Exec(ctx, "CREATE DATABASE "+db); err != nil {
			t.Fatal(err)
		}
		return &myEnd{s: s, db: db, target: !source}
	}
	c := pgtest.Start(t, pgtest.Options{})
	if err := c.CreateDB(ctx, db); err != nil {
		t.Fatal(err)
	}
	return &pgEnd{c: c, db: db}
}

// targetTable names where the source table schema.table lands: in schema
// x.into when set, else in its own schema.
func (x *xenv) targetTable(table string) string {
	if x.into == "" {
		return table
	}
	_, name, _ := strings.Cut(table, ".")
	return x.into + "." + name
}

// waitSame waits until every table is equal row for row in source and
// target; it fails with the differences when that does not happen in time.
func (x *xenv) waitSame(timeout time.Duration, p *proc, tables ...string) {
	x.t.Helper()
	ctx := context.Background()
	deadline := time.Now().Add(timeout)
	for {
		last := ""
		for _, tbl := range tables {
			s, err := x.from.rows(ctx, tbl)
			if err != nil {
				x.t.Fatalf("read source %s: %v%s", tbl, err, serverLog(x.from))
			}
			d, err := x.to.rows(ctx, x.targetTable(tbl))
			if err != nil {
				last = fmt.Sprintf("%s: %v", tbl, err)
				break
			}
			if diff := diffRows(s, d); diff != "" {
				last = tbl + ": " + diff
				break
			}
		}
		if last == "" {
			return
		}
		if time.Now().After(deadline) {
			logText := ""
			if p != nil {
				logText = p.logText()
				if len(logText) > 8000 {
					logText = "..." + logText[len(logText)-8000:]
				}
			}
			x.t.Fatalf("target did not match source within %v: %s\nsluice log:\n%s", timeout, last, logText)
		}
		if p != nil {
			select {
			case err := <-p.done:
				x.t.Fatalf("sluice exited (%v) before the target matched: %s\nlog:\n%s", err, last, p.logText())
			default:
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// serverLog is the end of a MariaDB endpoint's error log, for failures.
func serverLog(e endpoint) string {
	if m, ok := e.(*myEnd); ok {
		return "\nserver log:\n" + m.s.LogTail(20)
	}
	return ""
}
