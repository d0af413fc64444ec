package pipeline

import (
	"context"
	"time"

	"github.com/sluicecdc/sluice/checkpoint"
	"github.com/sluicecdc/sluice/pkg/change"
)

// Source yields whole committed transactions in commit order.
type Source interface {
	// Start begins streaming after from; nil means from the source's own
	// starting point (the slot's confirmed position, or the snapshot's).
	Start(ctx context.Context, from change.Position) error
	// Next returns the next committed transaction. The caller closes it.
	Next(ctx context.Context) (*change.Txn, error)
	// Ack tells the source that everything up to pos is durable in the target,
	// so the source may release its log up to there.
	Ack(ctx context.Context, pos change.Position) error
	// ParsePosition reads back the text form of one of this source's positions.
	ParsePosition(s string) (change.Position, error)
	Close() error
}

// Snapshotter is a Source that can copy the existing rows of the selected
// tables consistently with a log position.
type Snapshotter interface {
	// Snapshot starts a consistent snapshot. Streaming must then Start from
	// the snapshot's Position, and only after the snapshot is closed.
	Snapshot(ctx context.Context) (Snapshot, error)
}

// Snapshot is a consistent copy of the selected tables in progress.
type Snapshot interface {
	// Tables are the tables the snapshot covers, with their shapes.
	Tables() []*change.Table
	// Chunks splits the tables into pieces that can be read in parallel.
	Chunks(ctx context.Context) ([]Chunk, error)
	// Read calls fn for every row of the chunk. Safe for concurrent use on
	// different chunks. Rows passed to fn may be reused after fn returns.
	Read(ctx context.Context, c Chunk, fn func(change.Row) error) error
	// Position is where streaming continues after the snapshot.
	Position() change.Position
	Close() error
}

// Chunk is one piece of a table the snapshot reads at once.
type Chunk struct {
	Table *change.Table
	Index int    // chunk number within the table
	Of    int    // number of chunks of the table
	Where string // source-specific range predicate; "" = whole table
}

// Sink makes a target reflect the changes.
type Sink interface {
	// Apply applies (or buffers) a transaction. The sink must not keep the
	// *Txn after returning, but may keep its Change values.
	Apply(ctx context.Context, txn *change.Txn) error
	// Flush commits everything applied so far in the target: durable when
	// it returns, unless the sink is a Durability, which says when.
	Flush(ctx context.Context) error
	Close() error
}

// Loader is a Sink that can bulk-load snapshot rows.
type Loader interface {
	// PrepareSnapshot creates the target tables and empties them, and
	// forgets any applied position the sink keeps: a snapshot starts over.
	PrepareSnapshot(ctx context.Context, tables []*change.Table) error
	// Load writes the rows rows yields into the table and commits them
	// before it returns. Safe for concurrent use.
	Load(ctx context.Context, t *change.Table, rows func(yield func(change.Row) error) error) error
}

// PositionKeeper is a Sink that stores the position of the last transaction
// it applied in the target, atomically with the data, so that replays after a
// crash can skip what the target already holds (exactly-once effect even for
// tables without a primary key).
type PositionKeeper interface {
	// AppliedPosition returns the text of the last applied position, "" if none.
	AppliedPosition(ctx context.Context) (string, error)
}

// PartSource is a Source that can deliver a large transaction in parts
// while it still runs (see change.Part), one such transaction at a time.
type PartSource interface {
	DeliverParts()
}

// PartSink is a Sink that can apply a running transaction's parts inside its
// open target transaction and undo them: the target commit waits for the
// source commit, so nothing uncommitted ever becomes durable.
type PartSink interface {
	// Savepoint marks where the running transaction's (or one of its
	// subtransactions') changes begin, after executing what is pending.
	Savepoint(ctx context.Context, name string) error
	// RollbackTo drops every change applied since the mark.
	RollbackTo(ctx context.Context, name string) error
}

// Durability is a Sink whose Flush commits without waiting for the disk
// (like PostgreSQL's own subscriptions). Durable tells which position is on
// disk; only that may be checkpointed and acknowledged to the source.
type Durability interface {
	// Durable returns the newest position durable in the target (nil if
	// none yet); with wait, it waits until all flushed changes are.
	Durable(ctx context.Context, wait bool) (change.Position, error)
}

// Lingerer is a Sink whose commit costs enough (a Kafka transaction, a
// round trip for acknowledgements) that the pipeline should wait up to
// Linger for more transactions before it flushes a batch, instead of
// flushing as soon as the reader has nothing waiting. It adds at most
// Linger to each change's latency.
type Lingerer interface {
	Linger() time.Duration
}

// Estimator is a Snapshot that can tell about how many rows a table has
// (from the catalog's statistics, not by counting), for progress displays.
type Estimator interface {
	// Estimate returns the approximate row count of t; -1 when unknown.
	Estimate(ctx context.Context, t *change.Table) (int64, error)
}

// LogReporter is a Source that can tell how far its log has grown beyond a
// position and how much log the server keeps for the pipeline. It queries
// on a connection of its own, never the replication connection, and is
// safe to call while the source streams.
type LogReporter interface {
	// LogStatus describes the server's log relative to applied (the last
	// position committed in the target; nil when none yet).
	LogStatus(ctx context.Context, applied change.Position) (LogStatus, error)
}

// LogStatus is what a LogReporter tells. Sizes are -1 when unknown.
type LogStatus struct {
	Head          string // the server's current log position
	BehindBytes   int64  // log bytes from applied (or the reader's confirmed position, if later) to Head
	RetainedBytes int64  // log the server keeps for the pipeline (PostgreSQL: from the slot's restart_lsn)
	Confirmed     string // the position the server has from the reader (PostgreSQL: confirmed_flush_lsn)
	Restart       string // the oldest position the server keeps for it (PostgreSQL: restart_lsn; MySQL: the oldest binlog file)
	SlotStatus    string // PostgreSQL: the slot's wal_status (reserved, extended, unreserved, lost); "missing" when there is no slot
	Purged        bool   // MySQL: the binlog file of applied is no longer on the server, so the pipeline cannot resume
	Reading       Reading
}

// Reading says whether the server sees the pipeline's log reader connected.
type Reading uint8

const (
	ReadingUnknown Reading = iota // the source cannot tell
	ReadingActive                 // connected (PostgreSQL: the slot is active)
	ReadingIdle                   // not connected
)

// Describer is a source that can tell the current shape of every table it
// would replicate without reading the log (for sluice check, which checks
// transform rules against them). Catalog queries only.
type Describer interface {
	DescribeTables(ctx context.Context) ([]*change.Table, error)
}

// Backfiller is a Source that can copy a table again while it streams (an
// online back-fill): it puts the table's rows into its stream as Op Read
// changes in transactions marked change.Txn.Backfill, chunk by chunk, each
// at a point of the stream where its rows are current.
type Backfiller interface {
	// CheckBackfill tells whether the back-fill can run, with the fix if not.
	CheckBackfill(ctx context.Context, b checkpoint.Backfill) error
	// Backfill queues back-fills; each starts after its After key. Safe
	// to call before or after Start.
	Backfill(bs []checkpoint.Backfill)
}

// TableWatcher is a Backfiller that notices tables that appear while it
// streams and match the configured selection, and back-fills them. It
// asks through request, which returns once the back-fill is recorded in
// the checkpoint (so a crash right after cannot forget it); only then does
// the source start streaming the table.
type TableWatcher interface {
	WatchTables(request func(ctx context.Context, bs []checkpoint.Backfill) error)
}
