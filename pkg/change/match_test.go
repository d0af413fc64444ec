package change

import "testing"

func TestMatchesAny(t *testing.T) {
	id := TableID{Schema: "public", Name: "audit_2024"}
	for _, c := range []struct {
		patterns []string
		want     bool
	}{
		{[]string{"public.*"}, true},
		{[]string{"*.audit_*"}, true},
		{[]string{"public.audit_202?"}, true},
		{[]string{"public.audit"}, false},
		{[]string{"other.*", "public.audit_[0-9]*"}, true},
		{[]string{"public"}, false}, // no dot: nothing
		{[]string{"public.[", "public.*"}, true},
		{nil, false},
	} {
		if got := id.MatchesAny(c.patterns); got != c.want {
			t.Errorf("%v: %v, want %v", c.patterns, got, c.want)
		}
	}
}
