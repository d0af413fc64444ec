package mysql

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sluicecdc/sluice/internal/mytest"
)

// wantProblems fails unless every wanted fragment appears in one of the
// problems (and, with none, no problem is reported).
func wantProblems(t *testing.T, problems []string, want ...string) {
	t.Helper()
	all := strings.Join(problems, "\n")
	if len(want) == 0 && len(problems) > 0 {
		t.Errorf("want no problems, got:\n%s", all)
	}
	for _, w := range want {
		if !strings.Contains(all, w) {
			t.Errorf("no problem mentions %q; got:\n%s", w, all)
		}
	}
}

func TestCheckHealthy(t *testing.T) {
	t.Parallel()
	srv := startServer(t, mytest.Options{})
	exec(t, srv, "CREATE DATABASE d; CREATE TABLE d.t (id int PRIMARY KEY); CREATE TABLE d.nokey (a int, b int)")
	src := newSource(t, srv, Options{Tables: []string{"d.t"}})
	wantProblems(t, src.Check(context.Background()))

	src = newSource(t, srv, Options{Tables: []string{"d.*", "nope.*"}, ServerID: uint32(srv.ServerID)})
	problems := src.Check(context.Background())
	wantProblems(t, problems, `pattern "nope.*" matches no table`, "d.nokey has no primary key", "ALTER TABLE `d`.`nokey` ADD PRIMARY KEY",
		fmt.Sprintf("server_id is %d, the replica server id Sluice uses", srv.ServerID))
	if len(problems) != 3 {
		t.Errorf("want 3 problems, got %q", problems)
	}

	// A streaming replica with the server id another source would use.
	streaming := newSource(t, srv, Options{Tables: []string{"d.t"}, ServerID: 4242})
	if err := streaming.Start(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	exec(t, srv, "INSERT INTO d.t VALUES (1)")
	nextTxn(t, streaming, 20*time.Second) // registered by now
	clash := newSource(t, srv, Options{Tables: []string{"d.t"}, ServerID: 4242})
	wantProblems(t, clash.Check(context.Background()), "is connected with server id 4242, the one Sluice uses")
}

func TestCheckNoBinlog(t *testing.T) {
	t.Parallel()
	srv := startServer(t, mytest.Options{NoBinlog: true})
	exec(t, srv, "CREATE DATABASE d; CREATE TABLE d.t (id int PRIMARY KEY)")
	src := newSource(t, srv, Options{})
	wantProblems(t, src.Check(context.Background()), "log_bin is OFF", "log_bin = binlog")
	if err := src.Start(context.Background(), nil); err == nil || !strings.Contains(err.Error(), "log_bin is OFF") {
		t.Fatalf("Start: want a log_bin error, got %v", err)
	}
	if _, err := src.Snapshot(context.Background()); err == nil || !strings.Contains(err.Error(), "log_bin") {
		t.Fatalf("Snapshot: want a log_bin error, got %v", err)
	}
}

func TestCheckSettings(t *testing.T) {
	t.Parallel()
	srv := startServer(t, mytest.Options{Args: []string{"--binlog-row-metadata=MINIMAL", "--binlog-format=MIXED",
		"--binlog-row-image=MINIMAL", "--binlog-expire-logs-seconds=3600"}})
	exec(t, srv, "CREATE DATABASE d; CREATE TABLE d.t (id int PRIMARY KEY)")
	src := newSource(t, srv, Options{})
	wantProblems(t, src.Check(context.Background()),
		"binlog_format is MIXED", "SET GLOBAL binlog_format = 'ROW'",
		"binlog_row_image is MINIMAL", "binlog_row_image = FULL",
		"binlog_row_metadata is MINIMAL", "SET GLOBAL binlog_row_metadata = 'FULL'",
		"purged after 3600 seconds", "binlog_expire_logs_seconds = 604800")
	err := src.Start(context.Background(), nil)
	if err == nil || !strings.Contains(err.Error(), "binlog_row_metadata") || !strings.Contains(err.Error(), "binlog_format") {
		t.Fatalf("Start: want the setting errors, got %v", err)
	}
}

func TestCheckPrivileges(t *testing.T) {
	t.Parallel()
	srv := startServer(t, mytest.Options{})
	exec(t, srv, `CREATE DATABASE d; CREATE TABLE d.t (id int PRIMARY KEY);
		CREATE USER 'weak'@'%' IDENTIFIED BY 'pw-s3cret'; GRANT SELECT ON mysql.* TO 'weak'@'%';
		CREATE USER 'repl'@'%' IDENTIFIED BY 'pw'; GRANT SELECT, RELOAD, REPLICATION SLAVE, BINLOG MONITOR ON *.* TO 'repl'@'%'`)
	src := newSource(t, srv, Options{DSN: fmt.Sprintf("mysql://weak:pw-s3cret@127.0.0.1:%d/", srv.Port)})
	problems := src.Check(context.Background())
	wantProblems(t, problems,
		"lacks REPLICATION SLAVE", "GRANT REPLICATION SLAVE ON *.* TO 'weak'@'%'",
		"lacks BINLOG MONITOR", "GRANT BINLOG MONITOR ON *.* TO 'weak'@'%'",
		`pattern "d.*" matches no table 'weak'@'%' can see`, "GRANT SELECT ON db.* TO 'weak'@'%'") // it cannot even see d.t
	if strings.Contains(strings.Join(problems, " "), "s3cret") {
		t.Error("a problem quotes the password")
	}
	err := src.Start(context.Background(), nil)
	if err == nil || !strings.Contains(err.Error(), "BINLOG MONITOR") || strings.Contains(err.Error(), "s3cret") {
		t.Fatalf("Start: want a privilege error naming the grant, got %v", err)
	}

	ok := newSource(t, srv, Options{DSN: fmt.Sprintf("mysql://repl:pw@127.0.0.1:%d/", srv.Port)})
	wantProblems(t, ok.Check(context.Background()))
}
