package mode

import (
	"context"
	"fmt"

	"github.com/rs/zerolog"

	"github.com/sluicecdc/sluice/pkg/change"
)

// Writer is what writing a Log takes from a SQL sink, in its dialect, for
// the log's target table, inside the open target transaction.
type Writer interface {
	// Held returns which of the positions the table holds rows of.
	Held(ctx context.Context, positions []string) (map[string]bool, error)
	// Insert writes full rows: audit rows or new versions.
	Insert(ctx context.Context, rows []change.Row) error
	// Current reads the current versions of the keys (rows of the source's
	// columns in the dialect's text form), by Shape.KeyString.
	Current(ctx context.Context, keys []change.Row) (map[string]change.Row, error)
	// EndAll ends every current version at the time (a truncate).
	EndAll(ctx context.Context, at change.Value) error
	// End ends the current versions of the keys, each at its time.
	End(ctx context.Context, closes []Close) error
}

// Write writes the log's changes through w and empties the log: while
// replay says so, it first drops the transactions the table holds already
// (a replay after a restart), then appends one row per change (append) or
// runs the history steps.
func (l *Log) Write(ctx context.Context, w Writer, replay *Replay, log zerolog.Logger) error {
	if l.Len() == 0 {
		return nil
	}
	defer l.Reset()
	id := l.Shape.Table.ID
	if replay.Check() {
		positions := l.Positions()
		held, err := w.Held(ctx, positions)
		if err != nil {
			return fmt.Errorf("write changes to %s: look for replayed transactions: %w", id, err)
		}
		replay.Found(len(positions), len(held))
		if len(held) > 0 {
			n := l.Drop(held)
			log.Info().Stringer("table", id).Int("changes", n).Msg("skipped changes the target holds already (replay after a restart)")
		}
	}
	if l.Shape.Mode == Append {
		rows, err := l.AuditRows()
		if err == nil && len(rows) > 0 {
			err = w.Insert(ctx, rows)
		}
		if err != nil {
			return fmt.Errorf("append changes to %s: %w", id, err)
		}
		return nil
	}
	for _, st := range l.Steps() {
		if err := st.write(ctx, w); err != nil {
			return fmt.Errorf("write versions to %s: %w", id, err)
		}
	}
	return nil
}

// write runs one history step: reads the current versions it needs, ends
// versions, inserts the new ones.
func (st *Step) write(ctx context.Context, w Writer) error {
	var cur map[string]change.Row
	if need := st.NeedCurrent(); len(need) > 0 {
		var err error
		if cur, err = w.Current(ctx, need); err != nil {
			return fmt.Errorf("read current versions: %w", err)
		}
	}
	st.Fill(cur)
	if st.Truncate.State == change.Present {
		if err := w.EndAll(ctx, st.Truncate); err != nil {
			return fmt.Errorf("end every version for a truncate: %w", err)
		}
	}
	if len(st.Closes) > 0 {
		if err := w.End(ctx, st.Closes); err != nil {
			return fmt.Errorf("end current versions: %w", err)
		}
	}
	if len(st.Rows) == 0 {
		return nil
	}
	return w.Insert(ctx, st.Rows)
}
