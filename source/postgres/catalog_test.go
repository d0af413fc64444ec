package postgres

import (
	"context"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/sluicecdc/sluice/internal/pgtest"
	"github.com/sluicecdc/sluice/pkg/change"
)

// TestLaggingShapes reads changes written before the tables' shapes changed
// (a primary key moved, tables and an enum type dropped), as a lagging
// Sluice does: each change must carry the key and types it was written
// with, and none may fail for want of today's catalog.
func TestLaggingShapes(t *testing.T) {
	ctx := context.Background()
	c := pgtest.Start(t, pgtest.Options{})
	must := func(sql string) {
		t.Helper()
		if err := c.Exec(ctx, "postgres", sql); err != nil {
			t.Fatalf("%v\n%s", err, sql)
		}
	}
	must(`CREATE TYPE mood AS ENUM ('sad', 'ok');
		CREATE TABLE k (id int, code text NOT NULL, CONSTRAINT k_pk PRIMARY KEY (id));
		CREATE TABLE f (a int, b int, v text, PRIMARY KEY (b, a)); ALTER TABLE f REPLICA IDENTITY FULL;
		CREATE TABLE gf (id int PRIMARY KEY, v text); ALTER TABLE gf REPLICA IDENTITY FULL;
		CREATE TABLE e (id int PRIMARY KEY, m mood NOT NULL);
		CREATE TABLE u (id int PRIMARY KEY, code text NOT NULL UNIQUE); ALTER TABLE u REPLICA IDENTITY USING INDEX u_code_key;
		CREATE PUBLICATION lag FOR TABLE k, f, gf, e, u;`)
	must(`SELECT pg_create_logical_replication_slot('lag', 'pgoutput')`)
	must(`INSERT INTO k VALUES (1, 'a'); UPDATE k SET code = 'b' WHERE id = 1;
		INSERT INTO f VALUES (1, 2, 'x'); INSERT INTO gf VALUES (1, 'x'); INSERT INTO e VALUES (1, 'ok'); INSERT INTO u VALUES (1, 'u1');`)
	must(`ALTER TABLE k DROP CONSTRAINT k_pk, ADD PRIMARY KEY (code);
		DROP TABLE gf; DROP TABLE e; DROP TYPE mood;`)
	must(`INSERT INTO k VALUES (1, 'c')`)

	src, err := New(ctx, Options{DSN: c.DSN("postgres"), Tables: []string{"public.*"}, Slot: "lag", Publication: "lag", Log: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	if err := src.Start(ctx, nil); err != nil {
		t.Fatal(err)
	}
	type seen struct {
		table string
		key   []string
		types []string
		notNl []bool
		ident change.Identity
	}
	want := []seen{
		{table: "k", key: []string{"id"}},     // insert before the key moved
		{table: "k", key: []string{"id"}},     // its update
		{table: "f", key: []string{"b", "a"}}, // FULL: today's primary key, in its order
		{table: "gf"},                         // FULL and dropped: no key known, matched by the whole old row
		{table: "e", key: []string{"id"}, types: []string{"integer", "public.mood"}},
		{table: "u", key: []string{"code"}},
		{table: "k", key: []string{"code"}}, // after the key moved
	}
	var got []seen
	for len(got) < len(want) {
		rctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		txn, err := src.Next(rctx)
		cancel()
		if err != nil {
			t.Fatalf("after %d changes: %v", len(got), err)
		}
		txn.Each(func(ch *change.Change) error {
			s := seen{table: ch.Table.ID.Name, ident: ch.Table.Identity}
			for _, k := range ch.Table.Key {
				s.key = append(s.key, ch.Table.Columns[k].Name)
			}
			for _, col := range ch.Table.Columns {
				s.types = append(s.types, col.Type)
				s.notNl = append(s.notNl, col.NotNull)
			}
			got = append(got, s)
			return nil
		})
		txn.Close()
	}
	for i, w := range want {
		g := got[i]
		if g.table != w.table || len(g.key) != len(w.key) {
			t.Errorf("change %d: table %s key %v, want table %s key %v", i, g.table, g.key, w.table, w.key)
			continue
		}
		for j := range w.key {
			if g.key[j] != w.key[j] {
				t.Errorf("change %d (%s): key %v, want %v", i, g.table, g.key, w.key)
			}
		}
		for j, typ := range w.types {
			if g.types[j] != typ {
				t.Errorf("change %d (%s): column %d type %q, want %q", i, g.table, j, g.types[j], typ)
			}
		}
	}
	if got[3].ident != change.IdentityFull {
		t.Errorf("dropped FULL table: identity %v, want full", got[3].ident)
	}
	if !got[0].notNl[1] || got[4].notNl[1] {
		t.Errorf("NOT NULL: k.code %v (want true, the table exists), e.m %v (want false, the table is gone)", got[0].notNl[1], got[4].notNl[1])
	}
}
