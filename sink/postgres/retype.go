package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/sluicecdc/sluice/pkg/change"
	"github.com/sluicecdc/sluice/sink/mode"
	"github.com/sluicecdc/sluice/sink/schemachange"
)

// followTypes makes the existing target table's source columns follow the
// types of sh's source columns as sink.schema_changes says (see
// sink/schemachange): widenings are applied with ALTER TABLE inside the
// open target transaction, before any change of the new shape is written,
// so they commit (or roll back) with the data that needs them. have holds
// the target's column types, and is refreshed after an ALTER.
func (s *Sink) followTypes(ctx context.Context, conn *pgx.Conn, tg *target, sh *mode.Shape, have map[string]string) (map[string]string, error) {
	prev := s.prepared[tg.id]
	altered := false
	for i := range sh.N {
		c := sh.Table.Columns[i]
		typ, ok := have[c.Name]
		if !ok {
			continue
		}
		old := ""
		if prev != nil {
			if j := prev.ColumnIndex(c.Name); j >= 0 {
				old = prev.Columns[j].Type
			}
		}
		v := schemachange.Decide(change.Postgres, s.opts.SchemaChanges, typ, old, c.Type)
		if v.Action == schemachange.Keep {
			continue
		}
		col := tg.cols[i]
		stmt := fmt.Sprintf("ALTER TABLE %s ALTER COLUMN %s TYPE %s%s", tg.ident, col, c.Type, schemachange.PgUsing(col, typ, c.Type))
		if v.Action == schemachange.Halt {
			return nil, &schemachange.Error{Table: tg.id.String(), Column: c.Name, Old: typ, New: c.Type, Statement: stmt,
				Policy: s.opts.SchemaChanges, Widening: v.Widening}
		}
		if _, err := conn.Exec(ctx, stmt); err != nil {
			return nil, fmt.Errorf("widen column %s of target table %s from %s to %s (%s): %w", c.Name, tg.id, typ, c.Type, stmt, err)
		}
		s.opts.Log.Info().Stringer("table", tg.id).Str("column", c.Name).Str("from", typ).Str("to", c.Type).
			Msg("widened target column to follow the source")
		altered = true
	}
	if !altered {
		return have, nil
	}
	return columnsOf(ctx, conn, tg)
}
