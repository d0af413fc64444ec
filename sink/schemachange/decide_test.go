package schemachange

import (
	"errors"
	"strings"
	"testing"

	"github.com/sluicecdc/sluice/pkg/change"
)

func TestWidens(t *testing.T) {
	for _, c := range []struct {
		d        change.Dialect
		from, to string
		want     bool
	}{
		{change.Postgres, "integer", "bigint", true},
		{change.Postgres, "smallint", "integer", true},
		{change.Postgres, "bigint", "integer", false},
		{change.Postgres, "int4", "integer", false}, // same type
		{change.Postgres, "integer", "numeric(12,2)", true},
		{change.Postgres, "integer", "numeric(9,0)", false},
		{change.Postgres, "bigint", "numeric(20,0)", true},
		{change.Postgres, "numeric(10,2)", "numeric(12,3)", true},
		{change.Postgres, "numeric(10,2)", "numeric(10,3)", false},
		{change.Postgres, "numeric(10,2)", "numeric", true},
		{change.Postgres, "numeric", "numeric(30,2)", false},
		{change.Postgres, "real", "double precision", true},
		{change.Postgres, "double precision", "real", false},
		{change.Postgres, "character varying(10)", "character varying(20)", true},
		{change.Postgres, "character varying(20)", "character varying(10)", false},
		{change.Postgres, "character varying(10)", "text", true},
		{change.Postgres, "varchar(10)", "character varying", true},
		{change.Postgres, "text", "character varying(10)", false},
		{change.Postgres, "timestamp without time zone", "timestamp with time zone", true},
		{change.Postgres, "timestamp(3) without time zone", "timestamp without time zone", true},
		{change.Postgres, "timestamp with time zone", "timestamp without time zone", false},
		{change.Postgres, "integer", "text", false},
		{change.Postgres, "integer[]", "bigint[]", false},
		{change.MySQL, "int(11)", "bigint", true},
		{change.MySQL, "int", "bigint(20)", true},
		{change.MySQL, "tinyint(4)", "smallint", true},
		{change.MySQL, "bigint", "int", false},
		{change.MySQL, "int unsigned", "bigint", true},
		{change.MySQL, "int unsigned", "int", false},
		{change.MySQL, "int", "int unsigned", false},
		{change.MySQL, "int(10) unsigned", "bigint unsigned", true},
		{change.MySQL, "int", "decimal(10,0)", true},
		{change.MySQL, "int unsigned", "decimal(9,0)", false},
		{change.MySQL, "decimal(10,2)", "decimal(12,2)", true},
		{change.MySQL, "decimal(10,2)", "decimal(10,1)", false},
		{change.MySQL, "float", "double", true},
		{change.MySQL, "varchar(10)", "varchar(20)", true},
		{change.MySQL, "varchar(20)", "varchar(10)", false},
		{change.MySQL, "varchar(100)", "text", true},
		{change.MySQL, "varchar(20000)", "text", false},
		{change.MySQL, "varchar(20000)", "mediumtext", true},
		{change.MySQL, "char(5)", "varchar(5)", true},
		{change.MySQL, "text", "mediumtext", true},
		{change.MySQL, "longtext", "text", false},
		{change.MySQL, "varbinary(8)", "blob", true},
		{change.MySQL, "datetime", "datetime(6)", true},
		{change.MySQL, "datetime(6)", "datetime(3)", false},
		{change.MySQL, "enum('a','b')", "enum('a','b','c')", true},
		{change.MySQL, "enum('a','b')", "enum('b','a','c')", false},
		{change.MySQL, "int", "varchar(20)", false},
	} {
		if got := Widens(c.d, c.from, c.to); got != c.want {
			t.Errorf("%s: Widens(%q, %q) = %v, want %v", c.d, c.from, c.to, got, c.want)
		}
	}
}

func TestSame(t *testing.T) {
	for _, c := range [][2]string{{"int(11)", "int"}, {"bigint(20) unsigned", "bigint unsigned"}, {"decimal", "decimal(10,0)"}, {"datetime(0)", "datetime"}} {
		if !Same(change.MySQL, c[0], c[1]) {
			t.Errorf("MySQL %q and %q should be the same type", c[0], c[1])
		}
	}
	for _, c := range [][2]string{{"int4", "integer"}, {"varchar(3)", "character varying(3)"}, {"timestamp(6) without time zone", "timestamp"}, {"numeric(5)", "numeric(5,0)"}} {
		if !Same(change.Postgres, c[0], c[1]) {
			t.Errorf("PostgreSQL %q and %q should be the same type", c[0], c[1])
		}
	}
}

