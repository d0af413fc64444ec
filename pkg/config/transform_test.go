package config

import (
	"reflect"
	"strings"
	"testing"
)

// withRules is doc with the transforms key set to rules.
func withRules(t *testing.T, rules ...any) []byte {
	t.Helper()
	return doc(t, "transforms", rules)
}

func TestTransformsParsed(t *testing.T) {
	data := []byte(`
name: crm-to-dwh
source: {kind: postgres, dsn: "postgres://replicator@db:5432/crm"}
sink: {kind: postgres, dsn: "postgres://app@dwh:5432/dwh"}
Transforms:
  - tables: ["public.customers"]
    columns: {include: [id, name, Phone_1], rename: {Phone_1: phone}}
    target: {schema: dwh, table: customer}
    where: "country == '${COUNTRY}' && age < 30"
  - tables: public.orders
    columns: {exclude: [note]}
`)
	c, err := Parse(data, "", envOf("COUNTRY", "NL"))
	if err != nil {
		t.Fatal(err)
	}
	want := []Transform{
		{
			Tables:  []string{"public.customers"},
			Columns: TransformColumns{Include: []string{"id", "name", "Phone_1"}, Rename: map[string]string{"Phone_1": "phone"}},
			Target:  TransformTarget{Schema: "dwh", Table: "customer"},
			Where:   "country == 'NL' && age < 30",
		},
		{Tables: []string{"public.orders"}, Columns: TransformColumns{Exclude: []string{"note"}}},
	}
	if !reflect.DeepEqual(c.Transforms, want) {
		t.Fatalf("Transforms = %+v\nwant %+v", c.Transforms, want)
	}
	r := c.Redacted()
	r.Transforms[0].Columns.Rename["Phone_1"] = "x"
	r.Transforms[0].Tables[0] = "x.y"
	if c.Transforms[0].Columns.Rename["Phone_1"] != "phone" || c.Transforms[0].Tables[0] != "public.customers" {
		t.Fatal("Redacted shares the transforms with the config")
	}
	if s := c.String(); strings.Contains(s, "transforms") || strings.Contains(s, "-=") {
		t.Fatalf("String lists the rules: %s", s)
	}
}

func TestTransformsAbsent(t *testing.T) {
	c, err := Parse(doc(t), "", envOf())
	if err != nil {
		t.Fatal(err)
	}
	if c.Transforms != nil {
		t.Fatalf("Transforms = %+v, want none", c.Transforms)
	}
	if c, err = Parse(doc(t, "transforms", nil), "", envOf()); err != nil || c.Transforms != nil {
		t.Fatalf("transforms: with no value = %+v, %v; want none", c, err)
	}
}

