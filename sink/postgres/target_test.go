package postgres

import "testing"

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
