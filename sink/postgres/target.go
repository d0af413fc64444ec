package postgres

import (
	"context"
	"fmt"
	"hash/fnv"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/sluicecdc/sluice/pkg/change"
	"github.com/sluicecdc/sluice/sink/mode"
	"github.com/sluicecdc/sluice/sink/sqlsink"
)

// target is a target table prepared for one source table shape.
type target struct {
	id     change.TableID
	ident  string   // quoted schema.name
	cols   []string // quoted names of the value columns: the source's, then the mode's
	types  []string // their SQL types
	key    []int    // source column indexes of the key
	all    []int    // 0..n-1
	stage  string   // temp table for upserts (created lazily)
	kstage string   // temp table for delete keys (created lazily)

	sh       *mode.Shape
	nsrc     int    // cols[:nsrc] are the source's columns
	set      string // appended to every SET list (the synced-at column), "" for none
	softDel  int    // index of the deleted-at column, -1 without soft deletes
	conflict string // history and append: the clause that skips rows written already
	// oldPositions: the history or append table was made by a Sluice that
	// put the unique key on the position itself, not on positionHash.
	oldPositions bool
	// recopy: the open transaction holds a back-fill chunk whose key range
	// had rows on the target; inserts go through upsertChanged (see prune)
	// until the commit.
	recopy bool
}

// positionHash is mode.PositionHash. md5 only tells positions apart here
// (no security use): PostgreSQL has no immutable text-to-bytea conversion
// to feed sha256 in a generated column.
const positionHash = mode.PositionHash

// positionHashExpr computes positionHash from a position text.
func positionHashExpr(pos string) string { return "decode(md5(" + pos + "), 'hex')" }

func (s *Sink) targetID(t *change.Table) change.TableID {
	id := t.ID
	if s.opts.Schema != "" {
		id.Schema = s.opts.Schema
	}
	return id
}

func (s *Sink) newTarget(sh *mode.Shape) *target {
	t := sh.Table
	id := s.targetID(t)
	tg := &target{id: id, ident: pgx.Identifier{id.Schema, id.Name}.Sanitize(), key: t.Key, sh: sh, nsrc: sh.N,
		softDel: sh.Extra(mode.KindDeletedAt)}
	for i, c := range t.Columns {
		tg.cols = append(tg.cols, pgx.Identifier{c.Name}.Sanitize())
		tg.types = append(tg.types, c.Type)
		tg.all = append(tg.all, i)
	}
	for _, c := range sh.Managed {
		if c.Kind == mode.KindSyncedAt {
			tg.set = pgx.Identifier{c.Name}.Sanitize() + " = now()"
		}
	}
	tg.setConflict()
	return tg
}

// setConflict sets the clause that skips history and append rows written
// already, by the table's unique key.
func (tg *target) setConflict() {
	if tg.sh.Mode == mode.Merge {
		return
	}
	cols := tg.sh.UniqueColumns(tg.oldPositions)
	tg.conflict = fmt.Sprintf(" ON CONFLICT (%s, %s) DO NOTHING", pgx.Identifier{cols[0]}.Sanitize(), pgx.Identifier{cols[1]}.Sanitize())
}

