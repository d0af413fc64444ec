package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/sluicecdc/sluice/pkg/change"
	"github.com/sluicecdc/sluice/sink/mode"
	"github.com/sluicecdc/sluice/sink/schemachange"
)

// retype is one ALTER a new shape needs.
type retype struct {
	column, from, to, stmt string
}

// typeChanges decides, per source column of sh that the target has (have:
// the target's column types), what sink.schema_changes says to do about
// its type (see sink/schemachange). prev is the table's shape prepared
// before in this run, nil if none. It returns the widenings to run, or
// the *schemachange.Error to stop with.
func (s *Sink) typeChanges(tg *target, sh *mode.Shape, have map[string]string, prev *change.Table) ([]retype, error) {
	var out []retype
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
		col := pgx.Identifier{c.Name}.Sanitize()
		stmt := fmt.Sprintf("ALTER TABLE %s ALTER COLUMN %s TYPE %s%s", tg.ident, col, c.Type, schemachange.PgUsing(col, typ, c.Type))
		if v.Action == schemachange.Halt {
			return nil, &schemachange.Error{Table: tg.id.String(), Column: c.Name, Old: typ, New: c.Type, Statement: stmt,
				Policy: s.opts.SchemaChanges, Widening: v.Widening}
		}
		out = append(out, retype{column: c.Name, from: typ, to: c.Type, stmt: stmt})
	}
	return out, nil
}

// followTypes runs the widenings sh needs on the existing target table,
// inside the open target transaction, before any change of the new shape
// is written: they commit (or roll back) with the data that needs them.
// have holds the target's column types; it is read again after an ALTER.
func (s *Sink) followTypes(ctx context.Context, conn *pgx.Conn, tg *target, sh *mode.Shape, have map[string]string) (map[string]string, error) {
	alters, err := s.typeChanges(tg, sh, have, s.prepared[tg.id])
	if err != nil || len(alters) == 0 {
		return have, err
	}
	for _, a := range alters {
		if _, err := conn.Exec(ctx, a.stmt); err != nil {
			return nil, fmt.Errorf("widen column %s of target table %s from %s to %s (%s): %w", a.column, tg.id, a.from, a.to, a.stmt, err)
		}
		s.opts.Log.Info().Stringer("table", tg.id).Str("column", a.column).Str("from", a.from).Str("to", a.to).
			Msg("widened target column to follow the source")
	}
	return columnsOf(ctx, conn, tg)
}

// checkTypes looks, before any change of txn is applied, for a type change
// sink.schema_changes stops at. When there is one, the whole transactions
// applied before txn are committed first (with their position), so that a
// restart resumes at txn: replaying older shapes would widen back a target
// column narrowed by hand as the error says.
func (s *Sink) checkTypes(ctx context.Context, txn *change.Txn) error {
	if s.opts.SchemaChanges == schemachange.Ignore || s.opts.Mode.Mode == mode.Append {
		return nil // ignore never stops; append tables have no source columns
	}
	prev := map[change.TableID]*change.Table{}
	var halt error
	for _, src := range txn.Tables() { // a Rename's shape is one its table had already
		t, err := s.conv.Table(src)
		if err != nil {
			continue // reported when the change is applied
		}
		sh, err := s.core.ShapeFor(t)
		if err != nil || s.targets[sh.Table] != nil {
			continue
		}
		tg := s.newTarget(sh)
		p, seen := prev[tg.id]
		if !seen {
			p = s.prepared[tg.id]
		}
		prev[tg.id] = sh.Table
		have, err := columnsOf(ctx, s.conn, tg)
		if err != nil || len(have) == 0 {
			continue
		}
		if _, halt = s.typeChanges(tg, sh, have, p); halt != nil {
			break
		}
	}
	if halt == nil {
		return nil
	}
	if txn.Part == change.Whole && !s.core.PartOpen() && s.inTx {
		if err := s.Flush(ctx); err != nil {
			return err
		}
	}
	return halt
}
