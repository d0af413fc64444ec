package transform

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/sluicecdc/sluice/pkg/change"
	"github.com/sluicecdc/sluice/pkg/config"
)

// customers is public.customers(id PK, name, country, age, ssn, phone_1).
func customers() *change.Table {
	return &change.Table{
		ID: change.TableID{Schema: "public", Name: "customers"},
		Columns: []change.Column{
			{Name: "id", Type: "integer", NotNull: true}, {Name: "name", Type: "text"}, {Name: "country", Type: "text"},
			{Name: "age", Type: "integer"}, {Name: "ssn", Type: "text"}, {Name: "phone_1", Type: "text"},
		},
		Key: []int{0},
	}
}

func mustCompile(t *testing.T, rules ...config.Transform) *Set {
	t.Helper()
	s, err := Compile(rules, Options{})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestCompileErrors(t *testing.T) {
	tests := []struct {
		rule config.Transform
		want string
	}{
		{config.Transform{}, "transforms[0].tables: required"},
		{config.Transform{Tables: []string{"public.x"}, Columns: config.TransformColumns{Include: []string{"a"}, Exclude: []string{"b"}}},
			"transforms[0].columns: include and exclude are both set"},
		{config.Transform{Tables: []string{"public.x"}, Where: "a =="}, "transforms[0].where: is not a valid expression"},
	}
	for _, tc := range tests {
		_, err := Compile([]config.Transform{tc.rule}, Options{})
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("Compile(%+v) = %v, want %q", tc.rule, err, tc.want)
		}
	}
}

