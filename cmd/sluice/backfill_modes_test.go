package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/sluicecdc/sluice/pkg/metrics"
)

// TestBackfillModes back-fills a table into history and append targets of
// both SQL sinks: every row arrives once as a snapshot row (_op =
// 'snapshot'), beside the rows of the changes streamed before it, and in
// history mode the current versions equal the source.
func TestBackfillModes(t *testing.T) {
	t.Parallel()
	for _, dst := range []string{"postgres", "mysql"} {
		for _, mode := range []string{"merge", "history", "append"} {
			t.Run(dst+"/"+mode, func(t *testing.T) { t.Parallel(); testBackfillMode(t, "postgres", dst, mode) })
		}
	}
}

// TestMySQLBackfillModes is TestBackfillModes with a MariaDB source.
func TestMySQLBackfillModes(t *testing.T) {
	t.Parallel()
	for _, dst := range []string{"postgres", "mysql"} {
		for _, mode := range []string{"merge", "history", "append"} {
			t.Run(dst+"/"+mode, func(t *testing.T) { t.Parallel(); testBackfillMode(t, "mysql", dst, mode) })
		}
	}
}

func testBackfillMode(t *testing.T, src, dst, mode string) {
	x := newXEnv(t, src, dst, "mode: "+mode+"\n")
	schema, pattern, create := "public", `["public.*"]`,
		`CREATE TABLE acct (id int PRIMARY KEY, v text); INSERT INTO acct SELECT g, 'v' || g FROM generate_series(1, 5000) g`
	if src == "mysql" {
		schema, pattern, create = "app", `["app.*"]`,
			`CREATE TABLE app.acct (id int PRIMARY KEY, v text); INSERT INTO app.acct SELECT seq, concat('v', seq) FROM app.seq_1_to_5000`
	}
	table := schema + ".acct"
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	b, err := os.ReadFile(x.cfg)
	if err != nil {
		t.Fatal(err)
	}
	cfg := strings.Replace(string(b), "  tables: "+pattern+"\n", "  tables: "+pattern+"\n  snapshot: never\n", 1)
	cfg += fmt.Sprintf("http:\n  listen: %s\n  admin: true\n", addr)
	if err := os.WriteFile(x.cfg, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	be := &backfillEnv{env: x.env, addr: addr}
	x.from.exec(t, create)
	p := be.startWith()
	be.waitStatus(p, 60*time.Second, "streaming", streaming)
	x.from.exec(t, `UPDATE `+table+` SET v = 'changed' WHERE id IN (1, 2)`)
	count := func(where string) int {
		t.Helper()
		q := "SELECT count(*) FROM " + table + " WHERE " + where
		var n int
		switch e := x.to.(type) {
		case *pgEnd:
			v, err := e.c.QueryValue(context.Background(), e.db, q)
			if err != nil {
				return -1
			}
			fmt.Sscan(v, &n)
		case *myEnd:
			if err := e.s.DB().QueryRow(q).Scan(&n); err != nil {
				return -1
			}
		}
		return n
	}
	deadline := time.Now().Add(60 * time.Second)
	for mode != "merge" && count("_op = 'update'") != 2 || mode == "merge" && count("v = 'changed'") != 2 {
		if time.Now().After(deadline) {
			t.Fatalf("the streamed updates did not arrive; log:\n%s", tail(p.logText(), 6000))
		}
		time.Sleep(100 * time.Millisecond)
	}
	if mode == "merge" { // damage: a row the source never had, one it no longer has, one changed
		x.from.exec(t, `DELETE FROM `+table+` WHERE id = 4000`)
		for count("id = 4000") != 0 {
			time.Sleep(100 * time.Millisecond)
		}
		x.to.exec(t, `INSERT INTO `+table+` (id, v) VALUES (999999, 'ghost'), (4000, 'deleted on the source')`)
		x.to.exec(t, `UPDATE `+table+` SET v = 'damaged' WHERE id = 1`)
	}
	be.snapshotCmd("--table", table)
	be.waitStatus(p, 120*time.Second, "the end of the back-fill", func(s metrics.Status) bool {
		_, done := backfillRows(s, table)
		return done
	})
	time.Sleep(time.Second) // the last chunk's batch commits
	if mode == "merge" {
		x.waitSame(30*time.Second, p, table)
		p.stop(t)
		return
	}
	if n := count("_op = 'snapshot'"); n != 5000 {
		t.Errorf("%d snapshot rows, want 5000", n)
	}
	if n := count("_op = 'update'"); n != 2 {
		t.Errorf("%d update rows, want 2", n)
	}
	if mode == "history" { // append rows keep the values as JSON in _after
		if n := count("_current AND _op = 'snapshot'"); n != 5000 {
			t.Errorf("%d current snapshot versions, want 5000", n)
		}
		if n := count("_current AND v = 'changed'"); n != 2 {
			t.Errorf("%d current versions hold the updated values, want 2", n)
		}
	}
	p.stop(t)
}
