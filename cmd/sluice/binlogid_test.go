package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicecdc/sluice/internal/mytest"
)

// The tests here change what the source's binary log is under Sluice:
// RESET MASTER, and a failover to a replica. Sluice must go on where it
// can and stop with the recovery where it cannot, never skip a change.

const binlogTables = "CREATE TABLE app.t (id bigint AUTO_INCREMENT PRIMARY KEY, n int, at datetime(6)); CREATE TABLE app.log (n int, at datetime(6))"

// writeLoad writes to the server srv returns until stop is called: one
// round is an insert, an update and a delete in app.t and an insert in the
// keyless app.log, where a doubled or lost transaction shows as a row too
// many or too few.
type writeLoad struct {
	rounds atomic.Int64
	srv    atomic.Pointer[mytest.Server]
	stopc  chan struct{}
	done   chan error
}

func startLoad(srv *mytest.Server, from int64) *writeLoad {
	l := &writeLoad{stopc: make(chan struct{}), done: make(chan error, 1)}
	l.srv.Store(srv)
	l.rounds.Store(from)
	go func() {
		for {
			select {
			case <-l.stopc:
				l.done <- nil
				return
			default:
			}
			i := l.rounds.Load() + 1
			err := l.srv.Load().Exec(context.Background(), fmt.Sprintf(`INSERT INTO app.t (n, at) VALUES (%[1]d, NOW(6)); INSERT INTO app.log VALUES (%[1]d, NOW(6));
				UPDATE app.t SET n = n + 1 WHERE id = %[2]d; DELETE FROM app.t WHERE id = %[3]d`, i, i/2+1, i/3+1))
			if err != nil {
				l.done <- fmt.Errorf("write round %d: %w", i, err)
				return
			}
			l.rounds.Store(i)
			time.Sleep(3 * time.Millisecond)
		}
	}()
	return l
}

// stop ends the load and returns the rounds written.
func (l *writeLoad) stop(t *testing.T) int64 {
	t.Helper()
	close(l.stopc)
	if err := <-l.done; err != nil {
		t.Fatal(err)
	}
	return l.rounds.Load()
}

