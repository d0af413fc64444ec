package plan

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/sluicecdc/sluice/pkg/change"
)

// model is an in-memory keyed Table: key text → row (id, a, b).
type model map[string][3]string

// applyNaive applies one change the way a row-by-row replicator would.
func (m model) applyNaive(c *change.Change) {
	switch c.Op {
	case change.Truncate:
		clear(m)
	case change.Insert:
		m[c.After[0].String()] = [3]string{c.After[0].String(), c.After[1].String(), c.After[2].String()}
	case change.Delete:
		delete(m, c.Before[0].String())
	case change.Update:
		old := c.After[0].String()
		if c.Before != nil {
			old = c.Before[0].String()
		}
		prev := m[old]
		delete(m, old)
		row := [3]string{}
		for i := range 3 {
			row[i] = c.After[i].String()
			if c.After[i].State == change.Unchanged {
				row[i] = prev[i]
			}
		}
		m[row[0]] = row
	}
}

// applyActions runs a plan's actions against the model the way the
// executor's SQL does.
func (m model) applyActions(t *testing.T, acts []Action) {
	t.Helper()
	for _, a := range acts {
		switch a.Kind {
		case Truncate:
			clear(m)
		case Delete:
			for _, k := range a.Rows {
				delete(m, k[0].String())
			}
		case Upsert, Insert:
			seen := map[string]bool{}
			for _, r := range a.Rows {
				k := r[0].String()
				if seen[k] {
					t.Fatalf("upsert touches key %s twice in one statement (ON CONFLICT would fail)", k)
				}
				seen[k] = true
				prev, exists := m[k]
				if exists && a.Kind == Insert {
					t.Fatalf("key %s marked fresh but present in the target: the fast path would always fall back", k)
				}
				row := [3]string{}
				for i := range 3 {
					row[i] = r[i].String()
					if r[i].State == change.Unchanged {
						if !exists {
							t.Fatalf("upsert with unchanged column for missing key %s", k)
						}
						row[i] = prev[i]
					}
				}
				m[k] = row
			}
		case MoveUpdate:
			old := a.Before[0].String()
			prev, ok := m[old]
			if !ok {
				t.Fatalf("move update of missing key %s", old)
			}
			delete(m, old)
			row := prev
			for i := range 3 {
				if a.After[i].State != change.Unchanged {
					row[i] = a.After[i].String()
				}
			}
			m[row[0]] = row
		default:
			t.Fatalf("unexpected Action %d for a keyed table", a.Kind)
		}
	}
}

// TestPlanMatchesSequentialApply feeds random runs of inserts, updates (with
// key changes and unchanged TOAST columns), deletes and truncates through the
// planner and checks the set-based result equals row-by-row application.
func TestPlanMatchesSequentialApply(t *testing.T) {
	tbl := &change.Table{ID: change.TableID{Schema: "s", Name: "t"},
		Columns: []change.Column{{Name: "id"}, {Name: "a"}, {Name: "b"}}, Key: []int{0}}
	rng := rand.New(rand.NewPCG(1, 2))
	for round := 0; round < 3000; round++ {
		// Both start from the same target state.
		start := model{}
		for k := range 4 {
			if rng.IntN(2) == 0 {
				id := fmt.Sprint(k)
				start[id] = [3]string{id, "a0", "b0"}
			}
		}
		naive, planned := maps.Clone(start), maps.Clone(start)
		p := New(tbl)
		var log []string
		for range 1 + rng.IntN(12) {
			c := randomChange(rng, tbl, naive)
			if c == nil {
				continue
			}
			log = append(log, fmt.Sprintf("%s %v → %v", c.Op, c.Before, c.After))
			naive.applyNaive(c)
			if err := p.Add(c); err != nil {
				t.Fatal(err)
			}
			if rng.IntN(8) == 0 { // executing mid-way must not change the outcome
				planned.applyActions(t, p.Take())
			}
		}
		planned.applyActions(t, p.Take())
		if fmt.Sprint(naive) != fmt.Sprint(planned) {
			t.Fatalf("round %d: plan result differs\nstart:   %v\nchanges:\n  %s\nnaive:   %v\nplanned: %v",
				round, start, strings.Join(log, "\n  "), naive, planned)
		}
	}
}

