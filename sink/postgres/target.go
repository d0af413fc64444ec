package postgres

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/sluicecdc/sluice/pkg/change"
)

// target is a target table prepared for one source table shape.
type target struct {
	id     change.TableID
	ident  string   // quoted schema.name
	cols   []string // quoted column names, in source column order
	types  []string // source SQL types, in source column order
	key    []int    // source column indexes of the key
	all    []int    // 0..n-1
	stage  string   // temp table for upserts (created lazily)
	kstage string   // temp table for delete keys (created lazily)
}

func (s *Sink) targetID(t *change.Table) change.TableID {
	id := t.ID
	if s.opts.Schema != "" {
		id.Schema = s.opts.Schema
	}
	return id
}

// targetFor makes sure the target table for shape t exists with every column
// of t (creating schema, enum types and table, or adding missing columns).
func (s *Sink) targetFor(ctx context.Context, conn *pgx.Conn, t *change.Table) (*target, error) {
	if tg := s.targets[t]; tg != nil {
		return tg, nil
	}
	id := s.targetID(t)
	tg := &target{id: id, ident: pgx.Identifier{id.Schema, id.Name}.Sanitize(), key: t.Key}
	for i, c := range t.Columns {
		tg.cols = append(tg.cols, pgx.Identifier{c.Name}.Sanitize())
		tg.types = append(tg.types, c.Type)
		tg.all = append(tg.all, i)
	}
	if err := s.ensureEnums(ctx, t); err != nil {
		return nil, err
	}
	if _, err := conn.Exec(ctx, "CREATE SCHEMA IF NOT EXISTS "+pgx.Identifier{id.Schema}.Sanitize()); err != nil {
		return nil, fmt.Errorf("create target schema %s: %w", id.Schema, err)
	}
	if _, err := conn.Exec(ctx, createTableSQL(tg, t)); err != nil {
		return nil, fmt.Errorf("create target table %s: %w", id, err)
	}
	have := map[string]bool{}
	rows, err := conn.Query(ctx, `SELECT attname FROM pg_attribute WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped`, tg.ident)
	if err != nil {
		return nil, fmt.Errorf("read columns of target table %s: %w", id, err)
	}
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			rows.Close()
			return nil, fmt.Errorf("read columns of target table %s: %w", id, err)
		}
		have[n] = true
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read columns of target table %s: %w", id, err)
	}
	for i, c := range t.Columns {
		if have[c.Name] {
			continue
		}
		if _, err := conn.Exec(ctx, fmt.Sprintf("ALTER TABLE %s ADD COLUMN %s %s", tg.ident, tg.cols[i], c.Type)); err != nil {
			return nil, fmt.Errorf("add column %s to target table %s: %w", c.Name, id, err)
		}
	}
	if err := checkUnique(ctx, conn, tg, t); err != nil {
		return nil, err
	}
	s.targets[t] = tg
	return tg, nil
}

// checkUnique makes sure a keyed target table has a primary key or unique
// index on exactly the key columns: merging relies on it, and without it a
// replayed insert would silently double a row.
func checkUnique(ctx context.Context, conn *pgx.Conn, tg *target, t *change.Table) error {
	if len(t.Key) == 0 {
		return nil
	}
	keys := make([]string, len(t.Key))
	for i, k := range t.Key {
		keys[i] = t.Columns[k].Name
	}
	sort.Strings(keys)
	var ok bool
	err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_index i
		WHERE i.indrelid = $1::regclass AND i.indisunique AND i.indpred IS NULL AND i.indexprs IS NULL
		  AND (SELECT array_agg(a.attname::text ORDER BY a.attname::text) FROM pg_attribute a
		       WHERE a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey::int2[])) = $2::text[])`, tg.ident, keys).Scan(&ok)
	if err != nil {
		return fmt.Errorf("check key of target table %s: %w", tg.id, err)
	}
	if !ok {
		return fmt.Errorf("target table %s has no primary key or unique index on (%s), the source's key; add one (e.g. ALTER TABLE %s ADD PRIMARY KEY (%s)) or drop the table so Sluice creates it",
			tg.id, strings.Join(keys, ", "), tg.ident, strings.Join(pick(tg.cols, t.Key), ", "))
	}
	return nil
}

func createTableSQL(tg *target, t *change.Table) string {
	var b strings.Builder
	fmt.Fprintf(&b, "CREATE TABLE IF NOT EXISTS %s (", tg.ident)
	for i, c := range t.Columns {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s %s", tg.cols[i], c.Type)
		if c.NotNull {
			b.WriteString(" NOT NULL")
		}
	}
	if len(t.Key) > 0 {
		b.WriteString(", PRIMARY KEY (")
		for i, k := range t.Key {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(tg.cols[k])
		}
		b.WriteString(")")
	}
	b.WriteString(")")
	return b.String()
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
		schema, _, hasSchema := strings.Cut(typ, ".")
		if hasSchema {
			if _, err := conn.Exec(ctx, "CREATE SCHEMA IF NOT EXISTS "+schema); err != nil {
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
			if err != nil && !strings.Contains(err.Error(), "already exists") {
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