// targetFor makes sure the target table for shape sh exists with every
// column (creating schema, enum types and table, or adding missing
// columns), made by the configured mode.
func (s *Sink) targetFor(ctx context.Context, conn *pgx.Conn, sh *mode.Shape) (*target, error) {
	t := sh.Table
	if tg := s.targets[t]; tg != nil {
		return tg, nil
	}
	tg := s.newTarget(sh)
	id := tg.id
	if err := s.ensureEnums(ctx, t); err != nil {
		return nil, err
	}
	if err := s.ensureSchema(ctx, conn, id.Schema); err != nil {
		return nil, fmt.Errorf("target: %w", err)
	}
	have, err := columnsOf(ctx, conn, tg)
	if err != nil {
		return nil, err
	}
	if len(have) == 0 {
		for _, q := range createTableSQL(tg, sh) {
			if _, err := conn.Exec(ctx, q); err != nil {
				return nil, fmt.Errorf("create target table %s: %w", id, err)
			}
		}
		if have, err = columnsOf(ctx, conn, tg); err != nil {
			return nil, err
		}
	}
	if err := s.opts.Mode.CheckExisting(id.String(), func(n string) bool { _, ok := have[n]; return ok }); err != nil {
		return nil, err
	}
	if have, err = s.followTypes(ctx, conn, tg, sh, have); err != nil {
		return nil, err
	}
	for i, c := range t.Columns {
		if _, ok := have[c.Name]; ok {
			continue
		}
		if _, err := conn.Exec(ctx, fmt.Sprintf("ALTER TABLE %s ADD COLUMN %s %s", tg.ident, tg.cols[i], c.Type)); err != nil {
			return nil, fmt.Errorf("add column %s to target table %s: %w", c.Name, id, err)
		}
	}
	for _, c := range sh.Managed {
		if _, ok := have[c.Name]; !ok && c.Kind == mode.KindSyncedAt {
			if _, err := conn.Exec(ctx, fmt.Sprintf("ALTER TABLE %s ADD COLUMN %s", tg.ident, managedDef(c))); err != nil {
				return nil, fmt.Errorf("add column %s to target table %s: %w", c.Name, id, err)
			}
		}
	}
	if _, ok := have[positionHash]; sh.Mode != mode.Merge && !ok {
		tg.oldPositions = true
		tg.setConflict()
		if err := s.warnOldPositions(ctx, conn, tg); err != nil {
			return nil, err
		}
	}
	if err := s.ensureUnique(ctx, conn, tg); err != nil {
		return nil, err
	}
	s.targets[t] = tg
	s.prepared[id] = t
	return tg, nil
}

// columnsOf returns the target table's columns and their types (as
// format_type writes them), none when it does not exist.
func columnsOf(ctx context.Context, conn *pgx.Conn, tg *target) (map[string]string, error) {
	have := map[string]string{}
	rows, err := conn.Query(ctx, `SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute
		WHERE attrelid = to_regclass($1) AND attnum > 0 AND NOT attisdropped`, tg.ident)
	if err != nil {
		return nil, fmt.Errorf("read columns of target table %s: %w", tg.id, err)
	}
	for rows.Next() {
		var n, typ string
		if err := rows.Scan(&n, &typ); err != nil {
			rows.Close()
			return nil, fmt.Errorf("read columns of target table %s: %w", tg.id, err)
		}
		have[n] = typ
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read columns of target table %s: %w", tg.id, err)
	}
	return have, nil
}