// randomChange makes a change that is valid against the current state m.
func randomChange(rng *rand.Rand, tbl *change.Table, m model) *change.Change {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	val := func(s string) change.Value { return change.Text(s) }
	free := func() string {
		for {
			k := fmt.Sprint(rng.IntN(8))
			if _, ok := m[k]; !ok {
				return k
			}
		}
	}
	switch op := rng.IntN(20); {
	case op == 0:
		return &change.Change{Op: change.Truncate, Table: tbl}
	case op < 7 || len(keys) == 0:
		if len(m) >= 8 {
			return nil
		}
		k := free()
		return &change.Change{Op: change.Insert, Table: tbl, After: change.Row{val(k), val(fmt.Sprint("a", rng.IntN(100))), val("b")}}
	case op < 10:
		k := keys[rng.IntN(len(keys))]
		return &change.Change{Op: change.Delete, Table: tbl, Before: change.Row{val(k), {State: change.Missing}, {State: change.Missing}}}
	default:
		k := keys[rng.IntN(len(keys))]
		c := &change.Change{Op: change.Update, Table: tbl, After: change.Row{val(k), val(fmt.Sprint("u", rng.IntN(100))), val("b2")}}
		if rng.IntN(3) == 0 { // TOAST: b not sent
			c.After[2] = change.Value{State: change.Unchanged}
		}
		if rng.IntN(3) == 0 && len(m) < 8 { // key change
			c.Before = change.Row{val(k), {State: change.Missing}, {State: change.Missing}}
			c.After[0] = val(free())
		}
		return c
	}
}

func TestPlanKeylessKeepsOrder(t *testing.T) {
	tbl := &change.Table{ID: change.TableID{Schema: "s", Name: "h"}, Columns: []change.Column{{Name: "v"}}, Identity: change.IdentityFull}
	p := New(tbl)
	row := func(s string) change.Row { return change.Row{change.Text(s)} }
	for _, c := range []change.Change{
		{Op: change.Insert, Table: tbl, After: row("1")},
		{Op: change.Insert, Table: tbl, After: row("1")},
		{Op: change.Update, Table: tbl, Before: row("1"), After: row("2")},
		{Op: change.Insert, Table: tbl, After: row("3")},
		{Op: change.Delete, Table: tbl, Before: row("1")},
	} {
		if err := p.Add(&c); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	for _, a := range p.Take() {
		got = append(got, fmt.Sprintf("%d:%d", a.Kind, len(a.Rows)))
	}
	want := fmt.Sprintf("[%d:2 %d:0 %d:1 %d:0]", Append, RowUpdate, Append, RowDelete)
	if fmt.Sprint(got) != want {
		t.Fatalf("actions %v, want %s", got, want)
	}

	// Without a full old row, a keyless update cannot be matched: a clear error.
	tbl2 := &change.Table{ID: change.TableID{Schema: "s", Name: "nokey"}, Columns: []change.Column{{Name: "v"}}}
	err := New(tbl2).Add(&change.Change{Op: change.Delete, Table: tbl2, Before: row("1")})
	if err == nil || !strings.Contains(err.Error(), "REPLICA IDENTITY FULL") {
		t.Fatalf("want an error naming the fix, got %v", err)
	}
}

// TestPlanSoftDelete: with SoftFrom, a row inserted earlier in the plan and
// then deleted is upserted marked deleted (its values kept, the delete's
// mode columns taken), a row unknown to the plan is a Delete action
// carrying the delete's old row, and a later insert wins again.
func TestPlanSoftDelete(t *testing.T) {
	tbl := &change.Table{ID: change.TableID{Schema: "s", Name: "t"}, Key: []int{0},
		Columns: []change.Column{{Name: "id"}, {Name: "v"}, {Name: "_deleted_at"}}}
	text := func(vals ...string) change.Row {
		r := make(change.Row, len(vals))
		for i, v := range vals {
			r[i] = change.Text(v)
			if v == "?" {
				r[i] = change.Value{State: change.Missing}
			}
		}
		return r
	}
	p := New(tbl)
	p.SoftFrom = 2
	for _, c := range []change.Change{
		{Op: change.Insert, After: text("1", "a", "")},
		{Op: change.Delete, Before: text("1", "?", "t1")},
		{Op: change.Delete, Before: text("2", "?", "t1")},
		{Op: change.Insert, After: text("3", "c", "")},
		{Op: change.Delete, Before: text("3", "?", "t2")},
		{Op: change.Insert, After: text("3", "C", "")},
	} {
		if err := p.Add(&c); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	for _, a := range p.Take() {
		for _, r := range a.Rows {
			got = append(got, fmt.Sprintf("%d:%v", a.Kind, r))
		}
	}
	slices.Sort(got)
	want := fmt.Sprintf("%d:[1 a t1] %d:[3 C ] %d:[2 <missing> t1]", Insert, Insert, Delete)
	if strings.Join(got, " ") != want {
		t.Errorf("actions %s, want %s", strings.Join(got, " "), want)
	}
}
