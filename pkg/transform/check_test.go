package transform

import (
	"strings"
	"testing"

	"github.com/sluicecdc/sluice/pkg/change"
	"github.com/sluicecdc/sluice/pkg/config"
)

func TestCheckTables(t *testing.T) {
	orders := &change.Table{ID: change.TableID{Schema: "public", Name: "orders"},
		Columns: []change.Column{{Name: "id", Type: "integer"}, {Name: "status", Type: "text"}}, Key: []int{0}}
	tables := []*change.Table{customers(), orders}

	fine := mustCompile(t,
		config.Transform{Tables: []string{"public.customers"}, Columns: config.TransformColumns{Exclude: []string{"ssn"}}, Where: "country == 'NL'"},
		config.Transform{Tables: []string{"public.ord*"}, Target: config.TransformTarget{Schema: "mart"}})
	if p := fine.CheckTables(tables); len(p) != 0 {
		t.Errorf("rules that fit: %q", p)
	}
	if len(fine.last) != 0 || len(fine.targets) != 0 {
		t.Errorf("CheckTables filled the Set's cache: %d shapes, %d targets", len(fine.last), len(fine.targets))
	}

	bad := mustCompile(t,
		config.Transform{Tables: []string{"public.*"}, Target: config.TransformTarget{Table: "all"}},
		config.Transform{Tables: []string{"public.custmers", "public.orders"}, Where: "status == 'paid'"})
	p := bad.CheckTables(tables)
	want := []string{
		"transforms: public.customers and public.orders would both be replicated into public.all",
		`transforms[1].tables: "public.custmers" matches none of the replicated tables (public.customers, public.orders)`,
	}
	if len(p) != len(want) {
		t.Fatalf("got %d problems, want %d: %q", len(p), len(want), p)
	}
	for i, w := range want {
		if !strings.HasPrefix(p[i], w) {
			t.Errorf("problem %d = %q, want prefix %q", i, p[i], w)
		}
	}
	if p := bad.CheckTables(nil); !strings.Contains(strings.Join(p, "\n"), "matches none of the replicated tables (none)") {
		t.Errorf("no tables at all: %q", p)
	}
}
