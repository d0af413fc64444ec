package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/sluicecdc/sluice/sink/mode"
)

// ensureUnique makes sure the target table has a primary key or unique
// index on exactly the columns writes rely on (mode.Shape.UniqueColumns): merging
// upserts on it (without it a replayed insert would silently double a
// row), and so do the history and append modes.
//
// When merging and the source's primary key moved to other columns
// (ALTER TABLE ... DROP CONSTRAINT, ADD PRIMARY KEY), the target's primary
// key follows: changes written before the ALTER were applied under the old
// shape already, and the source guarantees the new key unique. Only a
// primary key made of source columns is replaced, never one of the
// target's own (such as history's sequence).
func (s *Sink) ensureUnique(ctx context.Context, conn *pgx.Conn, tg *target) error {
	cols := tg.sh.UniqueColumns(tg.oldPositions)
	if len(cols) == 0 {
		return nil
	}
	keys := slices.Clone(cols)
	sort.Strings(keys)
	var ok bool
	err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_index i
		WHERE i.indrelid = $1::regclass AND i.indisunique AND i.indpred IS NULL AND i.indexprs IS NULL
		  AND (SELECT array_agg(a.attname::text ORDER BY a.attname::text) FROM pg_attribute a
		       WHERE a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey::int2[])) = $2::text[])`, tg.ident, keys).Scan(&ok)
	if err != nil {
		return fmt.Errorf("check key of target table %s: %w", tg.id, err)
	}
	if ok {
		return nil
	}
	quoted := make([]string, len(cols))
	for i, c := range cols {
		quoted[i] = pgx.Identifier{c}.Sanitize()
	}
	if tg.sh.Mode == mode.Merge {
		if moved, err := s.followKey(ctx, conn, tg, quoted); moved || err != nil {
			return err
		}
	}
	what, fix := "PRIMARY KEY", "ADD PRIMARY KEY"
	if tg.sh.Mode != mode.Merge {
		what, fix = "UNIQUE", "ADD UNIQUE"
	}
	return fmt.Errorf("target table %s has no %s or unique index on (%s), which Sluice relies on; add one (e.g. ALTER TABLE %s %s (%s)) or drop the table so Sluice creates it",
		tg.id, strings.ToLower(what), strings.Join(keys, ", "), tg.ident, fix, strings.Join(quoted, ", "))
}

// followKey replaces the target's primary key by one on the source key's
// columns (quoted), inside the open transaction, when the target's primary
// key consists of source columns only. It tells whether it did.
func (s *Sink) followKey(ctx context.Context, conn *pgx.Conn, tg *target, quoted []string) (bool, error) {
	var name string
	var pkCols []string
	err := conn.QueryRow(ctx, `SELECT c.conname, array_agg(a.attname::text ORDER BY a.attnum)
		FROM pg_constraint c JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = ANY (c.conkey)
		WHERE c.conrelid = $1::regclass AND c.contype = 'p' GROUP BY c.conname`, tg.ident).Scan(&name, &pkCols)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil // no primary key: the caller says what to add
	}
	if err != nil {
		return false, fmt.Errorf("read primary key of target table %s: %w", tg.id, err)
	}
	for _, c := range pkCols {
		if tg.sh.Table.ColumnIndex(c) < 0 {
			return false, nil
		}
	}
	q := fmt.Sprintf("ALTER TABLE %s DROP CONSTRAINT %s, ADD PRIMARY KEY (%s)", tg.ident, pgx.Identifier{name}.Sanitize(), strings.Join(quoted, ", "))
	if _, err := conn.Exec(ctx, q); err != nil {
		return false, fmt.Errorf("move primary key of target table %s from (%s) to (%s) as the source's moved: %w; "+
			"fix the target rows that break the new key, or drop the table and run `sluice run --resnapshot`",
			tg.id, strings.Join(pkCols, ", "), strings.Join(quoted, ", "), err)
	}
	s.opts.Log.Info().Str("table", tg.id.String()).Strs("from", pkCols).Strs("to", tg.sh.UniqueColumns(tg.oldPositions)).
		Msg("target primary key follows the source's")
	return true, nil
}
