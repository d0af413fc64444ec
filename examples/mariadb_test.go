package examples_test

// The compose setup's MariaDB path without Docker: a throwaway MariaDB
// server started with the mariadb service's command-line options, the init
// script on it, and sluice with examples/docker/sluice-mariadb.yaml.

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"

	"github.com/sluicecdc/sluice/internal/mytest"
	"github.com/sluicecdc/sluice/internal/pgtest"
)

// shopTables are the tables mariadb-init.sql creates.
var shopTables = []string{"articles", "customers", "order_lines", "orders", "page_views"}

// startComposeMariaDB starts a MariaDB server with the mariadb service's
// options (so a misspelt one fails here, as it would in the container) and
// runs its init script as root, as the image's entrypoint does. It returns
// the server and the compose file.
func startComposeMariaDB(t *testing.T, ctx context.Context) (*mytest.Server, composeFile) {
	t.Helper()
	c := readCompose(t)
	svc := c.Services["mariadb"]
	id, err := strconv.Atoi(mariadbOptions(t, svc)["server-id"])
	if err != nil {
		t.Fatalf("mariadb --server-id: %v", err)
	}
	srv := mytest.Start(t, mytest.Options{ServerID: id, Args: mariadbArgs(t, svc)})
	script := initScript(t, svc)
	if script == "" {
		t.Fatal("the mariadb service mounts no init script")
	}
	initSQL, err := os.ReadFile(filepath.Join(root, script))
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Exec(ctx, string(initSQL)); err != nil {
		t.Fatalf("%s: %v", script, err)
	}
	return srv, c
}

// TestComposeMariaDBInit: the server runs with the binlog settings a source
// needs, mariadb-init.sql creates the tables with rows, and the user
// sluice-mariadb connects as logs in with the password compose gives it and
// can do what the source does.
func TestComposeMariaDBInit(t *testing.T) {
	t.Parallel()
	ctx := runWithTimeout(t, 2*time.Minute)
	srv, c := startComposeMariaDB(t, ctx)

	want := map[string]string{
		"@@log_bin": "1", "@@binlog_format": "ROW", "@@binlog_row_image": "FULL", "@@binlog_row_metadata": "FULL",
		"@@server_id": mariadbOptions(t, c.Services["mariadb"])["server-id"],
	}
	for _, v := range keys(want) {
		if got, err := srv.QueryValue(ctx, "SELECT "+v); err != nil || got != want[v] {
			t.Errorf("%s = %q (%v) with the mariadb service's options; want %s", v, got, err, want[v])
		}
	}

	// The tables: a composite key, one without any key, rows in each.
	got, err := srv.QueryValue(ctx, "SELECT group_concat(table_name ORDER BY BINARY table_name) FROM information_schema.tables WHERE table_schema = 'shop'")
	if err != nil || got != strings.Join(shopTables, ",") {
		t.Fatalf("tables in shop: %q (%v), want %v", got, err, shopTables)
	}
	if n, _ := srv.QueryValue(ctx, "SELECT count(*) FROM information_schema.key_column_usage WHERE table_schema = 'shop' AND table_name = 'order_lines' AND constraint_name = 'PRIMARY'"); n != "2" {
		t.Errorf("order_lines' primary key has %s columns, want 2 (a composite key)", n)
	}
	if n, _ := srv.QueryValue(ctx, "SELECT count(*) FROM information_schema.statistics WHERE table_schema = 'shop' AND table_name = 'page_views' AND non_unique = 0"); n != "0" {
		t.Errorf("page_views has a unique key (%s index columns); it is the example of a table without one", n)
	}

	// The grants, as the server reports them.
	rows, err := srv.DB().QueryContext(ctx, "SHOW GRANTS FOR 'sluice'@'%'")
	if err != nil {
		t.Fatalf("SHOW GRANTS FOR 'sluice'@'%%': %v", err)
	}
	grants, err := scanStrings(rows)
	if err != nil {
		t.Fatal(err)
	}
	global, onShop := grantsOn(grants, "*.*"), grantsOn(grants, "`shop`.*")
	for _, priv := range []string{"REPLICATION SLAVE", "RELOAD"} {
		if !slices.Contains(global, priv) {
			t.Errorf("sluice lacks %s ON *.*; grants: %q", priv, grants)
		}
	}
	if !slices.Contains(global, "BINLOG MONITOR") && !slices.Contains(global, "REPLICATION CLIENT") {
		t.Errorf("sluice lacks BINLOG MONITOR (REPLICATION CLIENT) ON *.*; grants: %q", grants)
	}
	if !slices.Contains(global, "SELECT") && !slices.Contains(onShop, "SELECT") && !slices.Contains(onShop, "ALL PRIVILEGES") {
		t.Errorf("sluice cannot SELECT from shop; grants: %q", grants)
	}

	// Log in as the source DSN's user, with the password compose sets, and
	// do what the source does with those grants.
	cfg, _ := composeConfig(t, c, "sluice-mariadb")
	db := openAs(t, cfg.Source.DSN, srv.Port)
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatalf("log in with sluice-mariadb's source.dsn user and password: %v", err)
	}
	defer conn.Close()
	var file, pos, doDB, ignoreDB string
	if err := conn.QueryRowContext(ctx, "SHOW MASTER STATUS").Scan(&file, &pos, &doDB, &ignoreDB); err != nil {
		t.Errorf("SHOW MASTER STATUS as the source user: %v", err)
	}
	for _, q := range []string{"FLUSH TABLES WITH READ LOCK", "UNLOCK TABLES"} {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			t.Errorf("%s as the source user: %v", q, err)
		}
	}
	for _, tbl := range shopTables {
		var n int
		if err := conn.QueryRowContext(ctx, "SELECT count(*) FROM shop."+tbl).Scan(&n); err != nil || n == 0 {
			t.Errorf("SELECT count(*) FROM shop.%s as the source user: %d rows, %v (want some rows)", tbl, n, err)
		}
	}
}

