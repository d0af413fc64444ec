package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/sluicecdc/sluice/pkg/change"
	"github.com/sluicecdc/sluice/sink/mode"
)

// renameColumns applies a Rename change: the table's pending changes are
// written under the old names, then the target columns are renamed inside
// the open target transaction (so with the position that follows). A
// column already renamed (a replay) or absent from the target is passed
// over; a target holding both names stops with the fix.
func (s *Sink) renameColumns(ctx context.Context, c *change.Change) error {
	if s.opts.Mode.Mode == mode.Append {
		return nil // the source's values are JSON documents: the next ones carry the new names
	}
	if p := s.plans[c.Table.ID]; p != nil {
		if err := s.execPlan(ctx, p); err != nil {
			return err
		}
	}
	if l := s.logs[c.Table.ID]; l != nil {
		if err := s.execLog(ctx, l); err != nil {
			return err
		}
	}
	if err := s.begin(ctx); err != nil {
		return err
	}
	id := s.targetID(c.Table)
	tg := &target{id: id, ident: pgx.Identifier{id.Schema, id.Name}.Sanitize()}
	have, err := columnsOf(ctx, s.conn, tg)
	if err != nil || len(have) == 0 {
		return err
	}
	var todo []change.ColumnRename
	for _, r := range c.Renames() {
		_, from := have[r.From]
		_, to := have[r.To]
		switch {
		case from && to:
			return fmt.Errorf("rename column %s of target table %s to %s as the source did: the target has a column %s already; drop or rename one of them by hand, then start Sluice again",
				r.From, id, r.To, r.To)
		case from:
			todo = append(todo, r)
		}
	}
	// Through temporary names when one rename's new name is another's old
	// one (a swap): the source renamed them all at once.
	var stmts []string
	for i, r := range todo {
		stmts = append(stmts, fmt.Sprintf("ALTER TABLE %s RENAME COLUMN %s TO %s", tg.ident, pgx.Identifier{r.From}.Sanitize(),
			pgx.Identifier{fmt.Sprintf("_sluice_rename_%d", i)}.Sanitize()))
	}
	for i, r := range todo {
		stmts = append(stmts, fmt.Sprintf("ALTER TABLE %s RENAME COLUMN %s TO %s", tg.ident,
			pgx.Identifier{fmt.Sprintf("_sluice_rename_%d", i)}.Sanitize(), pgx.Identifier{r.To}.Sanitize()))
	}
	for _, q := range stmts {
		if _, err := s.conn.Exec(ctx, q); err != nil {
			return fmt.Errorf("rename columns of target table %s as the source did (%s): %w", id, q, err)
		}
	}
	for _, r := range todo {
		s.opts.Log.Info().Stringer("table", id).Str("from", r.From).Str("to", r.To).Msg("renamed target column to follow the source")
	}
	return nil
}
