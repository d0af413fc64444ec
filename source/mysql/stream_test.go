package mysql

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sluicecdc/sluice/internal/mytest"
	"github.com/sluicecdc/sluice/pkg/change"
)

// TestDDL writes rows around ALTER TABLE, TRUNCATE, RENAME and DROP, then
// streams from before all of them: every row decodes with the shape it was
// written with, not today's.
func TestDDL(t *testing.T) {
	t.Parallel()
	srv := startServer(t, mytest.Options{})
	exec(t, srv, "CREATE DATABASE d; CREATE DATABASE other; CREATE TABLE d.t (id int PRIMARY KEY, a varchar(10)); CREATE TABLE other.x (id int)")
	src := newSource(t, srv, Options{Tables: []string{"d.*"}, Exclude: []string{"d.skip*"}})
	from := current(t, src)
	for _, q := range []string{
		"INSERT INTO d.t VALUES (1, 'one')",
		"INSERT INTO other.x VALUES (1)", // not replicated
		"ALTER TABLE d.t ADD COLUMN b int NOT NULL DEFAULT 5",
		"INSERT INTO d.t VALUES (2, 'two', 20)",
		"ALTER TABLE d.t DROP COLUMN a",
		"INSERT INTO d.t VALUES (3, 30)",
		"ALTER TABLE d.t MODIFY b bigint unsigned",
		"INSERT INTO d.t VALUES (4, 18446744073709551615)",
		"CREATE TABLE d.skipme (id int); INSERT INTO d.skipme VALUES (1)",
		"TRUNCATE TABLE d.t",
		"USE d; TRUNCATE t",
		"RENAME TABLE d.t TO d.t2",
		"INSERT INTO d.t2 VALUES (5, 50)",
		"DROP TABLE d.t2",
		"CREATE TABLE d.after (id int PRIMARY KEY); INSERT INTO d.after VALUES (6)",
	} {
		exec(t, srv, q)
	}
	if err := src.Start(context.Background(), from); err != nil {
		t.Fatal(err)
	}
	want := []struct {
		op    change.Op
		table string
		cols  string // name:type,...
		row   string
	}{
		{change.Insert, "d.t", "id:int,a:varchar(10)", "1,one"},
		{change.Insert, "d.t", "id:int,a:varchar(10),b:int", "2,two,20"},
		{change.Insert, "d.t", "id:int,b:int", "3,30"},
		{change.Insert, "d.t", "id:int,b:bigint unsigned", "4,18446744073709551615"},
		{change.Truncate, "d.t", "id:int,b:bigint unsigned", ""},
		{change.Truncate, "d.t", "id:int,b:bigint unsigned", ""},
		{change.Insert, "d.t2", "id:int,b:bigint unsigned", "5,50"},
		{change.Insert, "d.after", "id:int", "6"},
	}
	var prev *change.Table
	var prevPos change.Position
	for i, w := range want {
		txn, cs := nextTxn(t, src, 20*time.Second)
		if len(cs) != 1 {
			t.Fatalf("transaction %d has %d changes", i, len(cs))
		}
		c := cs[0]
		var cols []string
		for _, col := range c.table.Columns {
			cols = append(cols, col.Name+":"+col.Type)
		}
		var vals []string
		for _, v := range c.after {
			vals = append(vals, v.String())
		}
		got := fmt.Sprintf("%s %s %s %s", c.op, c.table.ID, strings.Join(cols, ","), strings.Join(vals, ","))
		if exp := fmt.Sprintf("%s %s %s %s", w.op, w.table, w.cols, w.row); got != exp {
			t.Errorf("change %d: %s\n                want %s", i, got, exp)
		}
		if prev != nil && prev.ID == c.table.ID && prev.SameShape(c.table) && prev != c.table {
			t.Errorf("change %d: same shape but a new *change.Table", i)
		}
		if prevPos != nil && txn.Position.Compare(prevPos) <= 0 {
			t.Errorf("change %d: position %s not after %s", i, txn.Position, prevPos)
		}
		prev, prevPos = c.table, txn.Position
	}
}