// TestComposeMariaDBSetupLocally runs what `docker compose up mariadb target
// sluice-mariadb` runs, without Docker: mariadb-init.sql on a MariaDB server
// with the compose options, then sluice with docker/sluice-mariadb.yaml
// (hosts and checkpoint path pointed at local servers through SLUICE_*
// overrides, the user and password kept), and compares the target.
func TestComposeMariaDBSetupLocally(t *testing.T) {
	t.Parallel()
	bin := buildSluice(t)
	ctx := runWithTimeout(t, 3*time.Minute)
	srv, c := startComposeMariaDB(t, ctx)
	cfg, cfgPath := composeConfig(t, c, "sluice-mariadb")
	dst := pgtest.Start(t, pgtest.Options{})
	if err := dst.CreateDB(ctx, "dwh"); err != nil {
		t.Fatal(err)
	}

	u, err := url.Parse(cfg.Source.DSN)
	if err != nil {
		t.Fatal(err)
	}
	u.Host = fmt.Sprintf("127.0.0.1:%d", srv.Port)
	env := c.Services["sluice-mariadb"].env(t)
	var out syncBuffer
	cmd := exec.Command(bin, "run", "--config", cfgPath)
	cmd.Env = append(os.Environ(),
		"MARIADB_SLUICE_PASSWORD="+env["MARIADB_SLUICE_PASSWORD"], "TARGET_PASSWORD=unused",
		"SLUICE_SOURCE_DSN="+u.String(), "SLUICE_SINK_DSN="+dst.DSN("dwh"),
		"SLUICE_CHECKPOINT_PATH="+filepath.Join(t.TempDir(), "shop-to-dwh.checkpoint"),
		"SLUICE_HTTP_LISTEN="+freeAddr(t))
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() { cmd.Process.Kill() })

	// Row counts per table, and counts that only updates and a key change
	// move; the target's types may differ, so compare numbers only.
	schema := cfg.Sink.Schema
	var checks []countCheck
	for _, tbl := range shopTables {
		checks = append(checks, countCheck{"shop." + tbl, "SELECT count(*) FROM shop." + tbl, "SELECT count(*) FROM " + pgx.Identifier{schema, tbl}.Sanitize()})
	}
	checks = append(checks,
		countCheck{"paid orders", "SELECT count(*) FROM shop.orders WHERE status = 'paid'", "SELECT count(*) FROM " + pgx.Identifier{schema, "orders"}.Sanitize() + " WHERE status::text = 'paid'"},
		countCheck{"order 5's lines above 10", "SELECT count(*) FROM shop.order_lines WHERE order_id = 5 AND line_no > 10", "SELECT count(*) FROM " + pgx.Identifier{schema, "order_lines"}.Sanitize() + " WHERE order_id = 5 AND line_no > 10"},
		countCheck{"cheap articles", "SELECT count(*) FROM shop.articles WHERE price < 100", "SELECT count(*) FROM " + pgx.Identifier{schema, "articles"}.Sanitize() + " WHERE price::numeric < 100"},
	)
	waitCounts(t, ctx, srv, dst, checks, done, &out)
	runHealthchecks(t, ctx, bin, c, "sluice-mariadb", cmd.Env)
	if err := srv.Exec(ctx, `
		INSERT INTO shop.customers (name, email, country, profile) VALUES ('New Customer', 'new@example.com', 'NL', '{"newsletter": true}');
		INSERT INTO shop.orders (customer_id, ordered_at, status) VALUES (LAST_INSERT_ID(), now(6), 'new');
		INSERT INTO shop.order_lines (order_id, line_no, article_id, qty) VALUES (LAST_INSERT_ID(), 1, 3, 2);
		UPDATE shop.articles SET price = price * 1.10 WHERE id <= 10;
		UPDATE shop.articles SET price = 5 WHERE id BETWEEN 11 AND 15;
		UPDATE shop.orders SET status = 'shipped' WHERE status = 'paid';
		UPDATE shop.order_lines SET line_no = line_no + 10 WHERE order_id = 5;
		DELETE FROM shop.page_views WHERE customer_id % 3 = 0;
		DELETE FROM shop.order_lines WHERE order_id % 10 = 0;`); err != nil {
		t.Fatal(err)
	}
	waitCounts(t, ctx, srv, dst, checks, done, &out)

	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("sluice exited with %v after SIGTERM; output:\n%s", err, out.String())
		}
	case <-ctx.Done():
		t.Fatalf("sluice did not exit after SIGTERM; output:\n%s", out.String())
	}
}

