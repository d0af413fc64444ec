package where

import (
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/sluicecdc/sluice/pkg/change"
)

func TestCompileErrors(t *testing.T) {
	tests := []struct{ src, want string }{
		{"", "is empty"},
		{"country ==", "is not a valid expression: unexpected token EOF"},
		{"age + 1 +", "is not a valid expression"},
		{"'NL'", "is not a valid condition: expected bool"},
		{"isAdult(age)", "calls isAdult(), which is not a function"},
		{"ts > now()", "uses now()"},
	}
	for _, tc := range tests {
		_, err := Compile(tc.src)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Compile(%q) = %v, want an error containing %q", tc.src, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), "\n") {
			t.Errorf("Compile(%q): error spans lines: %q", tc.src, err)
		}
	}
}

func TestVars(t *testing.T) {
	tests := []struct {
		src  string
		vars []string
		all  bool
	}{
		{"country == 'NL' && age < 30", []string{"age", "country"}, false},
		{"let y = 3; y > x", []string{"x"}, false},
		{"len(name) > 3 && all(tags, # > 1)", []string{"name", "tags"}, false},
		{"$env['first name'] == 'a'", nil, true},
		{"upper(c) in ['A', 'B']", []string{"c"}, false},
	}
	for _, tc := range tests {
		e, err := Compile(tc.src)
		if err != nil {
			t.Fatalf("Compile(%q): %v", tc.src, err)
		}
		if !reflect.DeepEqual(e.Vars(), tc.vars) || e.AllVars() != tc.all {
			t.Errorf("Compile(%q): vars %v all %v, want %v %v", tc.src, e.Vars(), e.AllVars(), tc.vars, tc.all)
		}
	}
}

func TestMatch(t *testing.T) {
	e, err := Compile("country == 'NL' && age < 30")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		env  map[string]any
		want bool
	}{
		{map[string]any{"country": "NL", "age": 29}, true},
		{map[string]any{"country": "NL", "age": 30}, false},
		{map[string]any{"country": "DE", "age": 20}, false},
		{map[string]any{"country": nil, "age": 20}, false},
		{map[string]any{"country": "NL", "age": uint64(3)}, true},
		{map[string]any{"country": "NL", "age": 29.5}, true},
	} {
		got, err := e.Match(tc.env)
		if err != nil || got != tc.want {
			t.Errorf("Match(%v) = %v, %v; want %v", tc.env, got, err, tc.want)
		}
	}
	_, err = e.Match(map[string]any{"country": "NL", "age": nil})
	if err == nil || !strings.Contains(err.Error(), "is NULL: guard it") {
		t.Errorf("Match with a NULL age = %v, want the NULL hint", err)
	}
	e, _ = Compile("x")
	if _, err := e.Match(map[string]any{"x": 5}); err == nil || !strings.Contains(err.Error(), "not true or false") {
		t.Errorf("Match of a number = %v, want an error", err)
	}
}

