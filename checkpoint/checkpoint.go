// Package checkpoint defines what a checkpoint holds and the store contract;
// the stores live in its subpackages.
package checkpoint

import (
	"context"
	"errors"
	"time"
)

// ErrNotFound is returned by Load when no checkpoint was ever saved.
// Any other error (unreadable, corrupt) must stop the pipeline: starting over
// silently would skip or double changes.
var ErrNotFound = errors.New("checkpoint not found")

// Phase is how far a pipeline has come.
type Phase string

const (
	PhaseSnapshot  Phase = "snapshot"  // the initial copy started but has not finished
	PhaseStreaming Phase = "streaming" // the copy is done (or skipped); Position is valid
)

// Checkpoint is what a store persists.
type Checkpoint struct {
	Pipeline string    `json:"pipeline"`
	Source   string    `json:"source"` // source kind, e.g. "postgres"
	Phase    Phase     `json:"phase"`
	Position string    `json:"position"` // text of the source's Position; "" before streaming
	SavedAt  time.Time `json:"saved_at"`
	// Backfills are the online back-fills not finished at Position, each
	// with the last key applied: after a restart each resumes at its next
	// chunk. Absent in files written before back-fills existed.
	Backfills []Backfill `json:"backfills,omitempty"`
}

// Backfill is the progress of the online back-fill of one table.
type Backfill struct {
	Table string   `json:"table"`           // schema.table
	ID    string   `json:"id,omitempty"`    // names the request (when it was made), for the target's position column
	Where string   `json:"where,omitempty"` // the row filter asked for
	After []string `json:"after,omitempty"` // text of the last applied chunk's last key; empty = not started
	Rows  int64    `json:"rows,omitempty"`  // rows applied so far
}

// Store persists one pipeline's checkpoint.
type Store interface {
	Load(ctx context.Context) (Checkpoint, error)
	// Save replaces the checkpoint durably before it returns.
	Save(ctx context.Context, cp Checkpoint) error
}
