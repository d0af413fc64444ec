package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"syscall"
	"testing"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5/pgconn"

	mysource "github.com/sluicecdc/sluice/source/mysql"
	pgsource "github.com/sluicecdc/sluice/source/postgres"
)

// TestTransient: server restarts, cut connections and lock timeouts are
// retried; credentials, missing objects, refused values, a lost slot or a
// purged binlog stop the pipeline.
func TestTransient(t *testing.T) {
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
		{wrap(errors.New("read tcp: connection reset by peer")), true},
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
