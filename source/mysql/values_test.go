package mysql

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func TestValueHelpers(t *testing.T) {
	if got := string(appendBits(nil, 0b1010, 6)); got != "001010" {
		t.Errorf("bits: %q", got)
	}
	if got := string(appendSet(nil, []string{"a", "b", "c"}, 0b101)); got != "a,c" {
		t.Errorf("set: %q", got)
	}
	if got, err := appendEnum(nil, []string{"a"}, 2); err == nil {
		t.Errorf("enum index out of range: %q", got)
	}
	for in, want := range map[string]string{"-12:00:00": "-12:00:00.000", "838:59:59.5": "838:59:59.500", "00:00:00.123456": "00:00:00.123"} {
		if got := string(appendTime(nil, in, 3)); got != want {
			t.Errorf("time %s: %q, want %q", in, got, want)
		}
	}
	for in, want := range map[string]string{"00042": "42", "0": "0", "007.50": "7.50", "0.5": "0.5", "-0.5": "-0.5"} {
		if got := string(trimZerofill([]byte(in))); got != want {
			t.Errorf("zerofill %s: %q", in, got)
		}
	}
	if got := string(appendYear(nil, 0)); got != "0000" {
		t.Errorf("year 0: %q", got)
	}
	if _, err := decoderFor("swe7"); err == nil || !strings.Contains(err.Error(), "utf8mb4") {
		t.Errorf("unsupported charset: %v", err)
	}
	d, _ := decoderFor("cp1251")
	if got, _ := d.decode(nil, []byte{0xcf, 0xf0, 0xe8}); string(got) != "При" {
		t.Errorf("cp1251: %q", got)
	}
}

func TestParseTruncate(t *testing.T) {
	for q, want := range map[string][2]string{
		"TRUNCATE d.t":                             {"d", "t"},
		"truncate table `d`.`t`":                   {"d", "t"},
		"TRUNCATE TABLE t":                         {"", "t"},
		"/* c */ TRUNCATE /* x */ `we``ird`":       {"", "we`ird"},
		"TRUNCATE tablex":                          {"", "tablex"},
		"  truncate\ttable \"a b\" . `c`  WAIT 5 ": {"a b", "c"},
	} {
		s, tb, ok := parseTruncate(q)
		if !ok || s != want[0] || tb != want[1] {
			t.Errorf("%q: %q %q %v, want %v", q, s, tb, ok, want)
		}
	}
	for _, q := range []string{"TRUNCATE", "TRUNCATE TABLE", "DROP TABLE t", "TRUNCATE d.", "TRUNCATE `unterminated"} {
		if s, tb, ok := parseTruncate(q); ok {
			t.Errorf("%q: parsed as %q.%q", q, s, tb)
		}
	}
}

// FuzzBitsSetsEnums: the value renderers never panic and keep their
// shape whatever the input.
func FuzzBitsSetsEnums(f *testing.F) {
	f.Add(uint64(0b1010), 10, "a,b,c")
	f.Add(uint64(1<<63), 64, "")
	f.Add(uint64(0), -3, "x")
	f.Fuzz(func(t *testing.T, v uint64, n int, labels string) {
		bits := appendBits(nil, v, n)
		if len(bits) != min(max(n, 1), 64) || strings.Trim(string(bits), "01") != "" {
			t.Fatalf("bits %d of %x: %q", n, v, bits)
		}
		ls := strings.Split(labels, ",")
		set := appendSet(nil, ls, v)
		if len(set) > len(labels) {
			t.Fatalf("set %x of %q: %q", v, labels, set)
		}
		if e, err := appendEnum(nil, ls, int64(n)); err == nil && n > 0 && string(e) != ls[n-1] {
			t.Fatalf("enum %d of %q: %q", n, labels, e)
		}
	})
}

// FuzzLabels: enum/set label lists parse without panicking, and quoting
// parsed labels parses back to the same labels.
func FuzzLabels(f *testing.F) {
	for _, s := range []string{`enum('a','it''s','b\\c')`, `set('x','y')`, `enum('\0\n\r\Z')`, "enum(", "set('a',)", "enum('a'"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		labels, err := parseLabels(s)
		if err != nil {
			return
		}
		c := colDesc{kind: kEnum, labels: labels}
		again, err := parseLabels(c.typeText())
		if err != nil || !slices.Equal(again, labels) {
			t.Fatalf("%q → %q → %q (%v)", s, labels, again, err)
		}
	})
}

// FuzzParseTruncate: statement texts never panic the lexer.
func FuzzParseTruncate(f *testing.F) {
	for _, s := range []string{"TRUNCATE d.t", "truncate table `a``b`.\"c\"", "/* x */ TRUNCATE", "-- c\nTRUNCATE t", "# c"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		parseTruncate(s)
		(&lexer{s: s}).word()
	})
}

// TestAppendDatetime matches time.Format for every fraction width.
func TestAppendDatetime(t *testing.T) {
	for _, s := range []string{"1970-01-01T00:00:00.000001Z", "2024-02-29T23:59:59.999999Z", "9999-12-31T23:59:59.5Z", "2038-01-19T03:14:07.120000Z"} {
		tm, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatal(err)
		}
		for fsp := 0; fsp <= 6; fsp++ {
			layout := "2006-01-02 15:04:05"
			if fsp > 0 {
				layout += "." + strings.Repeat("0", fsp)
			}
			if got, want := string(appendDatetime(nil, tm, fsp)), tm.Format(layout); got != want {
				t.Errorf("%s fsp %d: %s, want %s", s, fsp, got, want)
			}
		}
	}
}