func TestVar(t *testing.T) {
	pg, my := change.Postgres, change.MySQL
	day := time.Date(2024, 1, 31, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		d    change.Dialect
		typ  string
		text string
		want any
	}{
		{pg, "integer", "-42", -42},
		{pg, "bigint", "9223372036854775807", math.MaxInt64},
		{pg, "smallint", "7", 7},
		{pg, "numeric(12,2)", "12.50", 12.5},
		{pg, "numeric", "NaN", math.NaN()},
		{pg, "double precision", "-Infinity", math.Inf(-1)},
		{pg, "real", "1.5", 1.5},
		{pg, "boolean", "t", true},
		{pg, "boolean", "f", false},
		{pg, "text", "NL", "NL"},
		{pg, "character varying(20)", "x", "x"},
		{pg, "integer[]", "{1,2}", "{1,2}"},
		{pg, "public.mood", "happy", "happy"},
		{pg, "uuid", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"},
		{pg, "date", "2024-01-31", day},
		{pg, "timestamp without time zone", "2024-01-31 13:45:00.25", day.Add(13*time.Hour + 45*time.Minute + 250*time.Millisecond)},
		{pg, "timestamp(3) with time zone", "2024-01-31 13:45:00+00", day.Add(13*time.Hour + 45*time.Minute)},
		{pg, "timestamp with time zone", "2024-01-31 15:45:00+02", day.Add(13*time.Hour + 45*time.Minute)},
		{pg, "timestamp with time zone", "2024-01-31 13:15:00-00:30", day.Add(13*time.Hour + 45*time.Minute)},
		{pg, "date", "infinity", maxTime},
		{pg, "date", "-infinity", time.Time{}},
		{pg, "date", "0044-03-15 BC", time.Date(-43, 3, 15, 0, 0, 0, 0, time.UTC)},
		{pg, "date", "12024-01-31", time.Date(12024, 1, 31, 0, 0, 0, 0, time.UTC)},
		{pg, "time without time zone", "13:45:00", "13:45:00"},
		{pg, "bytea", `\x0102`, `\x0102`},
		{my, "int", "-5", -5},
		{my, "int unsigned", "4294967295", 4294967295},
		{my, "tinyint", "1", 1},
		{my, "bigint unsigned", "18446744073709551615", uint64(math.MaxUint64)},
		{my, "bigint", "-1", -1},
		{my, "year", "2024", 2024},
		{my, "decimal(10,2) unsigned zerofill", "00012.50", 12.5},
		{my, "double", "1e+30", 1e30},
		{my, "datetime(6)", "2024-01-31 00:00:00.000001", day.Add(time.Microsecond)},
		{my, "timestamp", "2024-01-31 00:00:00", day},
		{my, "date", "0000-00-00", time.Time{}},
		{my, "datetime", "2024-00-15 00:00:00", time.Time{}},
		{my, "enum('a','b')", "b", "b"},
		{my, "varchar(10)", "NL", "NL"},
		{my, "json", `{"a": 1}`, `{"a": 1}`},
	}
	for _, tc := range tests {
		col := change.Column{Name: "c", Type: tc.typ}
		got, err := Var(tc.d, &col, change.Text(tc.text))
		if err != nil {
			t.Errorf("%s %s %q: %v", tc.d, tc.typ, tc.text, err)
			continue
		}
		if f, ok := tc.want.(float64); ok && math.IsNaN(f) {
			if g, ok := got.(float64); !ok || !math.IsNaN(g) {
				t.Errorf("%s %s %q = %#v, want NaN", tc.d, tc.typ, tc.text, got)
			}
			continue
		}
		if wt, ok := tc.want.(time.Time); ok {
			if gt, ok := got.(time.Time); !ok || !gt.Equal(wt) {
				t.Errorf("%s %s %q = %#v, want %v", tc.d, tc.typ, tc.text, got, wt)
			}
			continue
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s %s %q = %#v (%T), want %#v (%T)", tc.d, tc.typ, tc.text, got, got, tc.want, tc.want)
		}
	}
	col := change.Column{Name: "c", Type: "integer"}
	if v, err := Var(pg, &col, change.NullValue); v != nil || err != nil {
		t.Errorf("NULL = %v, %v; want nil", v, err)
	}
	for _, bad := range []struct{ typ, text string }{
		{"integer", "x"}, {"boolean", "maybe"}, {"date", "2024-13-01"}, {"timestamp", "2024-01-01 25"}, {"numeric", "1,5"},
		{"timestamp with time zone", "2024-01-01 10:00:00+"}, {"date", "0000-00-00 BC"},
	} {
		col := change.Column{Name: "c", Type: bad.typ}
		if v, err := Var(pg, &col, change.Text(bad.text)); err == nil {
			t.Errorf("%s %q = %v, want an error", bad.typ, bad.text, v)
		}
	}
}

// FuzzVar: no value text makes Var panic.
func FuzzVar(f *testing.F) {
	for _, s := range []string{"2024-01-31 13:45:00.123456+05:30", "0044-03-15 BC", "-1", "NaN", "t", "1:2:3", "--", "2024-1-1 1:1:1.1234567891"} {
		f.Add(s)
	}
	types := []string{"integer", "bigint unsigned", "numeric", "boolean", "timestamp with time zone", "date", "text"}
	f.Fuzz(func(t *testing.T, s string) {
		for _, d := range []change.Dialect{change.Postgres, change.MySQL} {
			for _, typ := range types {
				col := change.Column{Name: "c", Type: typ}
				Var(d, &col, change.Text(s)) //nolint:errcheck // only panics matter
			}
		}
	})
}
