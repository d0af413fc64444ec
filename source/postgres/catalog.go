package postgres

import (
	"context"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5"

	"github.com/sluicecdc/sluice/pkg/change"
)

// colSpec is one column as the log (or the catalog) describes it.
type colSpec struct {
	name   string
	oid    uint32
	typmod int32
	ident  bool // part of the replica identity (pgoutput's key flag)
}

// typeName is a user type as a pgoutput Type message names it.
type typeName struct{ schema, name string }

// relSpec is a relation as a Relation message (or the catalog, for the
// snapshot) describes it.
type relSpec struct {
	relid     uint32
	id        change.TableID
	replident byte // 'd' default, 'i' index, 'f' full, 'n' nothing
	cols      []colSpec
}

// describe builds the change.Table of a relation. Its shape is the one the
// log describes, so that changes written before an ALTER TABLE or a DROP
// TABLE (while Sluice was behind) keep the shape they were written with:
//
//   - columns, types and the replica identity come from the Relation
//     message; type names and enum labels from the catalog (types outlive
//     the tables using them), else from the log's Type messages (typeNames);
//   - the key is the columns pgoutput flags, which are the primary key
//     (REPLICA IDENTITY DEFAULT) or the identity index (USING INDEX);
//   - with FULL (every column flagged) or NOTHING (none), the log does not
//     say which columns are the primary key: it is read from the catalog
//     when the relation still exists there, else prev's key (the shape last
//     seen in this session) is kept, else the table is keyless (a FULL old
//     row still finds its target row by all its values);
//   - NOT NULL comes from the catalog when the relation still exists; it
//     only matters when a target table is created.
//
// The catalog is only ever consulted for the same relation id, and what it
// lacks never becomes an error.
func describe(ctx context.Context, conn *pgx.Conn, rel relSpec, typeNames map[uint32]typeName, prev *change.Table) (*change.Table, error) {
	t := &change.Table{ID: rel.id, Columns: make([]change.Column, len(rel.cols))}
	switch rel.replident {
	case 'f':
		t.Identity = change.IdentityFull
	case 'n':
		t.Identity = change.IdentityNothing
	default:
		t.Identity = change.IdentityKey
	}
	for i, c := range rel.cols {
		t.Columns[i] = change.Column{Name: c.name, TypeOID: c.oid}
	}
	if err := describeTypes(ctx, conn, t, rel.cols, typeNames); err != nil {
		return nil, err
	}
	pk, err := catalogFacts(ctx, conn, t, rel)
	if err != nil {
		return nil, err
	}
	var flagged []int
	for i, c := range rel.cols {
		if c.ident {
			flagged = append(flagged, i)
		}
	}
	switch {
	case rel.replident == 'd' || rel.replident == 'i':
		t.Key = flagged
		// Same columns as today's primary key: take its column order, so
		// the snapshot's and the log's shapes agree on it.
		if rel.replident == 'd' && sameSet(pk, flagged) {
			t.Key = pk
		}
	case pk != nil:
		t.Key = pk
	case prev != nil && prev.ID == t.ID && keyStillFits(prev, t):
		t.Key = slices.Clone(prev.Key)
	}
	return t, nil
}

// describeTypes fills in the columns' type names and enum labels.
func describeTypes(ctx context.Context, conn *pgx.Conn, t *change.Table, cols []colSpec, typeNames map[uint32]typeName) error {
	oids := make([]uint32, len(cols))
	mods := make([]int32, len(cols))
	for i, c := range cols {
		oids[i], mods[i] = c.oid, c.typmod
	}
	rows, err := conn.Query(ctx, `
		SELECT t.oid IS NOT NULL, format_type(x.oid, NULLIF(x.mod, -1)),
		       COALESCE((SELECT array_agg(e.enumlabel::text ORDER BY e.enumsortorder) FROM pg_enum e
		                 WHERE e.enumtypid = CASE WHEN t.typcategory = 'A' THEN t.typelem ELSE t.oid END), '{}')
		FROM unnest($1::oid[], $2::int4[]) WITH ORDINALITY AS x(oid, mod, n)
		LEFT JOIN pg_type t ON t.oid = x.oid
		ORDER BY x.n`, oids, mods)
	if err != nil {
		return fmt.Errorf("describe %s: %w", t.ID, err)
	}
	i := 0
	var gone []int
	for rows.Next() {
		var exists bool
		c := &t.Columns[i]
		if err := rows.Scan(&exists, &c.Type, &c.Enum); err != nil {
			rows.Close()
			return fmt.Errorf("describe %s: %w", t.ID, err)
		}
		if len(c.Enum) == 0 {
			c.Enum = nil
		}
		if !exists {
			gone = append(gone, i)
		}
		i++
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("describe %s: %w", t.ID, err)
	}
	// A user type dropped since the change was written (with the last table
	// using it): pgoutput named it in a Type message before the Relation.
	// Its enum labels are gone with it, so a target that lacks the type
	// cannot create it; one that has it (the usual case: the table was
	// replicated before) goes on.
	for _, i := range gone {
		c := &t.Columns[i]
		tn, ok := typeNames[c.TypeOID]
		if !ok {
			// pgoutput names every user type before a Relation using it;
			// errProtocol makes this stop Sluice instead of reconnecting.
			return fmt.Errorf("%w: describe %s: column %s has type OID %d, which no longer exists in the source catalog and the log did not name; "+
				"recreate the type on the source, or run `sluice run --resnapshot`", errProtocol, t.ID, c.Name, c.TypeOID)
		}
		// Quoted as format_type quotes (only where needed), so the name
		// reads the same as when the type still existed.
		if err := conn.QueryRow(ctx, "SELECT quote_ident($1) || '.' || quote_ident($2)", tn.schema, tn.name).Scan(&c.Type); err != nil {
			return fmt.Errorf("describe %s: %w", t.ID, err)
		}
	}
	return nil
}

