package typemap

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"
)

func TestPGArray(t *testing.T) {
	for _, tc := range []struct {
		in   string
		elem elemKind
		want string // "" = error
	}{
		{`{}`, elemNumber, `[]`},
		{` { } `, elemString, `[]`},
		{`{1,2,NULL}`, elemNumber, `[1,2,null]`},
		{`{1,null,Null}`, elemNumber, `[1,null,null]`},
		{`{{1,2},{3,4}}`, elemNumber, `[[1,2],[3,4]]`},
		{`{{{1},{2}},{{3},{4}}}`, elemNumber, `[[[1],[2]],[[3],[4]]]`},
		{`{{1,NULL},{NULL,4}}`, elemNumber, `[[1,null],[null,4]]`},
		{`{-1.50,0,1e+20,-0,NaN,Infinity,-Infinity}`, elemNumber, `[-1.50,0,1e+20,-0,"NaN","Infinity","-Infinity"]`},
		{`{1.5e-07,01}`, elemNumber, `[1.5e-07,"01"]`},
		{`{"a b","c\"d",NULL,"NULL",""}`, elemString, `["a b","c\"d",null,"NULL",""]`},
		{`{"back\\slash","{}","a,b"," lead","trail "}`, elemString, `["back\\slash","{}","a,b"," lead","trail "]`},
		{`{ a , b c ,d\ }`, elemString, `["a","b c","d "]`},
		{`{a\,b,\"q\"}`, elemString, `["a,b","\"q\""]`},
		{`{N\ULL,\NULL}`, elemString, `["NULL","NULL"]`},
		{`{"tab\there","nl` + "\n" + `x","ctl` + "\x01" + `"}`, elemString, `["tabthere","nl\nx","ctl\u0001"]`},
		{`{😀,"ünï"}`, elemString, `["😀","ünï"]`},
		{`{t,f,NULL}`, elemBool, `[true,false,null]`},
		{`{"{\"a\": [1, \"x\"]}",NULL,"1","\"s\""}`, elemJSON, `[{"a": [1, "x"]},null,1,"s"]`},
		{`[1:2]={1,2}`, elemNumber, `[1,2]`},
		{`[-3:-2][0:0]={{1},{2}}`, elemNumber, `[[1],[2]]`},
		// malformed
		{``, elemString, ``},
		{`{`, elemString, ``},
		{`}`, elemString, ``},
		{`{1,2`, elemNumber, ``},
		{`{1,,2}`, elemNumber, ``},
		{`{,}`, elemNumber, ``},
		{`{1,}`, elemNumber, ``},
		{`{"a}`, elemString, ``},
		{`{"a"b}`, elemString, ``},
		{`{a"b"}`, elemString, ``},
		{`{a{b}}`, elemString, ``},
		{`{1}x`, elemNumber, ``},
		{`{1}{2}`, elemNumber, ``},
		{`{a\}`, elemString, ``},
		{`{a\`, elemString, ``},
		{`[1:2]{1,2}`, elemNumber, ``},
		{`[1:]={1}`, elemNumber, ``},
		{`{x}`, elemBool, ``},
		{`{"{bad"}`, elemJSON, ``},
		{"{\xff}", elemString, ``},
		{strings.Repeat("{", 40) + strings.Repeat("}", 40), elemNumber, ``},
	} {
		got, err := parsePGArray(nil, []byte(tc.in), tc.elem, ',')
		if tc.want == "" {
			if err == nil {
				t.Errorf("%q: got %s, want an error", tc.in, got)
			}
			continue
		}
		if err != nil || string(got) != tc.want {
			t.Errorf("%q → %s, %v; want %s", tc.in, got, err, tc.want)
		}
		if err == nil && !json.Valid(got) {
			t.Errorf("%q → invalid JSON %s", tc.in, got)
		}
	}
	if got, err := parsePGArray(nil, []byte(`{(3,4),(1,2);(1,1),(0,0)}`), elemString, ';'); err != nil || string(got) != `["(3,4),(1,2)","(1,1),(0,0)"]` {
		t.Errorf("box[]: %s %v", got, err)
	}
	if got, err := parsePGArray(nil, []byte(strings.Repeat("{", 6)+"1"+strings.Repeat("}", 6)), elemNumber, ','); err != nil || string(got) != "[[[[[[1]]]]]]" {
		t.Errorf("6 dimensions: %s %v", got, err)
	}
}

// pgQuote writes an element as PostgreSQL's array_out does: quoted when
// empty, "NULL", or holding special characters or white space.
func pgQuote(b *strings.Builder, s string) {
	need := s == "" || strings.EqualFold(s, "NULL") || strings.ContainsAny(s, "{},\"\\ \t\n\r\v\f")
	if !need {
		b.WriteString(s)
		return
	}
	b.WriteByte('"')
	for _, r := range s {
		if r == '"' || r == '\\' {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	b.WriteByte('"')
}

// TestPGArrayRoundTrip encodes random nested string arrays the way
// PostgreSQL prints them and checks the parser returns the same values.
func TestPGArrayRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	alphabet := []string{"a", "Z", " ", ",", "{", "}", "\"", "\\", "NULL", "null", "é", "😀", "\n", "\t", "x y", "0", "\x01"}
	word := func() any {
		if rng.IntN(8) == 0 {
			return nil
		}
		var s strings.Builder
		for range rng.IntN(5) {
			s.WriteString(alphabet[rng.IntN(len(alphabet))])
		}
		return s.String()
	}
	var gen func(depth int) ([]any, string)
	gen = func(depth int) ([]any, string) {
		n := rng.IntN(4)
		if depth > 1 && n == 0 {
			n = 1 // PostgreSQL has no empty sub-arrays
		}
		var b strings.Builder
		b.WriteByte('{')
		vals := []any{}
		for i := range n {
			if i > 0 {
				b.WriteByte(',')
			}
			if depth < 3 && rng.IntN(3) == 0 {
				sub, text := gen(depth + 1)
				vals = append(vals, sub)
				b.WriteString(text)
				continue
			}
			w := word()
			vals = append(vals, w)
			if w == nil {
				b.WriteString("NULL")
			} else {
				pgQuote(&b, w.(string))
			}
		}
		b.WriteByte('}')
		return vals, b.String()
	}
	for range 2000 {
		vals, text := gen(1)
		got, err := parsePGArray(nil, []byte(text), elemString, ',')
		if err != nil {
			t.Fatalf("%q: %v", text, err)
		}
		var back []any
		if err := json.Unmarshal(got, &back); err != nil {
			t.Fatalf("%q → invalid JSON %s: %v", text, got, err)
		}
		want, _ := json.Marshal(vals)
		again, _ := json.Marshal(back)
		if !bytes.Equal(want, again) {
			t.Fatalf("%q → %s, want %s", text, again, want)
		}
	}
}

func FuzzPGArray(f *testing.F) {
	for _, s := range []string{`{}`, `{1,2,NULL}`, `{{1,2},{3,4}}`, `{"a b","c\"d",NULL}`, `[0:1]={1,2}`,
		`{t,f}`, `{"{\"a\": 1}"}`, `{a\,b, c }`, `{(1,2),(3,4);(5,6),(7,8)}`, `{1e+20,NaN,-0}`, "{\"\\\x00\"}"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, elem := range []elemKind{elemString, elemNumber, elemBool, elemJSON} {
			for _, delim := range []byte{',', ';'} {
				prefix := []byte("x")
				got, err := parsePGArray(prefix, []byte(s), elem, delim)
				if !bytes.HasPrefix(got, prefix) {
					t.Fatalf("%q: output lost its prefix: %q", s, got)
				}
				if err != nil {
					continue
				}
				out := got[len(prefix):]
				if !json.Valid(out) || out[0] != '[' {
					t.Fatalf("%q (elem %d, delim %q) → not a JSON array: %q", s, elem, delim, out)
				}
			}
		}
	})
}