// TestResume stops after N transactions and resumes from the last
// delivered position's text: the next transaction is exactly N+1, both by
// GTID and by file and offset.
func TestResume(t *testing.T) {
	t.Parallel()
	srv := startServer(t, mytest.Options{})
	exec(t, srv, "CREATE DATABASE d; CREATE DATABASE o; CREATE TABLE d.t (id int PRIMARY KEY); CREATE TABLE o.t (id int)")
	first := newSource(t, srv, Options{})
	from := current(t, first)
	for i := 1; i <= 10; i++ {
		exec(t, srv, fmt.Sprintf("INSERT INTO d.t VALUES (%d); INSERT INTO o.t VALUES (%d)", i, i))
	}
	exec(t, srv, "FLUSH BINARY LOGS") // a rotation between the stop and the rest
	for i := 11; i <= 12; i++ {
		exec(t, srv, fmt.Sprintf("INSERT INTO d.t VALUES (%d)", i))
	}
	if err := first.Start(context.Background(), from); err != nil {
		t.Fatal(err)
	}
	var last change.Position
	for i := 1; i <= 5; i++ {
		txn, cs := nextTxn(t, first, 20*time.Second)
		if got := cs[0].after[0].String(); got != fmt.Sprint(i) {
			t.Fatalf("transaction %d holds row %s", i, got)
		}
		last = txn.Position
	}
	first.Close()
	text := last.String()
	if !strings.Contains(text, ";gtid=0-") {
		t.Fatalf("position %s has no GTID", text)
	}
	for _, mode := range []string{"gtid", "file"} {
		t.Run(mode, func(t *testing.T) {
			src := newSource(t, srv, Options{})
			pos, err := src.ParsePosition(text)
			if err != nil {
				t.Fatal(err)
			}
			if mode == "file" {
				p := pos.(Position)
				p.GTID = ""
				pos = p
			}
			if err := src.Start(context.Background(), pos); err != nil {
				t.Fatal(err)
			}
			for i := 6; i <= 12; i++ {
				txn, cs := nextTxn(t, src, 20*time.Second)
				if len(cs) != 1 || cs[0].after[0].String() != fmt.Sprint(i) {
					t.Fatalf("after resuming: transaction %d holds %v", i, cs)
				}
				if txn.Position.Compare(pos) <= 0 {
					t.Fatalf("transaction %d at %s, not after %s", i, txn.Position, pos)
				}
			}
			ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
			defer cancel()
			if txn, err := src.Next(ctx); err == nil {
				t.Fatalf("unexpected transaction %s", txn.ID)
			}
		})
	}
}

// TestServerRestart restarts (cleanly, then with kill -9) the source server
// mid-stream: the stream goes on with no duplicate and no missing
// transaction.
func TestServerRestart(t *testing.T) {
	t.Parallel()
	srv := startServer(t, mytest.Options{Durable: true})
	exec(t, srv, "CREATE DATABASE d; CREATE TABLE d.t (id int PRIMARY KEY)")
	src := newSource(t, srv, Options{})
	if err := src.Start(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	next := 1
	write := func(n int) {
		t.Helper()
		for i := 0; i < n; i++ {
			exec(t, srv, fmt.Sprintf("INSERT INTO d.t VALUES (%d)", next))
			next++
		}
	}
	seen := 0
	read := func() {
		t.Helper()
		for seen < next-1 {
			_, cs := nextTxn(t, src, 45*time.Second)
			if len(cs) != 1 || cs[0].after[0].String() != fmt.Sprint(seen+1) {
				t.Fatalf("after %d transactions got %v", seen, cs)
			}
			seen++
		}
	}
	write(10)
	read()
	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	if err := srv.Start(ctx); err != nil {
		t.Fatal(err)
	}
	write(10)
	read()
	if err := srv.Kill(); err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(ctx); err != nil {
		t.Fatal(err)
	}
	write(10)
	read()
	ctx2, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	defer cancel()
	if txn, err := src.Next(ctx2); err == nil {
		t.Fatalf("duplicate transaction %s", txn.ID)
	}
}

// TestPurgedBinlog resumes from a position whose binlog was purged: the
// error says so and names the fix.
func TestPurgedBinlog(t *testing.T) {
	t.Parallel()
	srv := startServer(t, mytest.Options{})
	exec(t, srv, "CREATE DATABASE d; CREATE TABLE d.t (id int PRIMARY KEY); INSERT INTO d.t VALUES (1)")
	src := newSource(t, srv, Options{})
	old := current(t, src)
	exec(t, srv, "INSERT INTO d.t VALUES (2); FLUSH BINARY LOGS; INSERT INTO d.t VALUES (3)")
	// The server keeps a binlog until InnoDB no longer needs it for crash
	// recovery: retry until the old one is gone.
	for deadline := time.Now().Add(20 * time.Second); ; {
		exec(t, srv, "FLUSH BINARY LOGS")
		exec(t, srv, "PURGE BINARY LOGS TO '"+current(t, src).File+"'")
		if first, err := srv.QueryValue(context.Background(), "SELECT 1"); err == nil && first != "" && !hasBinlog(t, srv, old.File) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s was not purged", old.File)
		}
		time.Sleep(200 * time.Millisecond)
	}
	for name, pos := range map[string]Position{"gtid": old, "file": {File: old.File, Pos: old.Pos}} {
		t.Run(name, func(t *testing.T) {
			src := newSource(t, srv, Options{})
			if err := src.Start(context.Background(), pos); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			_, err := src.Next(ctx)
			t.Log(err)
			if !errors.Is(err, ErrPositionLost) || !strings.Contains(err.Error(), "--resnapshot") || !strings.Contains(err.Error(), "binlog_expire_logs_seconds") {
				t.Fatalf("want a clear purged-binlog error, got %v", err)
			}
		})
	}
}

