package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/sluicecdc/sluice/sink/mode"
)

// warnOldPositions logs, once per table, how to move a history or append
// table made by an older Sluice (unique key on the position itself) to the
// key on positionHash: as it is, the table keeps working for positions up
// to about 2700 bytes, and a longer one (a long GTID set) fails to be
// written. Sluice does not change the table itself: rebuilding the index
// of a large table is its owner's to schedule.
func (s *Sink) warnOldPositions(ctx context.Context, conn *pgx.Conn, tg *target) error {
	var name string
	err := conn.QueryRow(ctx, `SELECT coalesce(min(c.conname), '') FROM pg_constraint c
		WHERE c.conrelid = $1::regclass AND c.contype = 'u'
		  AND (SELECT array_agg(a.attname::text ORDER BY a.attname::text) FROM pg_attribute a
		       WHERE a.attrelid = c.conrelid AND a.attnum = ANY (c.conkey)) = $2::text[]`,
		tg.ident, []string{mode.ChangeIndex, mode.Position}).Scan(&name)
	if err != nil {
		return fmt.Errorf("read unique key of target table %s: %w", tg.id, err)
	}
	hash, pos, idx := pgx.Identifier{positionHash}.Sanitize(), pgx.Identifier{mode.Position}.Sanitize(), pgx.Identifier{mode.ChangeIndex}.Sanitize()
	fix := fmt.Sprintf("ALTER TABLE %s ADD COLUMN %s bytea GENERATED ALWAYS AS (%s) STORED, ADD UNIQUE (%s, %s)",
		tg.ident, hash, positionHashExpr(pos), hash, idx)
	if name != "" {
		fix += ", DROP CONSTRAINT " + pgx.Identifier{name}.Sanitize()
	}
	s.opts.Log.Warn().Stringer("table", tg.id).Str("fix", fix).
		Msg("the target table's unique key is on the source position itself (made by an older Sluice): a position longer than about 2700 bytes (a long GTID set) will fail to be written; run the fix while Sluice is stopped (it rewrites the table)")
	return nil
}
