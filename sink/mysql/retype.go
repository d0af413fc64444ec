package mysql

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/sluicecdc/sluice/pkg/change"
	"github.com/sluicecdc/sluice/sink/mode"
	"github.com/sluicecdc/sluice/sink/schemachange"
)

// colDef is what MODIFY COLUMN must restate of an existing target column
// to change its type and nothing else.
type colDef struct {
	typ       string // COLUMN_TYPE
	notNull   bool
	collation string         // "" for non-text columns
	def       sql.NullString // COLUMN_DEFAULT
	extra     string
	comment   string
}

// columnDefs reads the target table's columns by lower-cased name.
func (s *Sink) columnDefs(ctx context.Context, id change.TableID) (map[string]colDef, error) {
	rows, err := s.conn.QueryContext(ctx, `SELECT COLUMN_NAME, COLUMN_TYPE, IS_NULLABLE = 'NO', COALESCE(COLLATION_NAME, ''),
		COLUMN_DEFAULT, EXTRA, COLUMN_COMMENT FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?`, id.Schema, id.Name)
	if err != nil {
		return nil, fmt.Errorf("read column types of target table %s: %w", id, err)
	}
	defer rows.Close()
	defs := map[string]colDef{}
	for rows.Next() {
		var n string
		var d colDef
		if err := rows.Scan(&n, &d.typ, &d.notNull, &d.collation, &d.def, &d.extra, &d.comment); err != nil {
			return nil, fmt.Errorf("read column types of target table %s: %w", id, err)
		}
		defs[strings.ToLower(n)] = d
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read column types of target table %s: %w", id, err)
	}
	return defs, nil
}

// followTypes makes the existing target table's source columns follow the
// types of sh's source columns as sink.schema_changes says (see
// sink/schemachange). It runs from prepare, before any change of the new
// shape is applied; the ALTER commits what is pending first (runDDL).
func (s *Sink) followTypes(ctx context.Context, tg *target, sh *mode.Shape) error {
	if sh.N == 0 {
		return nil // append: the source's values are JSON documents
	}
	defs, err := s.columnDefs(ctx, tg.id)
	if err != nil {
		return err
	}
	var specs, names []string
	for i := range sh.N {
		c := sh.Table.Columns[i]
		d, ok := defs[strings.ToLower(c.Name)]
		if !ok {
			continue
		}
		v := schemachange.Decide(change.MySQL, s.opts.SchemaChanges, d.typ, s.previousType(sh, i), c.Type)
		if v.Action == schemachange.Keep {
			continue
		}
		spec, ok := s.modifySpec(tg.cols[i], c, d)
		stmt := "ALTER TABLE " + tg.ident + " " + spec
		if v.Action == schemachange.Halt {
			return &schemachange.Error{Table: tg.id.String(), Column: c.Name, Old: d.typ, New: c.Type, Statement: stmt,
				Policy: s.opts.SchemaChanges, Widening: v.Widening}
		}
		if !ok {
			return fmt.Errorf("widen column %s of target table %s from %s to %s: the column has attributes (%s) Sluice does not restate; run on the target: %s, adding them, then start Sluice again",
				c.Name, tg.id, d.typ, c.Type, d.extra, stmt)
		}
		specs, names = append(specs, spec), append(names, c.Name+" "+d.typ+" → "+c.Type)
	}
	if len(specs) == 0 {
		return nil
	}
	stmt := "ALTER TABLE " + tg.ident + " " + strings.Join(specs, ", ")
	if err := s.runDDL(ctx, fmt.Sprintf("widen columns of target table %s (%s)", tg.id, stmt), stmt); err != nil {
		return err
	}
	s.opts.Log.Info().Stringer("table", tg.id).Strs("columns", names).Msg("widened target columns to follow the source")
	return nil
}

// previousType is the MySQL type source column i of sh had when the table
// was last prepared in this run, if the source changed it since; "" if it
// did not or is not known. Changes are told in the source's own dialect:
// a PostgreSQL table's MySQL types also depend on its other columns (wide
// rows turn varchars into longtext), which is no change of this column.
func (s *Sink) previousType(sh *mode.Shape, i int) string {
	s.mu.Lock()
	prev := s.lastSrc[sh.Source.ID]
	s.mu.Unlock()
	cur := s.origin(sh.Source)
	if prev == nil || i >= len(cur.Columns) {
		return ""
	}
	j := prev.ColumnIndex(cur.Columns[i].Name)
	if j < 0 || schemachange.Same(cur.Dialect, prev.Columns[j].Type, cur.Columns[i].Type) {
		return ""
	}
	mapped, err := s.table(prev)
	if err != nil || j >= len(mapped.Columns) {
		return ""
	}
	return mapped.Columns[j].Type
}

// modifySpec is the MODIFY COLUMN clause giving existing column d the type
// of c, restating its nullability, collation, default and comment; ok is
// false when d has attributes it cannot restate (auto_increment, ON
// UPDATE, generated).
func (s *Sink) modifySpec(name string, c change.Column, d colDef) (spec string, ok bool) {
	typ := c.Type
	if d.collation != "" && kindOf(c) == kindText {
		typ += " COLLATE " + d.collation
	}
	spec = "MODIFY COLUMN " + name + " " + s.columnType(change.Column{Name: c.Name, Type: typ}, d.notNull)
	extra := strings.TrimSpace(strings.ToUpper(d.extra))
	if d.def.Valid && d.def.String != "NULL" && !strings.Contains(spec, " DEFAULT ") {
		switch {
		case s.srv.flavor == "mariadb" || extra == "DEFAULT_GENERATED":
			spec += " DEFAULT " + d.def.String // MariaDB quotes literals; an expression stays one
		default:
			spec += " DEFAULT " + quoteString(d.def.String)
		}
	}
	if d.comment != "" {
		spec += " COMMENT " + quoteString(d.comment)
	}
	return spec, extra == "" || extra == "DEFAULT_GENERATED"
}

// quoteString is a MySQL string literal (the session keeps backslash
// escapes on).
func quoteString(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `''`).Replace(s) + "'"
}
