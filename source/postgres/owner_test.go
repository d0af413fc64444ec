package postgres

import (
	"context"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/sluicecdc/sluice/internal/pgtest"
)

func TestOwnerRecord(t *testing.T) {
	o := owner{pipeline: "crm-dwh", slot: "sluice_crm_dwh"}
	for _, c := range []struct{ before, after string }{
		{"", "sluice pipeline crm-dwh, slot sluice_crm_dwh"},
		{"users' own note", "sluice pipeline crm-dwh, slot sluice_crm_dwh\nusers' own note"},
		{"sluice pipeline crm-dwh, slot old_slot\nnote", "sluice pipeline crm-dwh, slot sluice_crm_dwh\nnote"},
	} {
		got := withOwner(c.before, o)
		if got != c.after {
			t.Errorf("withOwner(%q) = %q, want %q", c.before, got, c.after)
		}
		if p, ok := parseOwner(got); !ok || p != o {
			t.Errorf("parseOwner(%q) = %v, %v", got, p, ok)
		}
	}
	for _, bad := range []string{"", "note", "sluice pipeline crm-dwh", "sluice pipeline , slot x"} {
		if p, ok := parseOwner(bad); ok {
			t.Errorf("parseOwner(%q) = %v, want no record", bad, p)
		}
	}
}

// TestOwnerChecks: a pipeline that would share another's slot through a
// publication of its own, or use a slot of another database, stops before
// it creates or changes anything.
func TestOwnerChecks(t *testing.T) {
	ctx := context.Background()
	c := pgtest.Start(t, pgtest.Options{})
	if err := c.CreateDB(ctx, "other"); err != nil {
		t.Fatal(err)
	}
	if err := c.Exec(ctx, "postgres", `CREATE TABLE t (id int PRIMARY KEY)`); err != nil {
		t.Fatal(err)
	}
	if err := c.Exec(ctx, "other", `SELECT pg_create_logical_replication_slot('elsewhere', 'pgoutput')`); err != nil {
		t.Fatal(err)
	}
	open := func(pipeline, slot, pub string) *Source {
		t.Helper()
		s, err := New(ctx, Options{DSN: c.DSN("postgres"), Tables: []string{"public.*"}, Slot: slot, Publication: pub, Pipeline: pipeline, Log: zerolog.Nop()})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	if err := open("a", "s1", "p1").ensurePublication(ctx); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		pipeline, slot, pub string
		want                string
	}{
		{"b", "s1", "p2", "replication slot s1 belongs to pipeline a (recorded on publication p1), but this pipeline is b"},
		{"b", "s2", "p1", "publication p1 belongs to pipeline a"},
		{"c", "elsewhere", "p3", `replication slot elsewhere belongs to database "other"`},
	} {
		s := open(tc.pipeline, tc.slot, tc.pub)
		err := s.ensurePublication(ctx)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "source.postgres.slot") {
			t.Errorf("pipeline %s with slot %s, publication %s: %v; want %q and the fix", tc.pipeline, tc.slot, tc.pub, err, tc.want)
		}
		if problems := s.Check(ctx); !strings.Contains(strings.Join(problems, "\n"), tc.want) {
			t.Errorf("check of pipeline %s: %q, want %q", tc.pipeline, problems, tc.want)
		}
	}
	if n, _ := c.QueryValue(ctx, "postgres", `SELECT count(*) FROM pg_publication WHERE pubname <> 'p1'`); n != "0" {
		t.Errorf("a refused pipeline created %s publication(s)", n)
	}
}
