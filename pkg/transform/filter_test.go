package transform

import (
	"fmt"
	"strings"
	"testing"

	"github.com/sluicecdc/sluice/pkg/change"
	"github.com/sluicecdc/sluice/pkg/config"
)

// run transforms one change and renders what the target receives, one
// "op before after" per change, or the error.
func run(s *Set, c change.Change) string {
	var out []string
	err := s.Change(&c, func(c change.Change) error {
		out = append(out, fmt.Sprintf("%s %v %v", c.Op, rowText(c.Before), rowText(c.After)))
		return nil
	})
	if err != nil {
		return "error: " + err.Error()
	}
	if len(out) == 0 {
		return "nothing"
	}
	return strings.Join(out, "; ")
}

func rowText(r change.Row) string {
	if r == nil {
		return "-"
	}
	return strings.ReplaceAll(strings.ReplaceAll(fmt.Sprint(r), "<unchanged>", "~"), "<missing>", "?")
}

// TestFilterKeyed is the truth table for a table with a primary key:
// customers(id, name, country, age, ssn, phone_1), where country == 'NL',
// ssn dropped. Rows are written in source order; results in target order
// (id, name, country, age, phone_1).
func TestFilterKeyed(t *testing.T) {
	src := customers()
	s := mustCompile(t, config.Transform{Tables: []string{"public.customers"}, Where: "country == 'NL'",
		Columns: config.TransformColumns{Exclude: []string{"ssn"}}})
	nl := row("1", "ann", "NL", "20", "x", "555")
	de := row("1", "ann", "DE", "20", "x", "555")
	key1 := row("1", "?", "?", "?", "?", "?")
	tests := []struct {
		name string
		c    change.Change
		want string
	}{
		{"insert matching", change.Change{Op: change.Insert, After: nl}, "insert - [1 ann NL 20 555]"},
		{"insert not matching", change.Change{Op: change.Insert, After: de}, "nothing"},
		{"insert with NULL", change.Change{Op: change.Insert, After: row("1", "ann", "NULL", "20", "x", "555")}, "nothing"},
		{"snapshot row matching", change.Change{Op: change.Read, After: nl}, "read - [1 ann NL 20 555]"},
		{"snapshot row not matching", change.Change{Op: change.Read, After: de}, "nothing"},
		{"delete by key", change.Change{Op: change.Delete, Before: key1}, "delete [1 ? ? ? ?] -"},
		{"delete of a row outside", change.Change{Op: change.Delete, Before: de}, "delete [1 ann DE 20 555] -"},
		{"truncate", change.Change{Op: change.Truncate}, "truncate - -"},

		// The source sent no old row (PostgreSQL, key unchanged): whether
		// the target holds the row is unknown, so the new row must be whole.
		{"update enters or stays, no old row", change.Change{Op: change.Update, After: nl}, "update - [1 ann NL 20 555]"},
		{"update leaves, no old row", change.Change{Op: change.Update, After: de}, "delete [1 ? ? ? ?] -"},
		{"update with an unsent value, no old row", change.Change{Op: change.Update, After: row("1", "~", "NL", "20", "x", "555")},
			"error: transform update of public.customers: the row enters the target, but the source did not send column name"},
		{"update whose filter column was not sent, no old row", change.Change{Op: change.Update, After: row("1", "ann", "~", "20", "x", "555")},
			"error: transforms[0].where on public.customers: the source did not send column country"},

		// A full old row (REPLICA IDENTITY FULL, MySQL).
		{"update stays", change.Change{Op: change.Update, Before: nl, After: row("1", "~", "NL", "21", "x", "555")},
			"update [1 ann NL 20 555] [1 ~ NL 21 555]"},
		{"update enters", change.Change{Op: change.Update, Before: de, After: row("1", "~", "NL", "21", "x", "555")},
			"update [1 ann DE 20 555] [1 ann NL 21 555]"},
		{"update leaves", change.Change{Op: change.Update, Before: nl, After: de}, "delete [1 ann NL 20 555] -"},
		{"update stays outside", change.Change{Op: change.Update, Before: de, After: de}, "delete [1 ann DE 20 555] -"},
		{"update of an unsent filter column, full old row", change.Change{Op: change.Update, Before: nl, After: row("1", "bob", "~", "20", "x", "555")},
			"update [1 ann NL 20 555] [1 bob ~ 20 555]"},

		// Key changes: the old key goes, the new row is whole.
		{"key change stays", change.Change{Op: change.Update, Before: key1, After: row("2", "ann", "NL", "20", "x", "555")},
			"update [1 ? ? ? ?] [2 ann NL 20 555]"},
		{"key change leaves", change.Change{Op: change.Update, Before: key1, After: row("2", "ann", "DE", "20", "x", "555")},
			"delete [1 ? ? ? ?] -"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.c.Table = src
			if got := run(s, tc.c); !strings.HasPrefix(got, tc.want) {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
}

// TestFilterOnKey: a filter on key columns alone decides an update even
// without the old row, so unsent values need no full old row.
func TestFilterOnKey(t *testing.T) {
	s := mustCompile(t, config.Transform{Tables: []string{"public.customers"}, Where: "id < 10"})
	c := change.Change{Op: change.Update, Table: customers(), After: row("1", "~", "NL", "20", "x", "555")}
	if got, want := run(s, c), "update - [1 ~ NL 20 x 555]"; got != want {
		t.Fatalf("got %s, want %s", got, want)
	}
}

// TestFilterKeyless is the truth table for a table without a key (REPLICA
// IDENTITY FULL): the target must find exactly one row for an update or
// delete, so only rows it holds are touched.
func TestFilterKeyless(t *testing.T) {
	src := &change.Table{ID: change.TableID{Schema: "public", Name: "log"}, Identity: change.IdentityFull,
		Columns: []change.Column{{Name: "msg", Type: "text"}, {Name: "country", Type: "text"}}}
	s := mustCompile(t, config.Transform{Tables: []string{"public.log"}, Where: "country == 'NL'"})
	nl, de, nl2 := row("a", "NL"), row("a", "DE"), row("b", "NL")
	tests := []struct {
		name string
		c    change.Change
		want string
	}{
		{"insert", change.Change{Op: change.Insert, After: nl}, "insert - [a NL]"},
		{"insert outside", change.Change{Op: change.Insert, After: de}, "nothing"},
		{"delete", change.Change{Op: change.Delete, Before: nl}, "delete [a NL] -"},
		{"delete outside", change.Change{Op: change.Delete, Before: de}, "nothing"},
		{"update stays", change.Change{Op: change.Update, Before: nl, After: nl2}, "update [a NL] [b NL]"},
		{"update leaves", change.Change{Op: change.Update, Before: nl, After: de}, "delete [a NL] -"},
		{"update enters", change.Change{Op: change.Update, Before: de, After: nl}, "insert - [a NL]"},
		{"update outside", change.Change{Op: change.Update, Before: de, After: de}, "nothing"},
		{"update without old row", change.Change{Op: change.Update, After: nl},
			"error: transform update of public.log: the table has no primary key and the source sent no full old row"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.c.Table = src
			if got := run(s, tc.c); !strings.HasPrefix(got, tc.want) {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
}

func TestFilterErrors(t *testing.T) {
	rule := config.Transform{Tables: []string{"public.customers"}, Where: "age < 30"}
	shown, err := Compile([]config.Transform{rule}, Options{LogValues: true})
	if err != nil {
		t.Fatal(err)
	}
	got := run(shown, change.Change{Op: change.Insert, Table: customers(), After: row("7", "ann", "NL", "NULL", "x", "555")})
	for _, want := range []string{"transforms[0].where on public.customers (row id=7)", "is NULL: guard it"} {
		if !strings.Contains(got, want) {
			t.Errorf("%s\nlacks %q", got, want)
		}
	}
	// Without log.values the key column is named, its value is not.
	s := mustCompile(t, rule)
	got = run(s, change.Change{Op: change.Insert, Table: customers(), After: row("7", "ann", "NL", "NULL", "x", "555")})
	if want := "transforms[0].where on public.customers (row with key id; values not logged"; !strings.Contains(got, want) || strings.Contains(got, "7") {
		t.Errorf("%s\nlacks %q, or quotes the key value", got, want)
	}
	got = run(s, change.Change{Op: change.Insert, Table: customers(), After: row("7", "ann", "NL", "old", "x", "555")})
	if want := "transforms[0].where on public.customers: column age (integer) is not an integer"; !strings.HasPrefix(got, "error: "+want) {
		t.Errorf("got %s\nwant %s", got, want)
	}
}

// TestFiltersCombine: several rules' filters must all match; a later rule
// reads the names an earlier one gave, and a rule's where reads the row
// before its own renames and drops.
func TestFiltersCombine(t *testing.T) {
	s := mustCompile(t,
		config.Transform{Tables: []string{"public.customers"}, Where: "country == 'NL' && ssn != ''",
			Columns: config.TransformColumns{Exclude: []string{"ssn"}, Rename: map[string]string{"age": "years"}}},
		config.Transform{Tables: []string{"public.*"}, Where: "years >= 18"},
	)
	for _, tc := range []struct {
		after change.Row
		want  string
	}{
		{row("1", "ann", "NL", "20", "x", "555"), "insert - [1 ann NL 20 555]"},
		{row("1", "ann", "NL", "17", "x", "555"), "nothing"},
		{row("1", "ann", "DE", "20", "x", "555"), "nothing"},
		{row("1", "ann", "NL", "20", "", "555"), "nothing"},
	} {
		if got := run(s, change.Change{Op: change.Insert, Table: customers(), After: tc.after}); got != tc.want {
			t.Errorf("%v: got %s, want %s", tc.after, got, tc.want)
		}
	}
}

// TestLeavingNeedsNoOldVerdict: a row whose new image fails the filter
// leaves, whatever its old image would give (even an error there).
func TestLeavingNeedsNoOldVerdict(t *testing.T) {
	s := mustCompile(t, config.Transform{Tables: []string{"public.customers"}, Where: "age < 30"})
	c := change.Change{Op: change.Update, Table: customers(),
		Before: row("1", "ann", "NL", "NULL", "x", "555"), After: row("1", "ann", "NL", "40", "x", "555")}
	if got, want := run(s, c), "delete [1 ann NL NULL x 555] -"; got != want {
		t.Fatalf("got %s, want %s", got, want)
	}
}