func TestTransformProblems(t *testing.T) {
	rule := func(kv ...any) map[string]any {
		m := map[string]any{"tables": []string{"public.customers"}}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1]
		}
		return m
	}
	cols := func(kv ...any) map[string]any {
		m := map[string]any{}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1]
		}
		return m
	}
	tests := []struct {
		name   string
		data   []byte
		prefix string
		has    []string
	}{
		// structure
		{"not a list", doc(t, "transforms", map[string]any{"tables": "public.x"}),
			"transforms: must be a list of rules, not a mapping", []string{"e.g."}},
		{"rule not a mapping", withRules(t, "public.x"),
			`transforms[0]: must be a mapping, not the text "public.x"`, []string{"known keys: tables, columns, target, where"}},
		{"unknown rule key", withRules(t, rule("filter", "a == 1")),
			`unknown key "transforms[0].filter"`, []string{"known keys under transforms[0]: tables, columns, target, where"}},
		{"unknown columns key", withRules(t, rule("columns", cols("drop", []string{"a"}))),
			`unknown key "transforms[0].columns.drop"`, []string{"include, exclude, rename"}},
		{"unknown target key", withRules(t, rule("target", cols("name", "x"))),
			`unknown key "transforms[0].target.name"`, []string{"schema, table"}},
		{"key twice", []byte("name: a\ntransforms: []\nTransforms: []\n"),
			"transforms: given twice", nil},
		{"where not text", withRules(t, rule("where", 5)),
			"transforms[0].where: must be text, not a number 5", nil},
		{"tables not a list", withRules(t, rule("tables", map[string]any{"a": 1})),
			"transforms[0].tables: must be a list of names, not a mapping", nil},
		{"table not text", withRules(t, rule("tables", []any{"public.a", 7})),
			"transforms[0].tables[1]: must be text, not a number 7", nil},
		{"rename not a mapping", withRules(t, rule("columns", cols("rename", []string{"a"}))),
			"transforms[0].columns.rename: must be a mapping of old name to new name, not a list", nil},
		{"rule key twice", []byte("name: a\ntransforms:\n  - {tables: [public.x], where: a == 1, Where: a == 2}\n"),
			"transforms[0].where: given twice", nil},
		{"columns not a mapping", withRules(t, rule("columns", []string{"a"})),
			"transforms[0].columns: must be a mapping, not a list", []string{"known keys: include, exclude, rename"}},
		{"target not a mapping", withRules(t, rule("target", "dwh.customer")),
			`transforms[0].target: must be a mapping, not the text "dwh.customer"`, []string{"known keys: schema, table"}},
		{"new name not text", withRules(t, rule("columns", cols("rename", map[string]any{"a": 5}))),
			"transforms[0].columns.rename.a: must be text, not a number 5", nil},
		{"target table not text", withRules(t, rule("target", cols("table", true))),
			"transforms[0].target.table: must be text, not a boolean true", nil},
		{"unset variable", withRules(t, rule("where", "a == '${NOPE}'")),
			"transforms[0].where: ", []string{"NOPE"}},

		// semantics
		{"tables missing", withRules(t, map[string]any{"where": "a == 1"}),
			"transforms[0].tables: required", []string{"e.g. [public.customers]"}},
		{"tables empty", withRules(t, rule("tables", []string{})),
			"transforms[0].tables: required", nil},
		{"bad pattern", withRules(t, rule("tables", []string{"customers"})),
			`transforms[0].tables: pattern "customers" must be schema.table`, nil},
		{"bad glob", withRules(t, rule("tables", []string{"public.[a"})),
			`transforms[0].tables: pattern "public.[a" is not a valid glob`, nil},
		{"include and exclude", withRules(t, rule("columns", cols("include", []string{"id"}, "exclude", []string{"ssn"}))),
			"transforms[0].columns: include and exclude are both set", []string{"use one"}},
		{"empty column name", withRules(t, rule("columns", cols("exclude", []string{""}))),
			"transforms[0].columns.exclude: has an empty column name", nil},
		{"column twice", withRules(t, rule("columns", cols("include", []string{"id", "id"}))),
			`transforms[0].columns.include: lists "id" twice`, nil},
		{"rename to empty", withRules(t, rule("columns", cols("rename", map[string]any{"a": ""}))),
			"transforms[0].columns.rename.a: the new name is empty", nil},
		{"rename too long", withRules(t, rule("columns", cols("rename", map[string]any{"a": strings.Repeat("x", 64)}))),
			"transforms[0].columns.rename.a: ", []string{"longer than 63 bytes"}},
		{"rename excluded", withRules(t, rule("columns", cols("exclude", []string{"a"}, "rename", map[string]any{"a": "b"}))),
			"transforms[0].columns.rename.a: the column is also excluded", nil},
		{"rename not included", withRules(t, rule("columns", cols("include", []string{"id"}, "rename", map[string]any{"a": "b"}))),
			"transforms[0].columns.rename.a: the column is not in include", nil},
		{"two renamed to one name", withRules(t, rule("columns", cols("rename", map[string]any{"phone_1": "phone", "phone_2": "phone"}))),
			`transforms[0].columns.rename: phone_1 and phone_2 are both renamed to "phone"`, []string{"give each its own name"}},
		{"target table for a glob", withRules(t, rule("tables", []string{"public.c*"}, "target", cols("table", "c"))),
			"transforms[0].target.table: every table the rule matches would go to one target table", []string{"list exactly one table"}},
		{"target table for two tables", withRules(t, rule("tables", []string{"public.a", "public.b"}, "target", cols("table", "c"))),
			"transforms[0].target.table: ", []string{"can match several"}},
		{"target schema too long", withRules(t, rule("target", cols("schema", strings.Repeat("s", 64)))),
			"transforms[0].target.schema: ", []string{"longer than 63 bytes"}},
		{"where syntax", withRules(t, rule("where", "country == ")),
			"transforms[0].where: is not a valid expression: unexpected token EOF", nil},
		{"where empty", withRules(t, rule("where", "  ")),
			"transforms[0].where: is empty", []string{"leave where out"}},
		{"where unknown function", withRules(t, rule("where", "isAdult(age)")),
			"transforms[0].where: calls isAdult()", []string{"built-ins"}},
		{"where now", withRules(t, rule("where", "created > now()")),
			"transforms[0].where: uses now()", []string{"fixed date"}},
		{"where not boolean", withRules(t, rule("where", "'NL'")),
			"transforms[0].where: is not a valid condition", []string{"true or false"}},
		{"second rule named", withRules(t, rule(), rule("where", "a ==")),
			"transforms[1].where: is not a valid expression", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Parse(tc.data, "", envOf())
			if err == nil {
				t.Fatalf("Parse = %v, want an error", c)
			}
			findProblem(t, err, tc.prefix, tc.has...)
		})
	}
}

// TestTransformsWithOtherProblems shows rule problems are listed with the
// rest, all at once.
func TestTransformsWithOtherProblems(t *testing.T) {
	data := doc(t, "sink.batch.rows", "abc", "transforms", []any{map[string]any{"where": "a =="}})
	_, err := Parse(data, "", envOf())
	findProblem(t, err, "sink.batch.rows: ")
	findProblem(t, err, "transforms[0].tables: required")
	findProblem(t, err, "transforms[0].where: is not a valid expression")
}
