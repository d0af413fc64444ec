package mysql

import (
	"context"
	"errors"
	"fmt"
	"time"

	drv "github.com/go-sql-driver/mysql"

	"github.com/sluicecdc/sluice/checkpoint"
	"github.com/sluicecdc/sluice/pkg/change"
	"github.com/sluicecdc/sluice/pkg/mysqlconn"
	"github.com/sluicecdc/sluice/pkg/pipeline"
)

// Online back-fill, DBLog style, writing nothing to the source.
//
// A table is copied in chunks in key order while the stream flows. Each
// chunk is read on a connection of its own inside START TRANSACTION WITH
// CONSISTENT SNAPSHOT; in that transaction MariaDB's binlog_snapshot_file
// and binlog_snapshot_position name the binlog position P_s the snapshot
// matches: it sees exactly the transactions whose commit is in the binlog
// at or before P_s (MariaDB takes the snapshot and reads the position
// under the binlog's commit ordering). The chunk's rows are the table's
// state at P_s. Just before the snapshot, a window opens in the tracker
// (window.go) that records, for the chunk's table, the keys each
// transaction the stream delivers from then on changes, with the binlog
// position the transaction ends at. The stream loop puts the chunk into
// the stream between two whole transactions, at a point P at or after
// P_s (it waits until the stream has read that far). Then, per key k of
// the chunk's range:
//
//   - a transaction that changed k and ends at or before P_s is in the
//     chunk's row already. The stream delivered it before P (P >= P_s), so
//     the target has it too; the chunk row agrees with it.
//   - a transaction that changed k and ends after P_s is not in the chunk
//     row. If it ends before P, the stream delivered it before the chunk
//     (it is in the window, or, read before the window opened, it makes
//     the chunk be read again; see below): the target has its newer row and the
//     chunk's is stale, so the row is dropped and the key is put in
//     change.Backfill.Keep (the merge sink's range prune leaves it
//     alone). A truncate there drops every row.
//   - if it ends after P, it comes after the chunk in the stream and
//     overwrites the chunk row: right.
//
// Binlog order is commit order, and writers of one row are serialised by
// its row lock, so the last change of k in stream order is the newest.
// So the target holds each key's newest row once the stream passes P.
//
// What the comparison cannot see makes the chunk be read again rather
// than guessed at: positions of another server or binlog (a failover, a
// RESET MASTER followed; see identity.go), a transaction delivered in
// parts whose keys were not all collected or that rolled back to a
// savepoint, and a transaction the stream delivered before the window
// opened that still ends after P_s (MariaDB writes a transaction to the
// binlog before it commits in InnoDB, so the stream can read it before
// a snapshot sees it).
//
// Servers without binlog_snapshot_position (Oracle MySQL) lock the one
// table for writes while the chunk's snapshot opens and the binlog
// position is read (chunkread.go, snapshotLocked); the same argument holds
// with that position as P_s.

// BackfillTargetTime is how long one chunk's read should take; the chunk
// size follows it.
var BackfillTargetTime = 300 * time.Millisecond

// Chunk size bounds, in rows.
const (
	minChunkRows = 200
	maxChunkRows = 50000
)

// maxChunkBytes bounds the memory one chunk's rows take.
const maxChunkBytes = 32 << 20

// firstChunkRows is the size of a table's first chunk.
var firstChunkRows = 2000

// Test switches, off in every build but the end-to-end tests' (see
// testswitch.go): skipStaleFilter disables the stale-row filter (to show a
// back-fill without it goes wrong); testChunkDelay pauses each chunk read
// between its snapshot and its rows, as a slow read on a busy server
// would; forceLockedSnapshot takes the Oracle MySQL way (table lock) on
// MariaDB too.
var (
	skipStaleFilter     bool
	testChunkDelay      time.Duration
	forceLockedSnapshot bool
)

// chunkOut is a chunk read and waiting to be put into the stream.
type chunkOut struct {
	task   checkpoint.Backfill
	table  *change.Table
	rows   []change.Row
	ps     Position // the binlog position the chunk's snapshot matches
	w      *window
	lo, hi change.Row
	prune  bool
	done   bool
	total  int64 // rows emitted before this chunk
	err    string
	res    chan chunkResult
}

type chunkResult struct {
	emitted int64
	retry   bool
}

var _ pipeline.Backfiller = (*Source)(nil)

// Backfill queues back-fills; each starts after its After key (none: at
// the first key).
func (s *Source) Backfill(tasks []checkpoint.Backfill) { s.bf.Add(tasks) }

