// Package errkind tells a failure that may go away by itself (transient:
// the pipeline restarts from its checkpoint) from one that needs a person.
// Each source and sink package knows its own server errors by code and
// marks them with Mark; this package holds only what every package shares:
// the Transienter contract and the connection failures of the network and
// of the database drivers.
//
// It goes by error types and codes only, never by message text: a message
// may quote a row value ("connection refused" in a note column is no
// network failure), and servers translate theirs.
package errkind

import (
	"context"
	"database/sql/driver"
	"errors"
	"io"
	"net"
	"strings"
	"syscall"

	gomysql "github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5/pgconn"
)

// Transienter is an error that says itself whether it may go away by
// itself. The outermost one in a chain wins.
type Transienter interface{ Transient() bool }

// marked is an error with a package's verdict.
type marked struct {
	err       error
	transient bool
}

func (m *marked) Error() string   { return m.err.Error() }
func (m *marked) Unwrap() error   { return m.err }
func (m *marked) Transient() bool { return m.transient }

// Mark wraps err with a verdict, unless err already carries one (the
// package nearest the failure knows best).
func Mark(err error, transient bool) error {
	var t Transienter
	if err == nil || errors.As(err, &t) {
		return err
	}
	return &marked{err, transient}
}

// Transient tells whether err may go away by itself: a Transienter's
// verdict; else a database server error counts when it says the
// connection ended or the server is going away or full; else a network
// operation that failed or a connection the driver lost.
func Transient(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) {
		return false
	}
	var t Transienter
	if errors.As(err, &t) {
		return t.Transient()
	}
	var pg *pgconn.PgError
	if errors.As(err, &pg) {
		return pgConnection(pg.Code)
	}
	var my *mysql.MySQLError
	if errors.As(err, &my) {
		return mysqlConnection(my.Number)
	}
	var gm *gomysql.MyError
	if errors.As(err, &gm) {
		return mysqlConnection(gm.Code)
	}
	return Network(err)
}

// Network tells a network operation that failed or a connection a driver
// lost (not any syscall.Errno, which is a net.Error too: a checkpoint file
// without permission is no outage).
func Network(err error) bool {
	for _, target := range []error{io.EOF, io.ErrUnexpectedEOF, driver.ErrBadConn, mysql.ErrInvalidConn, gomysql.ErrBadConn,
		pgconn.ErrConnClosed, syscall.ECONNREFUSED, syscall.ECONNRESET, syscall.ECONNABORTED, syscall.EPIPE,
		syscall.ETIMEDOUT, syscall.EHOSTUNREACH, syscall.ENETUNREACH, context.DeadlineExceeded} {
		if errors.Is(err, target) {
			return true
		}
	}
	var op *net.OpError
	var dns *net.DNSError
	var ce *pgconn.ConnectError // no server error inside (those are handled above): it could not be reached
	return errors.As(err, &op) || errors.As(err, &dns) || errors.As(err, &ce) || pgconn.Timeout(err)
}

// pgConnection tells the SQLSTATEs of a connection that ended or a server
// that is going away or full.
func pgConnection(code string) bool {
	switch {
	case strings.HasPrefix(code, "08"), // connection exception
		code == "57P01", code == "57P02", code == "57P03", // shutdown, crash, starting up
		code == "53300", code == "53400": // too many connections, configuration limit
		return true
	}
	return false
}

// mysqlConnection tells the MySQL/MariaDB error numbers of a connection
// that ended or a server that is going away or full.
func mysqlConnection(code uint16) bool {
	switch code {
	case 1040, // too many connections
		1053,                   // server shutdown in progress
		1927,                   // connection killed
		2002, 2003, 2006, 2013: // cannot connect, server gone away, lost connection
		return true
	}
	return false
}
