package pgtest

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/sluicecdc/sluice/internal/testport"
)

func TestCluster(t *testing.T) {
	ctx := context.Background()
	c := Start(t, Options{Settings: map[string]string{"work_mem": "8MB"}})

	query := func(db, sql string) string {
		t.Helper()
		v, err := c.QueryValue(ctx, db, sql)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	for sql, want := range map[string]string{
		"SHOW wal_level":               "logical",
		"SHOW fsync":                   "off",
		"SHOW full_page_writes":        "off",
		"SHOW max_connections":         "200",
		"SHOW work_mem":                "8MB",
		"SHOW port":                    strconv.Itoa(c.Port),
		"SHOW unix_socket_directories": c.sockDir(),
	} {
		if got := query("postgres", sql); got != want {
			t.Errorf("%s = %q, want %q", sql, got, want)
		}
	}

	if err := c.CreateDB(ctx, "app"); err != nil {
		t.Fatal(err)
	}
	if err := c.Exec(ctx, "app", "CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t VALUES (1), (2);"); err != nil {
		t.Fatal(err)
	}
	if got := query("app", "SELECT count(*) FROM t"); got != "2" {
		t.Fatalf("count = %s, want 2", got)
	}
	if got := query("app", "SELECT NULL"); got != "" {
		t.Errorf("NULL = %q, want empty", got)
	}
	if _, err := c.QueryValue(ctx, "app", "SELECT 1 WHERE false"); err == nil {
		t.Error("QueryValue with no rows: no error")
	}
	if err := c.Exec(ctx, "app", "SELECT * FROM missing"); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Errorf("Exec of bad SQL: err = %v", err)
	}

	t.Run("replication connection", func(t *testing.T) {
		conn, err := pgconn.Connect(ctx, c.DSN("app")+"&replication=database")
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(ctx)
		results, err := conn.Exec(ctx, "IDENTIFY_SYSTEM").ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		if len(results) != 1 || len(results[0].Rows) != 1 || len(results[0].Rows[0][0]) == 0 {
			t.Fatalf("IDENTIFY_SYSTEM returned %+v", results)
		}
	})

	t.Run("stop and start keep data", func(t *testing.T) {
		if err := c.Stop(); err != nil {
			t.Fatal(err)
		}
		if err := c.Stop(); err != nil {
			t.Fatalf("second Stop: %v", err)
		}
		if err := c.Exec(ctx, "app", "SELECT 1"); err == nil {
			t.Fatal("server still answers after Stop")
		}
		if err := c.Start(ctx); err != nil {
			t.Fatal(err)
		}
		if got := query("app", "SELECT count(*) FROM t"); got != "2" {
			t.Fatalf("count after restart = %s, want 2", got)
		}
	})

	t.Run("kill and start recover", func(t *testing.T) {
		if err := c.Exec(ctx, "app", "INSERT INTO t VALUES (3)"); err != nil {
			t.Fatal(err)
		}
		if err := c.Kill(); err != nil {
			t.Fatal(err)
		}
		if err := c.Start(ctx); err != nil {
			t.Fatal(err)
		}
		if got := query("app", "SELECT count(*) FROM t"); got != "3" {
			t.Fatalf("count after crash = %s, want 3", got)
		}
		if !strings.Contains(c.LogTail(100), "not properly shut down") {
			t.Errorf("no crash recovery in the log:\n%s", c.LogTail(100))
		}
	})
}

func TestRemove(t *testing.T) {
	ctx := context.Background()
	c, err := StartCluster(ctx, Options{Fsync: true})
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := c.QueryValue(ctx, "postgres", "SHOW fsync"); got != "on" {
		t.Errorf("fsync = %q with Options.Fsync, want on", got)
	}
	if err := c.Remove(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(c.base); !os.IsNotExist(err) {
		t.Errorf("cluster directory still there: %v", err)
	}
	if err := c.Exec(ctx, "postgres", "SELECT 1"); err == nil {
		t.Error("server still answers after Remove")
	}
}

// A cluster whose owner process died is cleaned up by the next StartCluster.
func TestSweepStale(t *testing.T) {
	ctx := context.Background()
	c := Start(t, Options{})
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	owner := filepath.Join(c.base, ownerFile)
	if err := os.WriteFile(owner, []byte(strconv.Itoa(dead.Process.Pid)), 0o644); err != nil {
		t.Fatal(err)
	}
	sweepStale(c.bin, c.cred)
	if _, err := os.Stat(c.base); !os.IsNotExist(err) {
		t.Errorf("stale cluster directory still there: %v", err)
	}
	if err := c.Exec(ctx, "postgres", "SELECT 1"); err == nil {
		t.Error("stale server still answers")
	}
}

// When the picked port is taken before the server binds it, StartCluster
// retries with another one.
func TestPortRace(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	taken := l.Addr().(*net.TCPAddr).Port
	calls := 0
	pickPort = func() (int, error) {
		if calls++; calls == 1 {
			return taken, nil
		}
		return testport.Free()
	}
	defer func() { pickPort = testport.Free }()

	c := Start(t, Options{})
	if calls != 2 || c.Port == taken {
		t.Errorf("port %d after %d picks, want a retry", c.Port, calls)
	}
}

func TestStartFailureQuotesLog(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	port := l.Addr().(*net.TCPAddr).Port

	// Not t.TempDir(): as root, the postgres user could not enter it.
	parent, err := os.MkdirTemp("", "pgtest-fail-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(parent)
	if err := os.Chmod(parent, 0o755); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(parent, "c")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err = StartCluster(ctx, Options{Port: port, Dir: dir})
	if err == nil {
		t.Fatal("started on a port in use")
	}
	if !strings.Contains(err.Error(), "Address already in use") {
		t.Errorf("error does not quote the server log:\n%v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "data", "postmaster.pid")); !os.IsNotExist(err) {
		t.Errorf("server left running: %v", err)
	}

	if _, err := StartCluster(ctx, Options{Settings: map[string]string{"port": "1"}}); err == nil {
		t.Error("Settings may set port")
	}
	if os.Geteuid() == 0 {
		_, err := StartCluster(ctx, Options{Dir: filepath.Join(t.TempDir(), "c")})
		if err == nil || !strings.Contains(err.Error(), "cannot enter") {
			t.Errorf("cluster in a dir the postgres user cannot enter: err = %v", err)
		}
	}
}
