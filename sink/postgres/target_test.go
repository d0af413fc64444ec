package postgres

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/sluicecdc/sluice/pkg/change"
)

func TestTypeSchema(t *testing.T) {
	for typ, want := range map[string]string{
		"public.mood":             "public",
		`"a.b".mood`:              `"a.b"`,
		`"x"";DROP TABLE t;--".m`: `"x"";DROP TABLE t;--"`,
		"mood":                    "",
		`"we.ird"`:                "",
	} {
		if got, _ := typeSchema(typ); got != want {
			t.Errorf("typeSchema(%s) = %q, want %q", typ, got, want)
		}
	}
}

func TestNameProblems(t *testing.T) {
	ok63 := strings.Repeat("a", 63)
	long64 := strings.Repeat("a", 64)
	umlauts := strings.Repeat("ü", 32) // 32 characters, 64 bytes
	tbl := func(schema, name string, cols ...string) *change.Table {
		t := &change.Table{ID: change.TableID{Schema: schema, Name: name}}
		for _, c := range cols {
			t.Columns = append(t.Columns, change.Column{Name: c, Type: "text"})
		}
		return t
	}
	for _, c := range []struct {
		t      *change.Table
		schema string
		n      int      // problems
		has    []string // in their text
	}{
		{t: tbl("app", ok63, ok63, "id")},
		{t: tbl("app", "orders", "id", long64), n: 1, has: []string{`column "` + long64 + `" is 64 bytes`, "columns: {rename:"}},
		{t: tbl("app", "orders", umlauts), n: 1, has: []string{`column "` + umlauts + `" is 64 bytes`}},
		{t: tbl("app", long64, "id", long64), n: 2, has: []string{"table name", "target: {table:", "columns: {rename:"}},
		{t: tbl(long64, "t", "id"), n: 1, has: []string{"schema", "sink.schema", "target: {schema:"}},
		{t: tbl(long64, "t", "id"), schema: "dwh"}, // sink.schema replaces the long one
	} {
		got := NameProblems(c.t.ID, c.t, c.schema)
		if len(got) != c.n {
			t.Errorf("%s: %d problems %q, want %d", c.t.ID, len(got), got, c.n)
			continue
		}
		for _, w := range c.has {
			if !strings.Contains(strings.Join(got, "\n"), w) {
				t.Errorf("%s: problems %q lack %q", c.t.ID, got, w)
			}
		}
	}
	// The column fix names the column and a short name that fits.
	p := NameProblems(change.TableID{Schema: "app", Name: "orders"}, tbl("app", "orders", umlauts), "")[0]
	if !strings.Contains(p, `tables: ["app.orders"], columns: {rename: {"`+umlauts+`": "`) {
		t.Errorf("fix: %s", p)
	}
}

func TestShortNames(t *testing.T) {
	for _, name := range []string{"a" + strings.Repeat("ü", 40), strings.Repeat("a", 70), "ab" + strings.Repeat("€", 30)} {
		s := shortName(name)
		if len(s) > maxName || !utf8.ValidString(s) {
			t.Errorf("shortName(%q) = %q: %d bytes, valid UTF-8 %v", name, s, len(s), utf8.ValidString(s))
		}
		ix := indexName(change.TableID{Schema: "app", Name: name}) + "_versions"
		if len(ix) > maxName || !utf8.ValidString(ix) {
			t.Errorf("index name %q: %d bytes, valid UTF-8 %v", ix, len(ix), utf8.ValidString(ix))
		}
	}
	if shortName(strings.Repeat("a", 70)+"x") == shortName(strings.Repeat("a", 70)+"y") {
		t.Error("two long names with one start get one proposal")
	}
}
