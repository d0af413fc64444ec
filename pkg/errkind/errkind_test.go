package errkind

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"syscall"
	"testing"

	gomysql "github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5/pgconn"
)

// TestTransient: a connection that ended, a server going away or full and
// a failed network operation pass by themselves; a server error nobody
// marked, a file error or a message that merely reads like an outage do
// not; a verdict in the chain wins.
func TestTransient(t *testing.T) {
	wrap := func(err error) error { return fmt.Errorf("apply transaction 7 at 0/16: %w", err) }
	for _, c := range []struct {
		err  error
		want bool
	}{
		{nil, false},
		{wrap(&pgconn.PgError{Code: "57P01"}), true},
		{wrap(&pgconn.PgError{Code: "08006"}), true},
		{wrap(&pgconn.PgError{Code: "53300"}), true},
		{wrap(&pgconn.PgError{Code: "40P01"}), false}, // the sink's to mark
		{wrap(&pgconn.PgError{Code: "28P01"}), false},
		{wrap(&mysql.MySQLError{Number: 2013}), true},
		{wrap(&mysql.MySQLError{Number: 1040}), true},
		{wrap(&mysql.MySQLError{Number: 1045}), false},
		{wrap(&gomysql.MyError{Code: 1053}), true},
		{wrap(&gomysql.MyError{Code: 1236}), false},
		{wrap(mysql.ErrInvalidConn), true},
		{wrap(&net.OpError{Op: "read", Err: os.NewSyscallError("read", syscall.ECONNRESET)}), true},
		{wrap(fmt.Errorf("read: %w", gomysql.ErrBadConn)), true},
		{wrap(pgconn.ErrConnClosed), true},
		{wrap(syscall.ENETUNREACH), true},
		{&net.DNSError{Err: "server misbehaving", Name: "db", IsTemporary: true}, true},
		{&fs.PathError{Op: "open", Path: "/x", Err: syscall.EACCES}, false},
		{errors.New("read tcp: connection reset by peer"), false},
		{wrap(context.Canceled), false},
		{Mark(wrap(io.EOF), false), false},
		{Mark(errors.New("slot busy"), true), true},
		{Mark(Mark(errors.New("x"), false), true), false}, // the first verdict stays
	} {
		if got := Transient(c.err); got != c.want {
			t.Errorf("Transient(%v) = %v, want %v", c.err, got, c.want)
		}
	}
}