// createTableSQL creates the target table: the source's columns, the mode's,
// and the key (merge) or the unique position and index of each change
// (history, append, with an index per key for history).
func createTableSQL(tg *target, sh *mode.Shape) []string {
	t := sh.Table
	defs := sh.ColumnDefs(func(i int) string {
		def := tg.cols[i] + " " + t.Columns[i].Type
		if t.Columns[i].NotNull {
			def += " NOT NULL"
		}
		return def
	}, managedDef)
	keys := sqlsink.Pick(tg.cols, t.Key)
	switch {
	case sh.Mode != mode.Merge:
		hash := pgx.Identifier{positionHash}.Sanitize()
		defs = append(defs, fmt.Sprintf("%s bytea GENERATED ALWAYS AS (%s) STORED", hash, positionHashExpr(pgx.Identifier{mode.Position}.Sanitize())),
			fmt.Sprintf("UNIQUE (%s, %s)", hash, pgx.Identifier{mode.ChangeIndex}.Sanitize()))
	case len(keys) > 0:
		defs = append(defs, "PRIMARY KEY ("+strings.Join(keys, ", ")+")")
	}
	stmts := []string{fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s (%s)", tg.ident, strings.Join(defs, ", "))}
	if sh.Mode == mode.History {
		// At most one current version per key, found fast; versions by time.
		name := indexName(tg.id)
		stmts = append(stmts,
			fmt.Sprintf("CREATE UNIQUE INDEX IF NOT EXISTS %s ON %s (%s) WHERE %s", pgx.Identifier{name + "_current"}.Sanitize(), tg.ident,
				strings.Join(keys, ", "), pgx.Identifier{mode.Current}.Sanitize()),
			fmt.Sprintf("CREATE INDEX IF NOT EXISTS %s ON %s (%s, %s)", pgx.Identifier{name + "_versions"}.Sanitize(), tg.ident,
				strings.Join(keys, ", "), pgx.Identifier{mode.ValidFrom}.Sanitize()))
	}
	return stmts
}

// indexName is a prefix for the target table's index names: unique per
// table and short enough for PostgreSQL's 63 bytes with a suffix.
func indexName(id change.TableID) string {
	h := fnv.New32a()
	h.Write([]byte(id.String()))
	// At most 40 bytes of the name, cut at a character boundary: half a
	// UTF-8 character is not a valid name.
	return fmt.Sprintf("%s_%08x", prefixBytes(id.Name, 40), h.Sum32())
}

// managedDef defines a column the target fills itself.
func managedDef(c mode.Column) string {
	n := pgx.Identifier{c.Name}.Sanitize()
	if c.Kind == mode.KindSeq {
		return n + " bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY"
	}
	return n + " timestamptz NOT NULL DEFAULT now()"
}

// columnType is the PostgreSQL type of a mode column.
func columnType(k mode.Kind) string {
	switch k {
	case mode.KindCommitTime, mode.KindSyncedAt, mode.KindDeletedAt, mode.KindValidFrom, mode.KindValidTo:
		return "timestamptz"
	case mode.KindCurrent:
		return "boolean"
	case mode.KindChangeIndex, mode.KindSeq:
		return "bigint"
	case mode.KindBefore, mode.KindAfter:
		return "jsonb"
	}
	return "text"
}

// ensureEnums creates the enum types t's columns use, and adds labels the
// target lacks. It runs on its own autocommit connection: a label added
// inside the open transaction could not be used before it commits.
func (s *Sink) ensureEnums(ctx context.Context, t *change.Table) error {
	var enumCols []change.Column
	for _, c := range t.Columns {
		if len(c.Enum) > 0 {
			enumCols = append(enumCols, c)
		}
	}
	if len(enumCols) == 0 {
		return nil
	}
	conn, err := pgx.ConnectConfig(ctx, s.cfg)
	if err != nil {
		return fmt.Errorf("connect to target: %w", err)
	}
	defer conn.Close(ctx)
	for _, c := range enumCols {
		typ := strings.TrimSuffix(c.Type, "[]")
		if schema, hasSchema := typeSchema(typ); hasSchema {
			if _, err := conn.Exec(ctx, ddlLock+"; CREATE SCHEMA IF NOT EXISTS "+schema); err != nil {
				return fmt.Errorf("create schema for enum %s: %w", typ, err)
			}
		}
		var exists bool
		if err := conn.QueryRow(ctx, `SELECT to_regtype($1) IS NOT NULL`, typ).Scan(&exists); err != nil {
			return fmt.Errorf("look up enum %s in target: %w", typ, err)
		}
		if !exists {
			labels := make([]string, len(c.Enum))
			for i, l := range c.Enum {
				labels[i] = quoteLiteral(l)
			}
			_, err := conn.Exec(ctx, fmt.Sprintf("CREATE TYPE %s AS ENUM (%s)", typ, strings.Join(labels, ", ")))
			if err != nil && !alreadyExists(err) {
				return fmt.Errorf("create enum %s in target: %w", typ, err)
			}
			continue
		}
		for _, l := range c.Enum {
			if _, err := conn.Exec(ctx, fmt.Sprintf("ALTER TYPE %s ADD VALUE IF NOT EXISTS %s", typ, quoteLiteral(l))); err != nil {
				return fmt.Errorf("add label %q to enum %s in target: %w", l, typ, err)
			}
		}
	}
	return nil
}

// typeSchema returns the schema part of a type name as format_type writes
// it (quoted where needed, so a quoted schema may itself hold a dot).
func typeSchema(typ string) (string, bool) {
	quoted := false
	for i := 0; i < len(typ); i++ {
		switch typ[i] {
		case '"':
			quoted = !quoted // a doubled "" toggles twice
		case '.':
			if !quoted {
				return typ[:i], true
			}
		}
	}
	return "", false
}

// alreadyExists tells that a CREATE failed because the object is there:
// another pipeline's sink may create it at the same moment (duplicate_object,
// or unique_violation in the catalog when both commit at once).
func alreadyExists(err error) bool {
	code := pgCode(err)
	return code == "42710" || code == "23505"
}
