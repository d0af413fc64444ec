package transform

import (
	"strings"
	"testing"

	"github.com/sluicecdc/sluice/pkg/change"
	"github.com/sluicecdc/sluice/pkg/config"
)

func TestRenameChange(t *testing.T) {
	on := []string{"public.customers"}
	rn := func(from, to string) *change.Change {
		c := change.NewRename(customers(), []change.ColumnRename{{From: from, To: to}})
		return &c
	}
	run := func(s *Set, c *change.Change) ([]change.Change, error) {
		var out []change.Change
		err := s.Change(c, func(c change.Change) error { out = append(out, c); return nil })
		return out, err
	}

	// A rule that moves the table: the rename goes under the target name.
	s := mustCompile(t, config.Transform{Tables: on, Target: config.TransformTarget{Schema: "crm"}})
	out, err := run(s, rn("name", "full_name"))
	if err != nil || len(out) != 1 || out[0].Table.ID.String() != "crm.customers" ||
		len(out[0].Renames()) != 1 || out[0].Renames()[0] != (change.ColumnRename{From: "name", To: "full_name"}) {
		t.Fatalf("moved table: %+v, %v", out, err)
	}

	// An excluded column's rename does not reach the target.
	s = mustCompile(t, config.Transform{Tables: on, Columns: config.TransformColumns{Exclude: []string{"ssn"}}})
	if out, err := run(s, rn("age", "years")); err != nil || len(out) != 1 {
		t.Fatalf("rename of a kept column: %+v, %v", out, err)
	}
	s2 := mustCompile(t, config.Transform{Tables: on, Columns: config.TransformColumns{Include: []string{"id", "name"}}})
	if out, err := run(s2, rn("age", "years")); err != nil || len(out) != 0 {
		t.Fatalf("rename of a column not included: %+v, %v", out, err)
	}

	// A rule naming the old column is refused, naming the fix.
	for _, rule := range []config.Transform{
		{Tables: on, Columns: config.TransformColumns{Exclude: []string{"ssn"}}},
		{Tables: on, Columns: config.TransformColumns{Rename: map[string]string{"ssn": "tax_id"}}},
	} {
		s := mustCompile(t, rule)
		_, err := run(s, rn("ssn", "social"))
		if err == nil || !strings.Contains(err.Error(), `transforms[0].columns names column "ssn"`) || !strings.Contains(err.Error(), `its new name "social"`) {
			t.Errorf("%+v: %v", rule.Columns, err)
		}
	}
	// The fix: a rule naming the new column keeps the target column as is.
	for _, rule := range []config.Transform{
		{Tables: on, Columns: config.TransformColumns{Exclude: []string{"social"}}},
		{Tables: on, Columns: config.TransformColumns{Rename: map[string]string{"social": "tax_id"}}},
	} {
		s := mustCompile(t, rule)
		// The restarted source describes the table as it is now.
		tb := customers()
		tb.Columns[4].Name = "social"
		c := change.NewRename(tb, []change.ColumnRename{{From: "ssn", To: "social"}})
		if out, err := run(s, &c); err != nil || len(out) != 0 {
			t.Errorf("%+v: %+v, %v", rule.Columns, out, err)
		}
	}
}
