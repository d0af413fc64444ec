package envelope

import (
	"encoding/json"
	"math"
	"strconv"
	"testing"
)

// TestJavaFloat checks the Java toString forms Jackson writes (JDK 19+,
// shortest digits).
func TestJavaFloat(t *testing.T) {
	for _, tc := range []struct {
		f    float64
		bits int
		want string
	}{
		{1, 64, "1.0"},
		{-1, 64, "-1.0"},
		{100, 64, "100.0"},
		{1234.5678, 64, "1234.5678"},
		{9999999, 64, "9999999.0"},
		{1e7, 64, "1.0E7"},
		{12345678, 64, "1.2345678E7"},
		{0.001, 64, "0.001"},
		{0.0001, 64, "1.0E-4"},
		{0.00123, 64, "0.00123"},
		{0.1, 64, "0.1"},
		{0.30000000000000004, 64, "0.30000000000000004"},
		{1e21, 64, "1.0E21"},
		{1e23, 64, "1.0E23"},
		{math.MaxFloat64, 64, "1.7976931348623157E308"},
		{math.SmallestNonzeroFloat64, 64, "4.9E-324"},
		{2 * math.SmallestNonzeroFloat64, 64, "9.9E-324"}, // the nearest of the one- and two-digit decimals that read back
		{-1.5e-300, 64, "-1.5E-300"},
		{math.Copysign(0, -1), 64, "-0.0"},
		{0, 64, "0.0"},
		{math.NaN(), 64, `"NaN"`},
		{math.Inf(1), 64, `"Infinity"`},
		{math.Inf(-1), 32, `"-Infinity"`},
		{float64(float32(3.1415927)), 32, "3.1415927"},
		{float64(float32(0.1)), 32, "0.1"},
		{float64(float32(1.17549435e-38)), 32, "1.1754944E-38"},
		{float64(math.SmallestNonzeroFloat32), 32, "1.4E-45"},
		{float64(float32(math.MaxFloat32)), 32, "3.4028235E38"},
		{float64(float32(16777216)), 32, "1.6777216E7"},
	} {
		got := string(appendJavaFloat(nil, tc.f, tc.bits))
		if got != tc.want {
			t.Errorf("%v (%d bits): %s, want %s", tc.f, tc.bits, got, tc.want)
		}
		if tc.want[0] != '"' {
			back, err := strconv.ParseFloat(got, tc.bits)
			if err != nil || (back != tc.f && !(tc.f == 0)) {
				t.Errorf("%s reads back as %v (%v)", got, back, err)
			}
		}
	}
}

func TestAppendString(t *testing.T) {
	for in, want := range map[string]string{
		"":                   `""`,
		"a\"b\\c":            `"a\"b\\c"`,
		"\b\f\n\r\t\x00\x1f": `"\b\f\n\r\t\u0000\u001F"`,
		"é 你好 🚀 \u2028":      "\"é 你好 🚀 \u2028\"",
	} {
		got, ok := appendString(nil, []byte(in))
		if !ok || string(got) != want {
			t.Errorf("%q: %s %v, want %s", in, got, ok, want)
		}
		var back string
		if err := json.Unmarshal(got, &back); err != nil || back != in {
			t.Errorf("%s reads back as %q, %v", got, back, err)
		}
		if s := string(appendStr(nil, in)); s != want {
			t.Errorf("appendStr(%q) = %s", in, s)
		}
	}
	if out, ok := appendString([]byte("x"), []byte("a\xffb")); ok || string(out) != "x" {
		t.Errorf("invalid UTF-8 accepted: %q", out)
	}
	if s := string(appendStr(nil, "a\xffb")); s != "\"a\uFFFDb\"" {
		t.Errorf("appendStr invalid UTF-8: %s", s)
	}
}
