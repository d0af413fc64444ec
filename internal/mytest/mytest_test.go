package mytest

import (
	"context"
	"strings"
	"testing"
)

func TestServerLifecycle(t *testing.T) {
	ctx := context.Background()
	s := Start(t, Options{Durable: true})
	for _, q := range []struct{ sql, want string }{
		{"SELECT @@log_bin", "1"},
		{"SELECT @@binlog_format", "ROW"},
		{"SELECT @@binlog_row_image", "FULL"},
		{"SELECT @@binlog_row_metadata", "FULL"},
	} {
		got, err := s.QueryValue(ctx, q.sql)
		if err != nil || got != q.want {
			t.Fatalf("%s = %q, %v; want %q", q.sql, got, err, q.want)
		}
	}
	if err := s.Exec(ctx, "CREATE DATABASE d; CREATE TABLE d.t (id int primary key); INSERT INTO d.t VALUES (1),(2)"); err != nil {
		t.Fatal(err)
	}
	if err := s.Kill(); err != nil {
		t.Fatal(err)
	}
	if err := s.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if n, err := s.QueryValue(ctx, "SELECT count(*) FROM d.t"); err != nil || n != "2" {
		t.Fatalf("rows after kill and restart: %q, %v", n, err)
	}
	other := Start(t, Options{NoBinlog: true})
	if other.ServerID == s.ServerID {
		t.Fatalf("two servers share server id %d", s.ServerID)
	}
	if v, _ := other.QueryValue(ctx, "SELECT @@log_bin"); v != "0" {
		t.Fatalf("NoBinlog server has log_bin=%s", v)
	}
	if !strings.HasPrefix(s.DSN("d"), "mysql://root@127.0.0.1:") {
		t.Fatal(s.DSN("d"))
	}
}
