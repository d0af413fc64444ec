package mysql

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/sluicecdc/sluice/internal/mytest"
	"github.com/sluicecdc/sluice/pkg/change"
)

// testLog shows the source's log lines with -v only.
func testLog(t testing.TB) zerolog.Logger {
	if !testing.Verbose() {
		return zerolog.Nop()
	}
	return zerolog.New(zerolog.ConsoleWriter{Out: os.Stderr}).With().Timestamp().Str("test", t.Name()).Logger().Level(zerolog.InfoLevel)
}

// exec runs statements on the server or fails the test.
func exec(t testing.TB, srv *mytest.Server, sql string) {
	t.Helper()
	if err := srv.Exec(context.Background(), sql); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

// newSource opens a source on srv for the table patterns.
func newSource(t testing.TB, srv *mytest.Server, opts Options) *Source {
	t.Helper()
	if opts.DSN == "" {
		opts.DSN = srv.DSN("")
	}
	if opts.Tables == nil {
		opts.Tables = []string{"d.*"}
	}
	opts.Log = testLog(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	src, err := New(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { src.Close() })
	return src
}

// current is the server's binlog position now.
func current(t testing.TB, src *Source) Position {
	t.Helper()
	p, err := src.currentPosition(context.Background(), src.db)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// captured is a change with its rows copied out of the transaction.
type captured struct {
	op     change.Op
	table  *change.Table
	before change.Row
	after  change.Row
}

// nextTxn waits for the next transaction and returns its changes.
func nextTxn(t testing.TB, src *Source, timeout time.Duration) (*change.Txn, []captured) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	txn, err := src.Next(ctx)
	if err != nil {
		t.Fatalf("next transaction: %v", err)
	}
	var out []captured
	err = txn.Each(func(c *change.Change) error {
		out = append(out, captured{op: c.Op, table: c.Table, before: cloneRow(c.Before), after: cloneRow(c.After)})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	txn.Close()
	return txn, out
}

func cloneRow(r change.Row) change.Row {
	if r == nil {
		return nil
	}
	out := make(change.Row, len(r))
	for i, v := range r {
		out[i] = change.Value{State: v.State, Data: append([]byte(nil), v.Data...)}
	}
	return out
}

// value returns the text of the named column ("NULL" for NULL).
func value(t *change.Table, r change.Row, col string) string {
	i := t.ColumnIndex(col)
	if i < 0 || i >= len(r) {
		return "<no column " + col + ">"
	}
	return r[i].String()
}

// startServer starts a MariaDB server and shows the end of its log when
// the test fails.
func startServer(t *testing.T, opts mytest.Options) *mytest.Server {
	t.Helper()
	srv := mytest.Start(t, opts)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("server log:\n%s", srv.LogTail(60))
		}
	})
	return srv
}
