package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/sluicecdc/sluice/pkg/change"
)

// colSpec is one column as the log (or the catalog) describes it.
type colSpec struct {
	name   string
	oid    uint32
	typmod int32
	ident  bool // part of the replica identity
}

// describe builds the change.Table for a relation: type names (schema
// qualified for user types, since the session's search_path is pg_catalog),
// enum labels, NOT NULL and the key. The columns and their types come from
// the log's Relation message, so old events keep the shape they were written
// with; NOT NULL and the primary key come from the catalog.
func describe(ctx context.Context, conn *pgx.Conn, relid uint32, id change.TableID, replident byte, cols []colSpec) (*change.Table, error) {
	t := &change.Table{ID: id, Columns: make([]change.Column, len(cols))}
	switch replident {
	case 'f':
		t.Identity = change.IdentityFull
	case 'n':
		t.Identity = change.IdentityNothing
	default:
		t.Identity = change.IdentityKey
	}
	oids := make([]uint32, len(cols))
	mods := make([]int32, len(cols))
	for i, c := range cols {
		oids[i], mods[i] = c.oid, c.typmod
		t.Columns[i] = change.Column{Name: c.name, TypeOID: c.oid}
	}
	rows, err := conn.Query(ctx, `
		SELECT format_type(x.oid, NULLIF(x.mod, -1)),
		       COALESCE((SELECT array_agg(e.enumlabel::text ORDER BY e.enumsortorder) FROM pg_enum e
		                 WHERE e.enumtypid = (SELECT CASE WHEN t.typcategory = 'A' THEN t.typelem ELSE t.oid END
		                                      FROM pg_type t WHERE t.oid = x.oid)), '{}')
		FROM unnest($1::oid[], $2::int4[]) WITH ORDINALITY AS x(oid, mod, n) ORDER BY x.n`, oids, mods)
	if err != nil {
		return nil, fmt.Errorf("describe %s: %w", id, err)
	}
	i := 0
	for rows.Next() {
		if err := rows.Scan(&t.Columns[i].Type, &t.Columns[i].Enum); err != nil {
			rows.Close()
			return nil, fmt.Errorf("describe %s: %w", id, err)
		}
		if len(t.Columns[i].Enum) == 0 {
			t.Columns[i].Enum = nil
		}
		i++
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("describe %s: %w", id, err)
	}

	rows, err = conn.Query(ctx, `
		SELECT a.attname, a.attnotnull,
		       COALESCE((SELECT k.n FROM unnest(i.indkey::int2[]) WITH ORDINALITY AS k(att, n) WHERE k.att = a.attnum), 0)::int
		FROM pg_attribute a LEFT JOIN pg_index i ON i.indrelid = a.attrelid AND i.indisprimary
		WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped`, relid)
	if err != nil {
		return nil, fmt.Errorf("describe %s: %w", id, err)
	}
	pkPos := map[string]int{}
	for rows.Next() {
		var name string
		var notNull bool
		var pos int
		if err := rows.Scan(&name, &notNull, &pos); err != nil {
			rows.Close()
			return nil, fmt.Errorf("describe %s: %w", id, err)
		}
		if ix := t.ColumnIndex(name); ix >= 0 {
			t.Columns[ix].NotNull = notNull
			if pos > 0 {
				pkPos[name] = pos
			}
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("describe %s: %w", id, err)
	}
	if replident == 'i' {
		for i, c := range cols {
			if c.ident {
				t.Key = append(t.Key, i)
			}
		}
		return t, nil
	}
	t.Key = make([]int, len(pkPos))
	for name, pos := range pkPos {
		if pos > len(t.Key) {
			return nil, fmt.Errorf("describe %s: primary key column %s is not published", id, name)
		}
		t.Key[pos-1] = t.ColumnIndex(name)
	}
	return t, nil
}

// describeTable builds the change.Table of a table from the catalog alone
// (for the snapshot, which has no Relation message).
func describeTable(ctx context.Context, conn *pgx.Conn, id change.TableID) (*change.Table, uint32, error) {
	var relid uint32
	var replident string
	err := conn.QueryRow(ctx, `SELECT c.oid, c.relreplident::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = $1 AND c.relname = $2`, id.Schema, id.Name).Scan(&relid, &replident)
	if err != nil {
		return nil, 0, fmt.Errorf("look up source table %s: %w", id, err)
	}
	rows, err := conn.Query(ctx, `
		SELECT a.attname, a.atttypid, a.atttypmod,
		       a.attnum = ANY (COALESCE((SELECT i.indkey::int2[] FROM pg_index i WHERE i.indrelid = a.attrelid AND i.indisreplident), '{}'::int2[]))
		FROM pg_attribute a
		WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = ''
		ORDER BY a.attnum`, relid)
	if err != nil {
		return nil, 0, fmt.Errorf("describe %s: %w", id, err)
	}
	var cols []colSpec
	for rows.Next() {
		var c colSpec
		if err := rows.Scan(&c.name, &c.oid, &c.typmod, &c.ident); err != nil {
			rows.Close()
			return nil, 0, fmt.Errorf("describe %s: %w", id, err)
		}
		cols = append(cols, c)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, 0, fmt.Errorf("describe %s: %w", id, err)
	}
	t, err := describe(ctx, conn, relid, id, replident[0], cols)
	return t, relid, err
}
