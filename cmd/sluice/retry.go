package main

import (
	"context"
	"database/sql/driver"
	"errors"
	"io"
	"net"
	"strings"
	"syscall"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/rs/zerolog"

	gomysql "github.com/go-mysql-org/go-mysql/mysql"

	"github.com/sluicecdc/sluice/pkg/pipeline"
)

// The pipeline restarts from its checkpoint after a transient failure,
// waiting retryMin, doubling up to retryMax; an attempt that ran for
// healthyAfter starts the next episode at retryMin again.
const (
	retryMin     = time.Second
	retryMax     = 30 * time.Second
	healthyAfter = time.Minute
)

// retrier decides whether and when a failed attempt is retried, and logs
// once per episode of failures.
type retrier struct {
	log     zerolog.Logger
	retried func(kind string)
	state   func(s pipeline.State, err error)
	wait    time.Duration
	since   time.Time // the episode began; zero while none
	n       int
}

// again reports whether to retry after err ended an attempt that ran for
// ran, after waiting; false when err is permanent or ctx ended.
func (r *retrier) again(ctx context.Context, err error, ran time.Duration) bool {
	if ctx.Err() != nil || !transient(err) {
		return false
	}
	if r.since.IsZero() || ran >= healthyAfter {
		r.wait, r.since, r.n = retryMin, time.Now(), 0
		r.log.Warn().Err(err).Msg("transient failure: restarting from the checkpoint with backoff (1 s doubling to 30 s; logged once until it recovers)")
	}
	r.n++
	r.retried("pipeline_restart")
	r.state(pipeline.StateRetrying, err)
	r.log.Debug().Err(err).Int("attempt", r.n).Dur("wait", r.wait).Msg("retrying")
	select {
	case <-ctx.Done():
		return false
	case <-time.After(r.wait):
	}
	r.wait = min(2*r.wait, retryMax)
	return true
}

// flushed is called when an attempt commits a batch in the target: a
// running episode is over.
func (r *retrier) flushed() {
	if r.since.IsZero() {
		return
	}
	r.log.Info().Int("restarts", r.n).Dur("after", time.Since(r.since).Round(time.Second)).Msg("recovered from the transient failure")
	r.since = time.Time{}
}

// transienter is an error that says itself whether it may go away by
// itself: a package that knows its failures best classifies them, and its
// verdict wins over the codes below.
type transienter interface{ Transient() bool }

// transient tells a failure that may go away by itself (a server restart
// or shutdown, a cut connection, a lock or deadlock timeout, too many
// connections) from one that needs a person (credentials, a missing
// table, a value the target refuses, a lost slot or purged binlog). It
// goes by error types and codes only, never by message text: a message
// may quote a row value ("connection refused" in a note column is no
// network failure), and servers translate theirs.
func transient(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) {
		return false
	}
	var t transienter
	if errors.As(err, &t) {
		return t.Transient()
	}
	var pg *pgconn.PgError
	if errors.As(err, &pg) {
		return transientPG(pg.Code)
	}
	var my *mysql.MySQLError
	if errors.As(err, &my) {
		return transientMySQL(my.Number)
	}
	var gm *gomysql.MyError
	if errors.As(err, &gm) {
		return transientMySQL(gm.Code)
	}
	// A network operation that failed (not any syscall.Errno, which is a
	// net.Error too: a checkpoint file without permission is no outage).
	var op *net.OpError
	var dns *net.DNSError
	var ce *pgconn.ConnectError // no server error inside (those are handled above): it could not be reached
	for _, target := range []error{io.EOF, io.ErrUnexpectedEOF, driver.ErrBadConn, mysql.ErrInvalidConn, gomysql.ErrBadConn,
		pgconn.ErrConnClosed, syscall.ECONNREFUSED, syscall.ECONNRESET, syscall.ECONNABORTED, syscall.EPIPE,
		syscall.ETIMEDOUT, syscall.EHOSTUNREACH, syscall.ENETUNREACH, context.DeadlineExceeded} {
		if errors.Is(err, target) {
			return true
		}
	}
	return errors.As(err, &op) || errors.As(err, &dns) || errors.As(err, &ce) || pgconn.Timeout(err)
}

// transientPG tells the SQLSTATEs worth a retry.
func transientPG(code string) bool {
	switch {
	case strings.HasPrefix(code, "08"), // connection exception
		code == "57P01", code == "57P02", code == "57P03", // shutdown, crash, starting up
		code == "40001", code == "40P01", code == "55P03", // serialization, deadlock, lock not available
		code == "55006",                  // object in use: the replication slot, while the previous connection's walsender exits
		code == "53300", code == "53400": // too many connections, configuration limit
		return true
	}
	return false
}

// transientMySQL tells the MySQL/MariaDB error numbers worth a retry.
func transientMySQL(code uint16) bool {
	switch code {
	case 1040, // too many connections
		1053,                   // server shutdown in progress
		1205,                   // lock wait timeout
		1213,                   // deadlock
		1317,                   // query interrupted
		1927,                   // connection killed
		2002, 2003, 2006, 2013: // cannot connect, server gone away, lost connection
		return true
	}
	return false
}

// attemptObserver notes whether an attempt got to streaming and when it
// commits in the target.
type attemptObserver struct {
	pipeline.Observer
	streaming func()
	flushed   func()
}

// Backfill forwards back-fill progress when the wrapped observer wants it.
func (o attemptObserver) Backfill(b pipeline.BackfillProgress) {
	if bo, ok := o.Observer.(pipeline.BackfillObserver); ok {
		bo.Backfill(b)
	}
}

func (o attemptObserver) Flushed(f pipeline.FlushInfo) {
	o.flushed()
	o.Observer.Flushed(f)
}

func (o attemptObserver) State(s pipeline.State, err error) {
	if s == pipeline.StateStreaming {
		o.streaming()
	}
	o.Observer.State(s, err)
}