// catalogFacts reads what the log does not carry from today's catalog, for
// the same relation id only: NOT NULL of the columns that still have the
// same name and type, and the primary key's columns (nil when the relation
// is gone, has no primary key, or its key is not among the published
// columns).
func catalogFacts(ctx context.Context, conn *pgx.Conn, t *change.Table, rel relSpec) ([]int, error) {
	rows, err := conn.Query(ctx, `
		SELECT a.attname, a.atttypid, a.attnotnull,
		       COALESCE((SELECT k.n FROM unnest(i.indkey::int2[]) WITH ORDINALITY AS k(att, n) WHERE k.att = a.attnum), 0)::int
		FROM pg_attribute a LEFT JOIN pg_index i ON i.indrelid = a.attrelid AND i.indisprimary
		WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped`, rel.relid)
	if err != nil {
		return nil, fmt.Errorf("describe %s: %w", t.ID, err)
	}
	defer rows.Close()
	pkPos := map[int]int{} // key position (1-based) → column index
	pkLen := 0
	for rows.Next() {
		var name string
		var oid uint32
		var notNull bool
		var pos int
		if err := rows.Scan(&name, &oid, &notNull, &pos); err != nil {
			return nil, fmt.Errorf("describe %s: %w", t.ID, err)
		}
		ix := t.ColumnIndex(name)
		same := ix >= 0 && t.Columns[ix].TypeOID == oid
		if same {
			t.Columns[ix].NotNull = notNull
		}
		if pos > 0 {
			pkLen++
			if same {
				pkPos[pos] = ix
			}
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("describe %s: %w", t.ID, err)
	}
	if pkLen == 0 || len(pkPos) != pkLen {
		return nil, nil
	}
	pk := make([]int, pkLen)
	for pos, ix := range pkPos {
		if pos > pkLen {
			return nil, nil
		}
		pk[pos-1] = ix
	}
	return pk, nil
}

// keyStillFits tells whether prev's key columns are in t with the same names
// and types, so t may keep that key.
func keyStillFits(prev, t *change.Table) bool {
	if !prev.HasKey() {
		return false
	}
	for _, k := range prev.Key {
		c := prev.Columns[k]
		if k >= len(t.Columns) || t.Columns[k].Name != c.Name || t.Columns[k].TypeOID != c.TypeOID {
			return false
		}
	}
	return true
}

func sameSet(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	x, y := slices.Clone(a), slices.Clone(b)
	slices.Sort(x)
	slices.Sort(y)
	return slices.Equal(x, y)
}

// describeTable builds the change.Table of a table from the catalog alone
// (for the snapshot and check, which have no Relation message). The key
// flags are set as pgoutput sets them, so both describe a table alike.
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
		       CASE c.relreplident
		         WHEN 'f' THEN true
		         WHEN 'd' THEN a.attnum = ANY (COALESCE((SELECT i.indkey::int2[] FROM pg_index i WHERE i.indrelid = c.oid AND i.indisprimary), '{}'))
		         WHEN 'i' THEN a.attnum = ANY (COALESCE((SELECT i.indkey::int2[] FROM pg_index i WHERE i.indrelid = c.oid AND i.indisreplident), '{}'))
		         ELSE false END
		FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
		WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = ''
		ORDER BY a.attnum`, relid)
	if err != nil {
		return nil, 0, fmt.Errorf("describe %s: %w", id, err)
	}
	rel := relSpec{relid: relid, id: id, replident: replident[0]}
	for rows.Next() {
		var c colSpec
		if err := rows.Scan(&c.name, &c.oid, &c.typmod, &c.ident); err != nil {
			rows.Close()
			return nil, 0, fmt.Errorf("describe %s: %w", id, err)
		}
		rel.cols = append(rel.cols, c)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, 0, fmt.Errorf("describe %s: %w", id, err)
	}
	t, err := describe(ctx, conn, rel, nil, nil)
	return t, relid, err
}
