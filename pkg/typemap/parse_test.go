package typemap

import (
	"errors"
	"strings"
	"testing"
)

func TestEachPGArrayElement(t *testing.T) {
	for _, tc := range []struct {
		in, want string // want: elements joined by |, NULL as ∅; "!" an error
		delim    byte
	}{
		{`{}`, "", ','},
		{`{1,NULL,-3}`, "1|∅|-3", ','},
		{`{"a,b","c\"d","",NULL,"NULL"}`, `a,b|c"d||∅|NULL`, ','},
		{`[0:1]={x,y}`, "x|y", ','},
		{`{"\\x0a0b"}`, `\x0a0b`, ','},
		{`{(1,2),(0,0);(3,3),(2,2)}`, "(1,2),(0,0)|(3,3),(2,2)", ';'},
		{`{{1,2},{3,4}}`, "!", ','},
		{`{1,2`, "!", ','},
		{`1,2`, "!", ','},
	} {
		var got []string
		err := EachPGArrayElement([]byte(tc.in), tc.delim, func(e []byte, null bool) error {
			if null {
				got = append(got, "∅")
			} else {
				got = append(got, string(e))
			}
			return nil
		})
		if tc.want == "!" {
			if err == nil {
				t.Errorf("%s: no error", tc.in)
			}
			continue
		}
		if err != nil || strings.Join(got, "|") != tc.want {
			t.Errorf("%s: %q, %v; want %q", tc.in, strings.Join(got, "|"), err, tc.want)
		}
	}
	stop := errors.New("stop")
	if err := EachPGArrayElement([]byte(`{1,2}`), ',', func([]byte, bool) error { return stop }); err != stop {
		t.Errorf("callback error: %v", err)
	}
}

func TestDecodeByteaAndClock(t *testing.T) {
	if b, err := DecodeBytea(nil, []byte(`\x00ff5c`)); err != nil || string(b) != "\x00\xff\\" {
		t.Errorf("hex: %q %v", b, err)
	}
	if _, err := DecodeBytea(nil, []byte(`\x0`)); err == nil || strings.Contains(err.Error(), `\x0`) {
		t.Errorf("bad hex: %v (must fail without quoting the value)", err)
	}
	if h, m, s, f, ok := ParseClock([]byte("838:59:59.5"), true); !ok || h != 838 || m != 59 || s != 59 || string(f) != "5" {
		t.Errorf("wide clock: %d %d %d %q %v", h, m, s, f, ok)
	}
	if off, ok := ParseUTCOffset([]byte("-14:59")); !ok || off != -(14*3600+59*60) {
		t.Errorf("offset: %d %v", off, ok)
	}
}