func TestDecide(t *testing.T) {
	pg := change.Postgres
	for _, c := range []struct {
		name              string
		p                 Policy
		target, prev, cur string
		want              Action
		widening          bool
	}{
		{"unchanged", Follow, "integer", "integer", "integer", Keep, false},
		{"widen follows", Follow, "integer", "integer", "bigint", Alter, false},
		{"widen after restart", Follow, "integer", "", "bigint", Alter, false},
		{"widen stops", Stop, "integer", "integer", "bigint", Halt, true},
		{"widen ignored", Ignore, "integer", "integer", "bigint", Keep, false},
		{"narrowing stops under follow", Follow, "bigint", "bigint", "integer", Halt, false},
		{"narrowing stops under stop", Stop, "bigint", "bigint", "integer", Halt, false},
		{"narrowing ignored", Ignore, "bigint", "bigint", "integer", Keep, false},
		{"narrowing unseen (restart)", Follow, "bigint", "", "integer", Keep, false},
		{"kind change stops", Follow, "integer", "integer", "text", Halt, false},
		{"source widened into a wider target", Follow, "text", "character varying(10)", "character varying(20)", Keep, false},
		{"hand-made target differs", Follow, "text", "", "integer", Keep, false},
	} {
		v := Decide(pg, c.p, c.target, c.prev, c.cur)
		if v.Action != c.want || v.Widening != c.widening {
			t.Errorf("%s: Decide = %+v, want action %d widening %v", c.name, v, c.want, c.widening)
		}
	}
}

func TestPgUsing(t *testing.T) {
	if u := PgUsing(`"ts"`, "timestamp without time zone", "timestamp with time zone"); u != ` USING "ts" AT TIME ZONE 'UTC'` {
		t.Errorf("timestamp → timestamptz: %q", u)
	}
	if u := PgUsing(`"n"`, "integer", "bigint"); u != "" {
		t.Errorf("integer → bigint: %q", u)
	}
	if u := PgUsing(`"n"`, "text", "integer"); u != ` USING "n"::integer` {
		t.Errorf("text → integer: %q", u)
	}
}

func TestPolicyAndError(t *testing.T) {
	for s, want := range map[string]Policy{"": Follow, "follow": Follow, "stop": Stop, "ignore": Ignore} {
		if p, err := ParsePolicy(s); err != nil || p != want {
			t.Errorf("ParsePolicy(%q) = %v, %v", s, p, err)
		}
	}
	if _, err := ParsePolicy("apply"); err == nil || !strings.Contains(err.Error(), "follow, stop or ignore") {
		t.Errorf("ParsePolicy(apply): %v", err)
	}
	err := error(&Error{Table: "public.t", Column: "n", Old: "bigint", New: "integer", Statement: "ALTER TABLE x", Policy: Follow})
	if !errors.Is(err, ErrTypeChange) || !strings.Contains(err.Error(), "run on the target: ALTER TABLE x") ||
		!strings.Contains(err.Error(), "target type bigint, new type integer") {
		t.Errorf("error: %v", err)
	}
}

func TestRenames(t *testing.T) {
	has := func(cols ...string) func(string) bool {
		return func(n string) bool {
			for _, c := range cols {
				if strings.EqualFold(c, n) {
					return true
				}
			}
			return false
		}
	}
	rn := func(pairs ...string) []change.ColumnRename {
		var out []change.ColumnRename
		for i := 0; i+1 < len(pairs); i += 2 {
			out = append(out, change.ColumnRename{From: pairs[i], To: pairs[i+1]})
		}
		return out
	}
	if todo, err := Renames("t", rn("a", "b"), has("id", "a"), false); err != nil || len(todo) != 1 {
		t.Errorf("plain rename: %v %v", todo, err)
	}
	if todo, err := Renames("t", rn("a", "b"), has("id", "b"), false); err != nil || len(todo) != 0 {
		t.Errorf("replayed rename: %v %v", todo, err)
	}
	if _, err := Renames("t", rn("a", "b"), has("a", "b"), false); err == nil || !strings.Contains(err.Error(), "has a column b already") {
		t.Errorf("taken name: %v", err)
	}
	if todo, err := Renames("t", rn("a", "b", "b", "a"), has("a", "b"), false); err != nil || len(todo) != 2 {
		t.Errorf("swap: %v %v", todo, err)
	}
	if todo, err := Renames("t", rn("a", "A"), has("a"), true); err != nil || len(todo) != 1 {
		t.Errorf("case-only rename on MySQL: %v %v", todo, err)
	}
}

// FuzzWidens: any type texts (from a catalog or a source) are compared
// without panicking, and no type widens to itself.
func FuzzWidens(f *testing.F) {
	for _, s := range [][2]string{{"integer", "bigint"}, {"varchar(10)", "text"}, {"enum('a','b')", "enum('a','b','c')"},
		{"numeric(10,2)", "numeric"}, {"int(11) unsigned zerofill", "decimal(12"}, {"timestamp(3) without time zone", "timestamp with time zone"}} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		for _, d := range []change.Dialect{change.Postgres, change.MySQL} {
			if Widens(d, a, a) {
				t.Fatalf("%s: %q widens to itself", d, a)
			}
			if Widens(d, a, b) && Widens(d, b, a) {
				t.Fatalf("%s: %q and %q widen to each other", d, a, b)
			}
			Decide(d, Follow, a, b, a)
			_ = PgUsing(`"c"`, a, b)
		}
	})
}