// countCheck is one number that must be the same in the source and the
// target.
type countCheck struct{ what, source, target string }

// waitCounts waits until every check gives the same number on both sides.
func waitCounts(t *testing.T, ctx context.Context, src *mytest.Server, dst *pgtest.Cluster, checks []countCheck, exited chan error, out *syncBuffer) {
	t.Helper()
	for {
		last := ""
		for _, c := range checks {
			s, err := src.QueryValue(ctx, c.source)
			if err != nil {
				t.Fatalf("source: %v", err)
			}
			d, err := dst.QueryValue(ctx, "dwh", c.target)
			switch {
			case err != nil:
				last = fmt.Sprintf("target %s: %v", c.what, err)
			case s != d:
				last = fmt.Sprintf("%s: source %s, target %s", c.what, s, d)
			}
			if last != "" {
				break
			}
		}
		if last == "" {
			return
		}
		select {
		case err := <-exited:
			t.Fatalf("sluice exited (%v) before the target matched (%s); output:\n%s", err, last, out.String())
		case <-ctx.Done():
			t.Fatalf("the target did not match the source: %s; output:\n%s", last, out.String())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// openAs opens a pool to the local server on port as the user and password
// of a mysql:// DSN, in its database.
func openAs(t *testing.T, dsn string, port int) *sql.DB {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	cfg := mysql.NewConfig()
	cfg.User = u.User.Username()
	cfg.Passwd, _ = u.User.Password()
	cfg.Net, cfg.Addr, cfg.DBName = "tcp", fmt.Sprintf("127.0.0.1:%d", port), strings.TrimPrefix(u.Path, "/")
	cfg.Timeout = 10 * time.Second
	conn, err := mysql.NewConnector(cfg)
	if err != nil {
		t.Fatal(err)
	}
	db := sql.OpenDB(conn)
	t.Cleanup(func() { db.Close() })
	return db
}

func scanStrings(rows *sql.Rows) ([]string, error) {
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// grantsOn lists the privileges SHOW GRANTS lines give on one level, e.g.
// "*.*" or "`shop`.*".
func grantsOn(grants []string, on string) []string {
	var out []string
	for _, g := range grants {
		privs, rest, ok := strings.Cut(strings.TrimPrefix(g, "GRANT "), " ON ")
		if !ok || !strings.HasPrefix(rest, on+" TO ") {
			continue
		}
		for _, p := range strings.Split(privs, ",") {
			out = append(out, strings.TrimSpace(p))
		}
	}
	return out
}
