package main

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

	mysource "github.com/sluicecdc/sluice/source/mysql"
	pgsource "github.com/sluicecdc/sluice/source/postgres"
)

// TestTransient: server restarts, cut connections and lock timeouts are
// retried; credentials, missing objects, refused values, a lost slot or a
// purged binlog stop the pipeline.
func TestTransient(t *testing.T) {
	t.Parallel()
	wrap := func(err error) error { return fmt.Errorf("apply transaction 7 at 0/16: %w", err) }
	for _, c := range []struct {
		err  error
		want bool
	}{
		{wrap(&pgconn.PgError{Code: "57P01", Message: "terminating connection due to administrator command"}), true},
		{wrap(&pgconn.PgError{Code: "08006"}), true},
		{wrap(&pgconn.PgError{Code: "40P01"}), true},
		{wrap(&pgconn.PgError{Code: "55006", Message: "replication slot is active"}), true},
		{wrap(&pgconn.PgError{Code: "28P01", Message: "password authentication failed"}), false},
		{wrap(&pgconn.PgError{Code: "42P01", Message: "relation does not exist"}), false},
		{wrap(&pgconn.PgError{Code: "22001", Message: "value too long"}), false},
		{wrap(&mysql.MySQLError{Number: 1205}), true},
		{wrap(&mysql.MySQLError{Number: 2013}), true},
		{wrap(&mysql.MySQLError{Number: 1045}), false},
		{wrap(&mysql.MySQLError{Number: 1406}), false},
		{wrap(mysql.ErrInvalidConn), true},
		{wrap(&net.OpError{Op: "dial", Err: syscall.ECONNREFUSED}), true},
		{wrap(&net.OpError{Op: "read", Err: os.NewSyscallError("read", syscall.ECONNRESET)}), true},
		{wrap(fmt.Errorf("io.ReadFull(header) failed. err EOF: %w", gomysql.ErrBadConn)), true}, // go-mysql's own wrapping
		{wrap(fmt.Errorf("write: %w", pgconn.ErrConnClosed)), true},
		{wrap(syscall.ETIMEDOUT), true},
		{wrap(syscall.EHOSTUNREACH), true},
		{&net.DNSError{Err: "server misbehaving", Name: "db", IsTemporary: true}, true},
		{fmt.Errorf("save checkpoint: %w", &fs.PathError{Op: "open", Path: "/var/lib/sluice/x.checkpoint", Err: syscall.EACCES}), false},
		// Text is never matched: a message may quote a row value.
		{errors.New(`apply changes to dwh.notes: upsert: value "connection refused" is too long for column note`), false},
		{errors.New("read tcp: connection reset by peer"), false},
		// A package's own verdict wins over the codes.
		{wrap(verdict{io.EOF, false}), false},
		{wrap(verdict{errors.New("slot busy"), true}), true},
		{wrap(context.Canceled), false},
		{fmt.Errorf("%w: slot sluice_x lost WAL", pgsource.ErrSlotLost), false},
		{fmt.Errorf("%w: run sluice run --resnapshot", mysource.ErrPositionLost), false},
		{errors.New("table public.t column a (numeric): value NaN cannot be stored"), false},
	} {
		if got := transient(c.err); got != c.want {
			t.Errorf("transient(%v) = %v, want %v", c.err, got, c.want)
		}
	}
}

// verdict is an error that classifies itself.
type verdict struct {
	err       error
	transient bool
}

func (v verdict) Error() string   { return v.err.Error() }
func (v verdict) Unwrap() error   { return v.err }
func (v verdict) Transient() bool { return v.transient }