func TestShapeErrors(t *testing.T) {
	on := []string{"public.customers"}
	tests := []struct {
		name  string
		rules []config.Transform
		want  []string
	}{
		{"include unknown", []config.Transform{{Tables: on, Columns: config.TransformColumns{Include: []string{"id", "phone_9"}}}},
			[]string{`transforms[0].columns.include: public.customers has no column "phone_9"`, "its columns: id, name, country, age, ssn, phone_1"}},
		{"exclude unknown", []config.Transform{{Tables: on, Columns: config.TransformColumns{Exclude: []string{"SSN"}}}},
			[]string{`transforms[0].columns.exclude: public.customers has no column "SSN"`}},
		{"rename unknown", []config.Transform{{Tables: on, Columns: config.TransformColumns{Rename: map[string]string{"phone": "p"}}}},
			[]string{`transforms[0].columns.rename: public.customers has no column "phone"`}},
		{"where unknown", []config.Transform{{Tables: on, Where: "contry == 'NL'"}},
			[]string{`transforms[0].where: public.customers has no column "contry"`, "fix the expression"}},
		{"exclude key", []config.Transform{{Tables: on, Columns: config.TransformColumns{Exclude: []string{"id"}}}},
			[]string{`transforms[0].columns.exclude: "id" is part of the primary key of public.customers`, "remove it from exclude"}},
		{"include without key", []config.Transform{{Tables: on, Columns: config.TransformColumns{Include: []string{"name"}}}},
			[]string{`transforms[0].columns.include: leaves out "id", part of the primary key of public.customers`, "add it to include"}},
		{"rename onto a column", []config.Transform{{Tables: on, Columns: config.TransformColumns{Rename: map[string]string{"phone_1": "name"}}}},
			[]string{`transforms[0].columns.rename: public.customers would have two columns named "name"`}},
		{"second rule sees the renamed name", []config.Transform{
			{Tables: on, Columns: config.TransformColumns{Rename: map[string]string{"phone_1": "phone"}}},
			{Tables: []string{"public.*"}, Columns: config.TransformColumns{Exclude: []string{"phone_1"}}}},
			[]string{`transforms[1].columns.exclude: public.customers has no column "phone_1"`, "phone"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := mustCompile(t, tc.rules...).Table(customers())
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

func TestTargetCollision(t *testing.T) {
	s := mustCompile(t, config.Transform{Tables: []string{"public.a"}, Target: config.TransformTarget{Table: "b"}})
	a := &change.Table{ID: change.TableID{Schema: "public", Name: "a"}, Columns: []change.Column{{Name: "x", Type: "integer"}}}
	b := &change.Table{ID: change.TableID{Schema: "public", Name: "b"}, Columns: []change.Column{{Name: "x", Type: "integer"}}}
	if _, err := s.Table(a); err != nil {
		t.Fatal(err)
	}
	_, err := s.Table(b)
	if err == nil || !strings.Contains(err.Error(), "public.a and public.b would both be replicated into public.b") {
		t.Fatalf("error = %v", err)
	}
}

// TestSchemaCollision: a schema for every table (sink.schema, applied by
// the sink or by the rules) that sends tables of two source schemas into
// one target table is refused, naming both, the key and its fix, also for
// a table first seen while running; tables of one schema pass, and a rule
// that gives one of them its own target resolves it.
func TestSchemaCollision(t *testing.T) {
	orders := func(schema string) *change.Table {
		return &change.Table{ID: change.TableID{Schema: schema, Name: "orders"}, Key: []int{0}, Columns: []change.Column{{Name: "id", Type: "integer"}}}
	}
	insert := func(tbl *change.Table) *change.Txn {
		txn := change.NewTxn("", 0)
		txn.Add(change.Change{Op: change.Insert, Table: tbl, After: change.Row{change.Text("1")}})
		return txn
	}
	for _, c := range []struct {
		name  string
		opts  Options
		rules []config.Transform
		want  string // "" when fine
	}{
		{"sink applies sink.schema", Options{SinkSchema: "dwh", SchemaKey: "sink.schema"}, nil,
			"sink.schema: shop1.orders and shop2.orders would both be replicated into dwh.orders, mixing their rows, deletes and truncates, as sink.schema puts every table into dwh; remove sink.schema"},
		{"a MySQL sink's DSN database", Options{SinkSchema: "dwh", SchemaKey: "sink.dsn"}, nil,
			"sink.dsn: shop1.orders and shop2.orders would both be replicated into dwh.orders, mixing their rows, deletes and truncates, as the database sink.dsn names (dwh) is every table's target database; remove the database from sink.dsn"},
		{"rules apply sink.schema", Options{Schema: "dwh", SchemaKey: "sink.schema"},
			[]config.Transform{{Tables: []string{"other.*"}, Target: config.TransformTarget{Schema: "x"}}},
			"sink.schema: shop1.orders and shop2.orders would both be replicated into dwh.orders"},
		{"a rule gives one its own target", Options{Schema: "dwh", SchemaKey: "sink.schema"},
			[]config.Transform{{Tables: []string{"shop2.orders"}, Target: config.TransformTarget{Table: "orders2"}}}, ""},
		{"no schema", Options{}, nil, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			s, err := Compile(c.rules, c.opts)
			if err != nil {
				t.Fatal(err)
			}
			p := s.CheckTables([]*change.Table{orders("shop1"), orders("shop2")})
			var problems []string
			for _, x := range p {
				if !strings.Contains(x, "matches none") {
					problems = append(problems, x)
				}
			}
			if c.want == "" && len(problems) > 0 || c.want != "" && (len(problems) != 1 || !strings.HasPrefix(problems[0], c.want)) {
				t.Errorf("CheckTables = %q, want %q", problems, c.want)
			}
			// Running: shop2.orders appears after shop1.orders streamed.
			if _, err := s.Txn(insert(orders("shop1"))); err != nil {
				t.Fatal(err)
			}
			_, err = s.Txn(insert(orders("shop2")))
			if c.want == "" && err != nil || c.want != "" && (err == nil || !strings.HasPrefix(err.Error(), c.want)) {
				t.Errorf("Txn = %v, want %q", err, c.want)
			}
		})
	}
}

func TestReshape(t *testing.T) {
	src := customers()
	s := mustCompile(t,
		config.Transform{Tables: []string{"public.cust*"},
			Columns: config.TransformColumns{Exclude: []string{"ssn"}, Rename: map[string]string{"phone_1": "phone", "id": "customer_id"}},
			Target:  config.TransformTarget{Schema: "dwh"}},
		config.Transform{Tables: []string{"public.customers"},
			Columns: config.TransformColumns{Include: []string{"customer_id", "name", "phone"}},
			Target:  config.TransformTarget{Table: "customer"}},
	)
	out, err := s.Table(src)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, c := range out.Columns {
		names = append(names, c.Name+" "+c.Type)
	}
	want := []string{"customer_id integer", "name text", "phone text"}
	if out.ID != (change.TableID{Schema: "dwh", Name: "customer"}) || !reflect.DeepEqual(names, want) || !reflect.DeepEqual(out.Key, []int{0}) {
		t.Fatalf("out = %v %v key %v, want dwh.customer %v key [0]", out.ID, names, out.Key, want)
	}
	if src.Columns[0].Name != "id" {
		t.Fatal("the source table was modified")
	}
	again, _ := s.Table(src)
	same := customers() // a new pointer of the same shape
	third, _ := s.Table(same)
	if again != out || third != out {
		t.Fatal("one source shape got two transformed pointers")
	}
	other := &change.Table{ID: change.TableID{Schema: "public", Name: "orders"}, Columns: []change.Column{{Name: "id", Type: "integer"}}}
	if got, _ := s.Table(other); got != other {
		t.Fatal("a table no rule matches is not passed through as is")
	}
	var got change.Change
	err = s.Change(&change.Change{Op: change.Insert, Table: src, After: row("1", "ann", "NL", "20", "123", "555")}, func(c change.Change) error {
		got = c
		return nil
	})
	if err != nil || got.Table != out || fmt.Sprint(got.After) != "[1 ann 555]" {
		t.Fatalf("insert became %v %v (err %v)", got.Table, got.After, err)
	}
}

func TestKeyMovesWithColumns(t *testing.T) {
	src := &change.Table{ID: change.TableID{Schema: "s", Name: "t"}, Key: []int{3, 1},
		Columns: []change.Column{{Name: "a", Type: "text"}, {Name: "k2", Type: "integer"}, {Name: "b", Type: "text"}, {Name: "k1", Type: "integer"}}}
	s := mustCompile(t, config.Transform{Tables: []string{"s.t"}, Columns: config.TransformColumns{Exclude: []string{"a"}}})
	out, err := s.Table(src)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(out.Key, []int{2, 0}) {
		t.Fatalf("key = %v, want [2 0] (k1, k2)", out.Key)
	}
}

func TestDefaultSchema(t *testing.T) {
	s, _ := Compile([]config.Transform{{Tables: []string{"public.customers"}, Target: config.TransformTarget{Schema: "dwh"}}}, Options{Schema: "crm"})
	a, _ := s.Table(customers())
	other := &change.Table{ID: change.TableID{Schema: "public", Name: "orders"}}
	b, _ := s.Table(other)
	if a.ID.Schema != "dwh" || b.ID.Schema != "crm" || b.ID.Name != "orders" {
		t.Fatalf("schemas: %v %v, want dwh.customers (the rule wins) and crm.orders (sink.schema)", a.ID, b.ID)
	}
}

// row builds a row of present values; "NULL" is NULL, "~" Unchanged, "?" Missing.
func row(vals ...string) change.Row {
	r := make(change.Row, len(vals))
	for i, v := range vals {
		switch v {
		case "NULL":
			r[i] = change.NullValue
		case "~":
			r[i] = change.Value{State: change.Unchanged}
		case "?":
			r[i] = change.Value{State: change.Missing}
		default:
			r[i] = change.Text(v)
		}
	}
	return r
}