// setSourceDSN points the config's source at dsn.
func (x *xenv) setSourceDSN(t *testing.T, old, dsn string) {
	t.Helper()
	b, err := os.ReadFile(x.cfg)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "dsn: "+old+"\n") {
		t.Fatalf("config has no source dsn %s:\n%s", old, b)
	}
	if err := os.WriteFile(x.cfg, []byte(strings.Replace(string(b), "dsn: "+old+"\n", "dsn: "+dsn+"\n", 1)), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestMariaDBResetMaster runs RESET MASTER on the source under a write
// load while Sluice streams: Sluice has read the old binlog to its end, so
// it reads on from the start of the new one, and a restart resumes there.
// RESET MASTER while Sluice is stopped loses what the old binlog held after
// the checkpoint: Sluice stops and says so, and --resnapshot recovers. The
// target ends equal to the source both times, keyless table included.
func TestMariaDBResetMaster(t *testing.T) {
	t.Parallel()
	x := newXEnv(t, "mysql", "mysql", "")
	src := x.from.(*myEnd).s
	// A server's binlog is rarely at its first file; when it is, RESET
	// MASTER makes a new file of the same name, and Sluice has to stop
	// (source/mysql TestResetMasterSameName).
	x.from.exec(t, "FLUSH BINARY LOGS; "+binlogTables)
	tables := []string{"app.t", "app.log"}
	p := x.start()
	x.waitSame(60*time.Second, p, tables...)

	load := startLoad(src, 0)
	time.Sleep(2 * time.Second)
	x.from.exec(t, "RESET MASTER")
	t.Logf("RESET MASTER after %d write rounds", load.rounds.Load())
	time.Sleep(2 * time.Second)
	p.stop(t) // under the load: the restart resumes in the new binlog
	if !strings.Contains(p.logText(), "reading on from the start of the new one") {
		t.Errorf("the log does not say Sluice followed the reset binlog:\n%s", tail(p.logText(), 4000))
	}
	p = x.start()
	time.Sleep(2 * time.Second)
	n := load.stop(t)
	x.waitSame(120*time.Second, p, tables...)
	t.Logf("target equals source after RESET MASTER under load and a restart, %d write rounds", n)
	p.stop(t)

	// Reset while Sluice is stopped: the changes after its checkpoint are
	// gone with the old binlog.
	x.from.exec(t, "RESET MASTER; INSERT INTO app.t (n) VALUES (-1); INSERT INTO app.log VALUES (-1, NOW(6))")
	p = x.start()
	waitExit(t, p, 60*time.Second, "RESET MASTER", "sluice run --resnapshot")
	p = x.start("--resnapshot")
	x.waitSame(120*time.Second, p, tables...)
	p.stop(t)
}

// TestMariaDBFailover replicates a primary with a GTID replica beside it
// (log_slave_updates) under a write load, crashes Sluice, promotes the
// replica, points Sluice's source DSN at it and writes on there. The
// replica numbers its binlog files from 1 while the primary's are further
// on, as they are after any long run: positions must compare by GTID.
// The target ends equal to the promoted replica, row for row.
func TestMariaDBFailover(t *testing.T) {
	t.Parallel()
	x := &xenv{env: &env{t: t, dir: t.TempDir()}}
	ctx := context.Background()
	primary := mytest.Start(t, mytest.Options{Durable: true})
	replica := mytest.Start(t, mytest.Options{Durable: true})
	x.from = &myEnd{s: primary, db: "app"}
	x.to = startEndpoint(t, "mysql", "dwh", false)
	if err := replica.Exec(ctx, fmt.Sprintf("CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT=%d, MASTER_USER='root', "+
		"MASTER_PASSWORD='', MASTER_USE_GTID=slave_pos, MASTER_CONNECT_RETRY=1; START SLAVE", primary.Port)); err != nil {
		t.Fatal(err)
	}
	x.from.exec(t, "FLUSH BINARY LOGS; FLUSH BINARY LOGS; FLUSH BINARY LOGS; CREATE DATABASE app; "+binlogTables)
	x.cfg = filepath.Join(x.dir, "sluice.yaml")
	cfg := fmt.Sprintf("name: test\nsource:\n  kind: mysql\n  dsn: %s\n  tables: [\"app.*\"]\n  mysql:\n    server_id: 4242\n"+
		"sink:\n  kind: mysql\n  dsn: %s\ncheckpoint:\n  path: %s\nlog:\n  level: debug\n",
		primary.DSN("app"), x.to.dsn(), filepath.Join(x.dir, "test.checkpoint"))
	if err := os.WriteFile(x.cfg, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	tables := []string{"app.t", "app.log"}
	p := x.start()
	x.waitSame(60*time.Second, p, tables...)

	load := startLoad(primary, 0)
	time.Sleep(3 * time.Second)
	p.kill9()
	time.Sleep(time.Second) // the primary writes on while Sluice is down
	n := load.stop(t)

	// Promote the replica once it has everything the primary wrote.
	pos, err := primary.QueryValue(ctx, "SELECT @@GLOBAL.gtid_binlog_pos")
	if err != nil {
		t.Fatal(err)
	}
	if r, err := replica.QueryValue(ctx, fmt.Sprintf("SELECT MASTER_GTID_WAIT('%s', 60)", pos)); err != nil || r != "0" {
		t.Fatalf("the replica did not reach %s: %q %v", pos, r, err)
	}
	if err := replica.Exec(ctx, "STOP SLAVE; RESET SLAVE ALL"); err != nil {
		t.Fatal(err)
	}
	primaryFile, replicaFile := binlogFile(t, primary), binlogFile(t, replica)
	if primaryFile <= replicaFile {
		t.Fatalf("the primary writes %s, the replica %s: the test needs the primary's file numbers ahead", primaryFile, replicaFile)
	}
	t.Logf("promoted the replica after %d write rounds on the primary (GTID %s, %s); the replica writes %s", n, pos, primaryFile, replicaFile)

	x.setSourceDSN(t, primary.DSN("app"), replica.DSN("app"))
	x.from = &myEnd{s: replica, db: "app"}
	load = startLoad(replica, n)
	p = x.start()
	time.Sleep(3 * time.Second)
	n = load.stop(t)
	x.waitSame(120*time.Second, p, tables...)
	if !strings.Contains(p.logText(), "resuming by GTID") {
		t.Errorf("the log does not say Sluice resumed by GTID on another server:\n%s", tail(p.logText(), 4000))
	}
	t.Logf("target equals the promoted replica after %d write rounds", n)
	p.stop(t)
}

// binlogFile is the binlog file the server writes.
func binlogFile(t *testing.T, srv *mytest.Server) string {
	t.Helper()
	var file, pos, doDB, ignoreDB string
	if err := srv.DB().QueryRow("SHOW MASTER STATUS").Scan(&file, &pos, &doDB, &ignoreDB); err != nil {
		t.Fatal(err)
	}
	return file
}
