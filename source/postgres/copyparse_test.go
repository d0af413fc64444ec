package postgres

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/sluicecdc/sluice/pkg/change"
)

// encodeCopy writes rows the way COPY TO text format does.
func encodeCopy(rows []change.Row) []byte {
	var b bytes.Buffer
	for _, r := range rows {
		for i, v := range r {
			if i > 0 {
				b.WriteByte('\t')
			}
			if v.State == change.Null {
				b.WriteString(`\N`)
				continue
			}
			for _, c := range v.Data {
				switch c {
				case '\\':
					b.WriteString(`\\`)
				case '\n':
					b.WriteString(`\n`)
				case '\r':
					b.WriteString(`\r`)
				case '\t':
					b.WriteString(`\t`)
				case '\b':
					b.WriteString(`\b`)
				case '\f':
					b.WriteString(`\f`)
				case '\v':
					b.WriteString(`\v`)
				default:
					b.WriteByte(c)
				}
			}
		}
		b.WriteByte('\n')
	}
	return b.Bytes()
}

func parseAll(t testing.TB, cols int, data []byte, split int) ([]string, error) {
	var got []string
	p := &copyParser{cols: cols, fn: func(r change.Row) error { got = append(got, fmt.Sprint(r)); return nil }}
	for len(data) > 0 {
		n := min(split, len(data))
		if _, err := p.Write(data[:n]); err != nil {
			return got, err
		}
		data = data[n:]
	}
	return got, p.finish()
}

func TestCopyParserRoundTrip(t *testing.T) {
	rows := []change.Row{
		{change.Text("1"), change.Text("plain"), change.NullValue},
		{change.Text("2"), change.Text("tab\there\nnl\\bs\r\b\f\v"), change.Text("")},
		{change.Text("3"), change.Text(`\N`), change.Text("é 🚀 \x00\x01")},
		{change.Text(""), change.Text(""), change.Text("")},
	}
	var want []string
	for _, r := range rows {
		want = append(want, fmt.Sprint(r))
	}
	data := encodeCopy(rows)
	for split := 1; split <= len(data); split++ { // lines and escapes cut at every point
		got, err := parseAll(t, 3, data, split)
		if err != nil {
			t.Fatalf("split %d: %v", split, err)
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("split %d:\n got %q\nwant %q", split, got, want)
		}
	}
}

func TestCopyParserEscapes(t *testing.T) {
	got, err := parseAll(t, 1, []byte(`\101\x42\x4g\q\`+"\n"), 1000)
	// \x takes one or two hex digits (\x4 then g), octal up to three, an
	// unknown escape is the character itself, a lone trailing \ stays.
	if err != nil || fmt.Sprint(got) != "[[AB\x04gq\\]]" {
		t.Fatalf("got %q, %v", got, err)
	}
}

func TestCopyParserErrors(t *testing.T) {
	for _, in := range []string{"a\tb\n", "a\tb\tc\td\n", "a\tb\tc"} {
		if _, err := parseAll(t, 3, []byte(in), 1000); err == nil {
			t.Errorf("%q: want an error", in)
		}
	}
}

// FuzzCopyParser: any bytes, cut anywhere, never panic; valid encodings
// round-trip.
func FuzzCopyParser(f *testing.F) {
	f.Add([]byte("1\tx\t\\N\n"), 2, []byte("a\tb"))
	f.Add([]byte("\\\\\t\\x\t\\777\n"), 1, []byte("\n\\"))
	f.Fuzz(func(t *testing.T, raw []byte, split int, value []byte) {
		split = 1 + abs(split)%64
		_, _ = parseAll(t, 3, raw, split) // must not panic
		rows := []change.Row{{change.Text("k"), {State: change.Present, Data: value}, change.NullValue}}
		got, err := parseAll(t, 3, encodeCopy(rows), split)
		if err != nil || len(got) != 1 || got[0] != fmt.Sprint(rows[0]) {
			t.Fatalf("round trip of %q: got %q, %v", value, got, err)
		}
	})
}

func abs(i int) int {
	if i < 0 {
		return -i
	}
	return i
}