// CheckBackfill tells whether t can be back-filled, and if not, how to fix it.
func (s *Source) CheckBackfill(ctx context.Context, t checkpoint.Backfill) error {
	id, err := change.ParseTableID(t.Table)
	if err != nil {
		return err
	}
	if !s.selected(id.Schema, id.Name) {
		return fmt.Errorf("table %s is not replicated by this pipeline: add it to source.tables (and check source.exclude)", id)
	}
	var n int
	if err := s.db.QueryRowContext(ctx, "SELECT count(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND TABLE_TYPE = 'BASE TABLE'",
		id.Schema, id.Name).Scan(&n); err != nil {
		return fmt.Errorf("look up table %s: %w", id, err)
	}
	if n == 0 {
		return fmt.Errorf("table %s does not exist in the source", id)
	}
	ts, _, err := s.describeTables(ctx, s.db, []change.TableID{id})
	if err != nil {
		return err
	}
	if !ts[0].HasKey() {
		return noKeyError(id)
	}
	if t.Where != "" {
		q := fmt.Sprintf("EXPLAIN SELECT 1 FROM %s WHERE %s", quoteTable(id), t.Where)
		rows, err := s.db.QueryContext(ctx, q)
		if err == nil {
			for rows.Next() {
			}
			err = rows.Err()
			rows.Close()
		}
		if err != nil {
			return fmt.Errorf("--where %q on %s: %w", t.Where, id, err)
		}
	}
	return nil
}

func noKeyError(id change.TableID) error {
	return fmt.Errorf("table %s has no primary key and no unique index over NOT NULL columns, so it cannot be back-filled in key order: "+
		"add one (ALTER TABLE %s ADD PRIMARY KEY (...)), or use `sluice run --resnapshot` to copy every table again",
		id, mysqlconn.QuoteIdent(id.Schema)+"."+mysqlconn.QuoteIdent(id.Name))
}

var (
	errNoKey = errors.New("no primary key")
	errGone  = errors.New("table dropped")
)

// backfillTable copies one table chunk by chunk; it returns an error only
// when ctx ends. Failures it cannot get past end the back-fill with a
// message (a table without a key, dropped, a bad --where).
func (s *Source) backfillTable(ctx context.Context, task checkpoint.Backfill) error {
	log := s.opts.Log.With().Str("table", task.Table).Logger()
	r := &chunkReader{s: s, task: task, size: firstChunkRows, total: task.Rows}
	defer r.reset()
	backoff := time.Second
	reshaped, retries := 0, 0
	for {
		c, err := r.next(ctx)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err != nil {
			var my *drv.MySQLError
			isMy := errors.As(err, &my)
			if isMy && my.Number == 1054 && reshaped < 3 { // unknown column: a column went away; read the shape again
				reshaped++
				log.Info().Err(err).Msg("back-fill: the table changed shape; reading its columns again")
				continue
			}
			// Syntax errors, unknown tables and columns, bad values: asking again will not help.
			if isMy && (my.Number == 1064 || my.Number == 1146 || my.Number == 1054 || my.Number == 1292 || my.Number == 1366) ||
				errors.Is(err, errNoKey) || errors.Is(err, errGone) {
				log.Debug().Err(err).Msg("back-fill cannot go on") // the pipeline logs it as given up
				c = &chunkOut{task: r.task, done: true, err: err.Error(), total: r.total}
			} else {
				log.Warn().Err(err).Dur("backoff", backoff).Msg("back-fill chunk failed; retrying")
				r.reset()
				select {
				case <-time.After(backoff):
				case <-ctx.Done():
					return ctx.Err()
				}
				backoff = min(backoff*2, 30*time.Second)
				continue
			}
		}
		backoff = time.Second
		c.res = make(chan chunkResult, 1)
		select {
		case s.bfReady <- c:
		case <-ctx.Done():
			s.tr.close(c.w)
			return ctx.Err()
		}
		var res chunkResult
		select {
		case res = <-c.res:
		case <-ctx.Done():
			s.tr.close(c.w)
			return ctx.Err()
		}
		if res.retry {
			retries++
			if retries%20 == 0 {
				log.Warn().Int("retries", retries).Msg("back-fill chunk keeps overlapping transactions it cannot judge (a binlog reset, a failover, rolled-back savepoints?); reading it again")
			} else {
				log.Debug().Msg("back-fill chunk overlapped a transaction it cannot judge; reading it again")
			}
			select {
			case <-time.After(50 * time.Millisecond):
			case <-ctx.Done():
				return ctx.Err()
			}
			continue
		}
		retries = 0
		r.total += res.emitted
		if c.done {
			return nil
		}
		r.task.After = change.KeyTexts(c.table, c.rows[len(c.rows)-1])
	}
}
