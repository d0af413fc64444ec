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

// TestResetMaster runs RESET MASTER under a streaming source: the source
// has read the old binlog to its end, so it goes on from the start of the
// new one, with positions that come after every old one, and a restart from
// such a position resumes there. A restart from a position of the old
// binlog stops with ErrLogChanged and the recovery, also when the new
// binlog has grown past the old position's GTID and offset in a file of the
// same name.
func TestResetMaster(t *testing.T) {
	t.Parallel()
	srv := startServer(t, mytest.Options{})
	exec(t, srv, "CREATE DATABASE d; CREATE TABLE d.t (id int PRIMARY KEY, pad varchar(200))")
	src := newSource(t, srv, Options{})
	if err := src.Start(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	insert(t, srv, 1, 5)
	inFirst := readIDs(t, src, 1, 5).(Position)
	if inFirst.Server == 0 || inFirst.Epoch != 0 || inFirst.File != "binlog.000001" {
		t.Fatalf("position %s: want binlog.000001, a server and epoch 0", inFirst)
	}
	// The active file must not be the new binlog's first one (see
	// TestResetMasterSameName).
	exec(t, srv, "FLUSH BINARY LOGS")
	insert(t, srv, 6, 6)
	old := readIDs(t, src, 6, 6)

	exec(t, srv, "RESET MASTER")
	insert(t, srv, 7, 9)
	mark, cs := nextTxn(t, src, 20*time.Second)
	if len(cs) != 0 || mark.Position.(Position).Epoch != 1 || mark.Position.Compare(old) <= 0 {
		t.Fatalf("after RESET MASTER: want an empty transaction at the new binlog's start in epoch 1, got %d changes at %s", len(cs), mark.Position)
	}
	last := readIDs(t, src, 7, 9)
	if last.Compare(old) <= 0 || old.Compare(last) >= 0 {
		t.Fatalf("position %s after the reset must come after %s", last, old)
	}
	src.Close()

	t.Run("resume in the new binlog", func(t *testing.T) {
		s := newSource(t, srv, Options{})
		pos, err := s.ParsePosition(last.String())
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Start(context.Background(), pos); err != nil {
			t.Fatal(err)
		}
		insert(t, srv, 10, 10)
		readIDs(t, s, 10, 10)
	})
	t.Run("old position", func(t *testing.T) { wantChanged(t, srv, old.(Position), "RESET MASTER") })

	// The new binlog grows past the first position's GTID sequence number
	// and offset, in a file of the same name: resuming there would
	// silently skip the new binlog's first transactions.
	insert(t, srv, 11, 30)
	cur := current(t, newSource(t, srv, Options{}))
	if cur.File != inFirst.File || cur.Pos <= inFirst.Pos || compareGTID(inFirst.GTID, cur.GTID) > 0 {
		t.Fatalf("the new binlog did not grow past %s: %s", inFirst, cur)
	}
	t.Run("old position, grown past", func(t *testing.T) { wantChanged(t, srv, inFirst, "binlog.000001") })
}

// TestResetMasterSameName runs RESET MASTER while the active binlog file is
// binlog.000001, the name the new binlog's first file gets: the server's
// dump thread then waits for the new file to pass the old offset, and
// whatever the old file got after the last event read is lost unread.
// The source must notice at the next heartbeat and stop, never wait
// silently or go on.
func TestResetMasterSameName(t *testing.T) {
	t.Parallel()
	srv := startServer(t, mytest.Options{})
	exec(t, srv, "CREATE DATABASE d; CREATE TABLE d.t (id int PRIMARY KEY, pad varchar(200))")
	src := newSource(t, srv, Options{})
	if err := src.Start(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	insert(t, srv, 1, 5)
	readIDs(t, src, 1, 5)
	exec(t, srv, "RESET MASTER")
	insert(t, srv, 6, 6)
	ctx, cancel := context.WithTimeout(context.Background(), 3*heartbeat)
	defer cancel()
	txn, err := src.Next(ctx)
	if err == nil {
		t.Fatalf("after RESET MASTER the source delivered %s at %s, want ErrLogChanged", txn.ID, txn.Position)
	}
	if !errors.Is(err, ErrLogChanged) || !strings.Contains(err.Error(), "RESET MASTER") || !strings.Contains(err.Error(), "sluice run --resnapshot") {
		t.Fatalf("want ErrLogChanged naming RESET MASTER and --resnapshot, got %v", err)
	}
	t.Log(err)
}

func insert(t *testing.T, srv *mytest.Server, from, to int) {
	t.Helper()
	for i := from; i <= to; i++ {
		exec(t, srv, fmt.Sprintf("INSERT INTO d.t VALUES (%d, REPEAT('x', 200))", i))
	}
}

// readIDs reads one transaction per id, each inserting that id, at
// increasing positions, and returns the last position.
func readIDs(t *testing.T, s *Source, from, to int) change.Position {
	t.Helper()
	var last change.Position
	for i := from; i <= to; i++ {
		txn, cs := nextTxn(t, s, 20*time.Second)
		if len(cs) != 1 || value(cs[0].table, cs[0].after, "id") != fmt.Sprint(i) {
			t.Fatalf("want row %d, got %d changes %v at %s", i, len(cs), cs, txn.Position)
		}
		if last != nil && txn.Position.Compare(last) <= 0 {
			t.Fatalf("position %s does not come after %s", txn.Position, last)
		}
		last = txn.Position
	}
	return last
}

// wantChanged starts a source at from and wants ErrLogChanged with the
// recovery and the given words.
func wantChanged(t *testing.T, srv *mytest.Server, from Position, words string) {
	t.Helper()
	s := newSource(t, srv, Options{})
	if err := s.Start(context.Background(), from); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	txn, err := s.Next(ctx)
	if err == nil {
		t.Fatalf("resuming from %s delivered %s at %s, want ErrLogChanged", from, txn.ID, txn.Position)
	}
	if !errors.Is(err, ErrLogChanged) || !strings.Contains(err.Error(), words) || !strings.Contains(err.Error(), "sluice run --resnapshot") {
		t.Fatalf("want ErrLogChanged saying %q and --resnapshot, got %v", words, err)
	}
	t.Log(err)
}

// TestResetMasterBehind runs RESET MASTER while the source is a whole
// binlog file behind: the files after the one it reads are deleted unread,
// so it must stop with ErrLogChanged after the last transaction it could
// read, never follow into the new binlog.
func TestResetMasterBehind(t *testing.T) {
	t.Parallel()
	srv := startServer(t, mytest.Options{})
	// Not in binlog.000001, which the new binlog's first file reuses.
	exec(t, srv, "CREATE DATABASE d; CREATE TABLE d.t (id int PRIMARY KEY, pad mediumtext); FLUSH BINARY LOGS")
	src := newSource(t, srv, Options{})
	from := current(t, src)
	// Far more than the socket buffers hold: the server's dump thread
	// stays inside this file until the source is read.
	const n = 300
	for i := 1; i <= n; i++ {
		exec(t, srv, fmt.Sprintf("INSERT INTO d.t VALUES (%d, REPEAT('x', 100000))", i))
	}
	exec(t, srv, "FLUSH BINARY LOGS; INSERT INTO d.t VALUES (0, 'lost with the reset')")
	if err := src.Start(context.Background(), from); err != nil {
		t.Fatal(err)
	}
	nextTxn(t, src, 20*time.Second) // the dump thread has the first file open
	exec(t, srv, "RESET MASTER")
	exec(t, srv, "INSERT INTO d.t VALUES (-1, 'after the reset')")
	for i := 2; ; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		txn, err := src.Next(ctx)
		cancel()
		if err != nil {
			if i != n+1 || !errors.Is(err, ErrLogChanged) || !strings.Contains(err.Error(), "deleted unread") {
				t.Fatalf("after %d transactions: want ErrLogChanged saying the later files were deleted unread, got %v", i-1, err)
			}
			t.Log(err)
			return
		}
		var ids []string
		txn.Each(func(c *change.Change) error {
			ids = append(ids, value(c.Table, c.After, "id"))
			return nil
		})
		txn.Close()
		if len(ids) != 1 || ids[0] != fmt.Sprint(i) {
			t.Fatalf("transaction %d holds %v at %s", i, ids, txn.Position)
		}
	}
}
