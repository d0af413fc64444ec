package pipeline

import (
	"time"

	"github.com/sluicecdc/sluice/pkg/change"
)

// Observer is told what the pipeline does, for metrics, the status page and
// progress displays. Calls come from several goroutines and must return
// quickly. The pipeline reports per transaction and per batch, never per
// change, so an observer costs next to nothing on the hot path.
type Observer interface {
	// State reports what the pipeline does now; err says why it failed.
	State(s State, err error)
	// Read reports a transaction (or part of a running one) the source
	// delivered.
	Read(r ReadInfo)
	// Flushed reports a batch the target committed.
	Flushed(f FlushInfo)
	// Acked reports that everything up to pos is durable in the target and
	// acknowledged to the source; saved tells whether the checkpoint store
	// holds pos too (it is rewritten at most once a second when the target
	// keeps its own position).
	Acked(pos change.Position, saved bool)
	// SnapshotStarted lists the tables the snapshot copies, with the
	// source's row estimates (-1: unknown).
	SnapshotStarted(tables []SnapshotTable)
	// SnapshotRows reports n more rows of a table copied (in steps of a
	// few thousand rows); done says the table is complete.
	SnapshotRows(t change.TableID, n int64, done bool)
	// Error reports a failure; kind says where: source, apply, flush,
	// checkpoint, ack, snapshot.
	Error(kind string, err error)
}

// State is what a pipeline is doing.
type State string

const (
	StateStarting  State = "starting"  // loading the checkpoint, connecting
	StateSnapshot  State = "snapshot"  // copying the existing rows
	StateStreaming State = "streaming" // applying changes from the log
	StateStopping  State = "stopping"  // shutting down: flushing and checkpointing
	StateStopped   State = "stopped"   // shut down cleanly
	StateFailed    State = "failed"    // stopped by an error
	StateRetrying  State = "retrying"  // failed transiently; restarting from the checkpoint after a backoff
)

// Count is how many changes of one kind one table had.
type Count struct {
	Table change.TableID
	Op    change.Op
	N     int
}

// ReadInfo describes a transaction the source delivered.
type ReadInfo struct {
	Counts   []Count         // its changes by table and operation
	Position change.Position // its commit position; nil for a part of a running transaction
	Commit   time.Time       // its source commit time; zero for a part
}

// FlushInfo describes a batch committed in the target.
type FlushInfo struct {
	Txns     int             // source transactions (including replays the target already held)
	Changes  int             // changes applied
	Bytes    int64           // their approximate size
	Took     time.Duration   // how long Flush took
	Counts   []Count         // the changes applied, by table and operation
	Position change.Position // the position of the batch's last transaction
	Commit   time.Time       // the source commit time of that transaction
}

// SnapshotTable is one table of a snapshot.
type SnapshotTable struct {
	Table    change.TableID
	Estimate int64 // rows the source expects; -1 when it cannot tell
}

// nopObserver is used when Options.Observer is nil.
type nopObserver struct{}

func (nopObserver) State(State, error)                       {}
func (nopObserver) Read(ReadInfo)                            {}
func (nopObserver) Flushed(FlushInfo)                        {}
func (nopObserver) Acked(change.Position, bool)              {}
func (nopObserver) SnapshotStarted([]SnapshotTable)          {}
func (nopObserver) SnapshotRows(change.TableID, int64, bool) {}
func (nopObserver) Error(string, error)                      {}

// countChanges tallies a transaction's changes by table and operation.
// It walks the changes once (a run of changes to one table costs a pointer
// compare each); a transaction spilled to disk is read back for it.
func countChanges(txn *change.Txn) ([]Count, error) {
	if txn.Len() == 0 {
		return nil, nil
	}
	var (
		counts []Count
		last   *change.Table
		lastOp change.Op
		ix     int
	)
	err := txn.Each(func(c *change.Change) error {
		if c.Table != last || c.Op != lastOp || len(counts) == 0 {
			last, lastOp = c.Table, c.Op
			var id change.TableID
			if c.Table != nil {
				id = c.Table.ID
			}
			ix = -1
			for i := range counts {
				if counts[i].Table == id && counts[i].Op == c.Op {
					ix = i
					break
				}
			}
			if ix < 0 {
				counts = append(counts, Count{Table: id, Op: c.Op})
				ix = len(counts) - 1
			}
		}
		counts[ix].N++
		return nil
	})
	return counts, err
}

// addCounts merges counts into dst.
func addCounts(dst, counts []Count) []Count {
next:
	for _, c := range counts {
		for i := range dst {
			if dst[i].Table == c.Table && dst[i].Op == c.Op {
				dst[i].N += c.N
				continue next
			}
		}
		dst = append(dst, c)
	}
	return dst
}
