package postgres

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/sluicecdc/sluice/checkpoint"
	"github.com/sluicecdc/sluice/pkg/change"
	"github.com/sluicecdc/sluice/pkg/pipeline"
)

// Online back-fill, DBLog style, writing nothing to the source.
//
// A table is copied in chunks in key order while the stream flows. Each
// chunk is read in its own REPEATABLE READ transaction whose snapshot sn
// (pg_current_snapshot()) is the chunk's pair of watermarks: the chunk's
// rows hold exactly the effects of the transactions sn sees. Just before
// the read, a window opens in the tracker (watermark.go) that records the
// keys of the table every transaction the stream delivers from then on
// changes. The stream loop puts the chunk into the stream at a transaction
// boundary P after the read. Then, per key k of the chunk's range:
//
//   - a transaction that changed k and that sn sees is in the chunk's row
//     already. If the stream delivers it after P, applying it again after
//     the chunk row is harmless: changes carry whole rows, and the target
//     ends at the key's last change either way.
//   - a transaction that changed k and that sn does not see committed
//     after sn was taken. If the stream delivered it before P (it is in
//     the window), the target has its newer row and the chunk's is stale:
//     the row is dropped (and the key kept out of the range delete).
//     Writers of one row are serialised by its row lock, and a transaction
//     writes its commit record before it releases its locks, so the last
//     change of k in stream order is also the newest.
//   - if it comes after P, it overwrites the chunk row: right.
//
// So the target holds each key's newest row once the stream passes P. A
// chunk is emitted whole, between two source transactions, never inside a
// running one delivered in parts; its rows carry Op Read and go through the
// same ordered batches as the stream.

// BackfillTargetTime is how long one chunk's read should take; the chunk
// size follows it.
var BackfillTargetTime = 300 * time.Millisecond

// Chunk size bounds, in rows. Each chunk costs a fixed part on top of its
// rows (a target commit made durable, a checkpoint save, the range
// delete): large chunks keep that small beside the rows. The read time
// (BackfillTargetTime) and memory (maxChunkBytes) bound a chunk first.
const (
	minChunkRows = 200
	maxChunkRows = 100000
)

// maxChunkBytes bounds the memory one chunk's rows take; a chunk stays in
// memory (well under the source's transaction spill limit and memory
// budget), where spilling it would write and read back every row.
const maxChunkBytes = 16 << 20

// firstChunkRows is the size of a table's first chunk (tests make it small).
var firstChunkRows = 2000

// skipStaleFilter disables the stale-row filter. Test only (testswitch.go,
// in the end-to-end tests' build): it shows that a back-fill without the
// filter leaves the target wrong.
var skipStaleFilter atomic.Bool

// testHookChunkRead runs after each chunk is read and before it is handed
// to the stream loop (tests commit a change in between).
var testHookChunkRead func()

// testChunkDelay (test only, testswitch.go) pauses each chunk
// read between its snapshot and its rows, as a slow read on a busy server
// would: writes that commit meanwhile are what the stale filter is for.
var testChunkDelay time.Duration

// chunkOut is a chunk read and waiting to be put into the stream.
type chunkOut struct {
	task   checkpoint.Backfill
	table  *change.Table
	rows   []change.Row
	sn     xidSnapshot
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
	closed  <-chan struct{} // closed once the pipeline is done with the chunk's transaction
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
	if !s.selected(id) {
		return fmt.Errorf("table %s is not replicated by this pipeline: add it to source.tables (and check source.exclude)", id)
	}
	conn, err := s.connect(ctx)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	tbl, _, err := describeTable(ctx, conn, id)
	if err != nil {
		return err
	}
	if !tbl.HasKey() {
		return noKeyError(id)
	}
	if t.Where != "" {
		q := fmt.Sprintf("EXPLAIN SELECT 1 FROM %s WHERE %s", pgx.Identifier{id.Schema, id.Name}.Sanitize(), t.Where)
		if _, err := conn.Exec(ctx, q); err != nil {
			return fmt.Errorf("--where %q on %s: %w", t.Where, id, err)
		}
	}
	return nil
}

func noKeyError(id change.TableID) error {
	return fmt.Errorf("table %s has no primary key, so it cannot be back-filled in key order: add one "+
		"(ALTER TABLE %s ADD PRIMARY KEY (...)), or use `sluice run --resnapshot` to copy every table again", id, id)
}

// backfillTable copies one table chunk by chunk; it returns an error only
// when ctx ends. Failures it cannot get past end the back-fill with a
// message (a table without a key, or dropped).
func (s *Source) backfillTable(ctx context.Context, task checkpoint.Backfill) error {
	log := s.opts.Log.With().Str("table", task.Table).Logger()
	r := &chunkReader{s: s, task: task, size: firstChunkRows, total: task.Rows}
	backoff := time.Second
	reshaped := 0
	// The previous chunk's transaction, until the pipeline is done with
	// it: the next chunk is read meanwhile, but handed on only then, so
	// chunks do not pile up in the pipeline's queue (where, past the
	// source's memory budget, they would spill to disk).
	var ahead <-chan struct{}
	for {
		c, err := r.next(ctx)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err != nil {
			var pgErr *pgconn.PgError
			isPg := errors.As(err, &pgErr)
			if isPg && pgErr.Code == "42703" && reshaped < 3 { // a column went away: read the table's shape again
				reshaped++
				log.Info().Err(err).Msg("back-fill: the table changed shape; reading its columns again")
				r.reset()
				continue
			}
			if isPg && (pgErr.Code[:2] == "42" || pgErr.Code[:2] == "22") || errors.Is(err, errNoKey) || errors.Is(err, errGone) {
				log.Debug().Err(err).Msg("back-fill cannot go on") // the pipeline logs it as given up
				c = &chunkOut{task: task, done: true, err: err.Error(), total: r.total}
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
		if testHookChunkRead != nil && c.w != nil {
			testHookChunkRead()
		}
		if ahead != nil {
			select {
			case <-ahead:
			case <-ctx.Done():
				s.tr.close(c.w)
				return ctx.Err()
			}
		}
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
			return ctx.Err()
		}
		if res.retry {
			log.Debug().Msg("back-fill chunk overlapped a transaction it cannot judge; reading it again")
			time.Sleep(50 * time.Millisecond)
			continue
		}
		r.total += res.emitted
		ahead = res.closed
		if c.done {
			r.reset()
			return nil
		}
		r.task.After = change.KeyTexts(c.table, c.rows[len(c.rows)-1])
	}
}

var (
	errNoKey = errors.New("no primary key")
	errGone  = errors.New("table dropped")
)
