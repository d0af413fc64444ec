package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/sluicecdc/sluice/pkg/change"
	"github.com/sluicecdc/sluice/sink/schemachange"
)

// renameColumns applies a Rename change: the table's pending changes are
// written under the old names, then the target columns are renamed inside
// the open target transaction (so with the position that follows). A
// column already renamed (a replay) or absent from the target is passed
// over; a target holding both names stops with the fix.
func (s *Sink) renameColumns(ctx context.Context, c *change.Change) error {
	if p := s.core.Plan(c.Table.ID); p != nil {
		if err := s.core.ExecPlan(ctx, p); err != nil {
			return err
		}
	}
	if l := s.core.Log(c.Table.ID); l != nil {
		if err := s.core.ExecLog(ctx, l); err != nil {
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
	// The rename commits with the position after it, so a replay finds
	// it done: even a swap is applied once.
	todo, err := schemachange.Renames(id.String(), c.Renames(), func(n string) bool { _, ok := have[n]; return ok }, false)
	if err != nil {
		return err
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
	s.prepared[id] = schemachange.Renamed(s.prepared[id], c.Renames())
	for _, r := range todo {
		s.opts.Log.Info().Stringer("table", id).Str("from", r.From).Str("to", r.To).Msg("renamed target column to follow the source")
	}
	return nil
}
