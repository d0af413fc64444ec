package postgres

import "testing"

// TestLSNNumber checks the number LSN hands to consumers that cannot import
// this package (sink/envelope), and that it agrees with the text form.
func TestLSNNumber(t *testing.T) {
	for _, tc := range []struct {
		text string
		want uint64
	}{
		{"0/0", 0},
		{"0/16B3748", 0x16B3748},
		{"16/B374D848", 0x16B374D848},
		{"FFFFFFFF/FFFFFFFF", 1<<64 - 1},
	} {
		l, err := ParseLSN(tc.text)
		if err != nil {
			t.Fatal(err)
		}
		var n interface{ LSN() uint64 } = l
		if got := n.LSN(); got != tc.want {
			t.Errorf("ParseLSN(%q).LSN() = %d, want %d", tc.text, got, tc.want)
		}
		if got := LSN(tc.want).String(); got != tc.text {
			t.Errorf("LSN(%d).String() = %q, want %q", tc.want, got, tc.text)
		}
	}
}
