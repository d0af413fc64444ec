package pgoutput

import (
	"bytes"
	"errors"
	"testing"
)

// FuzzParse checks that Parse never panics, returns (nil, ErrMalformed) or
// a non-nil message of the input's type, and that every accepted message
// re-encodes to the input bytes (so nothing is silently skipped or misread).
func FuzzParse(f *testing.F) {
	for _, c := range validCases() {
		f.Add(c.data, c.inStream)
	}
	f.Fuzz(func(t *testing.T, data []byte, inStream bool) {
		m, err := Parse(data, inStream)
		if err != nil {
			if m != nil {
				t.Fatalf("error %v with non-nil message %#v", err, m)
			}
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
			return
		}
		if m == nil {
			t.Fatal("nil message with nil error")
		}
		if m.Type() != MessageType(data[0]) {
			t.Fatalf("Type() = %q for type byte %q", m.Type(), data[0])
		}
		want := data
		switch m.Type() {
		case 'A':
			want = data[:9] // v4 trailer is accepted and ignored
		case 'S':
			if data[5] > 1 {
				return // any byte other than 1 means "not first"; not canonical
			}
		}
		if got := encodeMsg(m, inStream); !bytes.Equal(got, want) {
			t.Fatalf("round trip mismatch:\n in  %x\n out %x\n msg %#v", want, got, m)
		}
	})
}