// TestMetadataNotFull: once the server stops logging full metadata, the
// stream stops with an error naming the setting.
func TestMetadataNotFull(t *testing.T) {
	t.Parallel()
	srv := startServer(t, mytest.Options{})
	exec(t, srv, "CREATE DATABASE d; CREATE TABLE d.t (id int PRIMARY KEY)")
	src := newSource(t, srv, Options{})
	if err := src.Start(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	exec(t, srv, "INSERT INTO d.t VALUES (1)")
	nextTxn(t, src, 20*time.Second)
	exec(t, srv, "SET GLOBAL binlog_row_metadata = 'MINIMAL'")
	exec(t, srv, "INSERT INTO d.t VALUES (2)")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := src.Next(ctx); err == nil || !strings.Contains(err.Error(), "binlog_row_metadata") {
		t.Fatalf("want an error naming binlog_row_metadata, got %v", err)
	}
	// And Start refuses the server outright now.
	again := newSource(t, srv, Options{})
	if err := again.Start(context.Background(), nil); err == nil || !strings.Contains(err.Error(), "binlog_row_metadata = FULL") {
		t.Fatalf("Start: want an error naming binlog_row_metadata, got %v", err)
	}
	// A row image that is not FULL stops the stream too.
	third := newSource(t, srv, Options{})
	from := current(t, third)
	exec(t, srv, "SET GLOBAL binlog_row_metadata = 'FULL'")
	exec(t, srv, "ALTER TABLE d.t ADD COLUMN v int; SET SESSION binlog_row_image = 'MINIMAL'; UPDATE d.t SET v = 3 WHERE id = 2; SET SESSION binlog_row_image = 'FULL'")
	if err := third.Start(context.Background(), from); err != nil {
		t.Fatal(err)
	}
	ctx2, cancel2 := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel2()
	if _, err := third.Next(ctx2); err == nil || !strings.Contains(err.Error(), "binlog_row_image is not FULL") {
		t.Fatalf("want an error naming binlog_row_image, got %v", err)
	}
}

// hasBinlog tells whether SHOW BINARY LOGS lists the file.
func hasBinlog(t *testing.T, srv *mytest.Server, file string) bool {
	t.Helper()
	rows, err := srv.DB().Query("SHOW BINARY LOGS")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	for rows.Next() {
		vals := make([]any, len(cols))
		var name string
		vals[0] = &name
		for i := 1; i < len(vals); i++ {
			vals[i] = new(any)
		}
		if err := rows.Scan(vals...); err != nil {
			t.Fatal(err)
		}
		if name == file {
			return true
		}
	}
	return false
}
