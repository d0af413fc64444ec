package where

import (
	"hash/fnv"
	"strings"
	"testing"

	"github.com/sluicecdc/sluice/pkg/change"
)

// fuzzTypes are the column types a fuzzed row's columns get, by name.
var fuzzTypes = []string{"integer", "bigint unsigned", "numeric", "boolean", "timestamp with time zone", "date", "text", "interval"}

// FuzzWhere: any expression text is compiled or refused with a one-line
// error, and a compiled filter run on any row (every column a value of some
// type made from the fuzzed text, or NULL) answers or errs, never panics.
// Seeds under testdata/fuzz/FuzzWhere.
func FuzzWhere(f *testing.F) {
	for _, s := range [][2]string{
		{"country == 'NL' && age < 30", "29"},
		{"amount > 0 || amount == nil", "-1.5e300"},
		{"let y = age * 2; y > x and lower(name) startsWith 'a'", "abc"},
		{"created > date('2024-01-01') && created < date('2025-01-01')", "2024-06-30 12:00:00+02"},
		{"$env['odd column'] in ['a', 'b'] ?? false", "b"},
		{"len(tags) > 2 && any(split(tags, ','), {# == 'x'})", "x,y,z"},
		{"flag ? n % 2 == 0 : n / 0 > 1", "t"},
		{"(age ?? 0) < 30 and not (country matches '^N')", "NaN"},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, src, val string) {
		e, err := Compile(src)
		if err != nil {
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("Compile(%q): error spans lines: %q", src, err)
			}
			return
		}
		names := e.Vars()
		if e.AllVars() {
			names = append(names, "odd column", "x")
		}
		env := map[string]any{}
		for _, name := range names {
			h := fnv.New32a()
			h.Write([]byte(name))
			n := int(h.Sum32() % uint32(len(fuzzTypes)+1))
			if n == len(fuzzTypes) {
				env[name] = nil
				continue
			}
			for _, d := range []change.Dialect{change.Postgres, change.MySQL} {
				col := change.Column{Name: name, Type: fuzzTypes[n]}
				if v, err := Var(d, &col, change.Text(val)); err == nil {
					env[name] = v
				}
			}
		}
		e.Match(env) //nolint:errcheck // only panics matter
	})
}
