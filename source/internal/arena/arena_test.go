package arena

import (
	"bytes"
	"testing"
)

// TestCopy: copies are equal, independent of their input and of each
// other (appending to one does not write into the next), small ones share
// a slab and large ones do not.
func TestCopy(t *testing.T) {
	var a Arena
	in := []byte("abc")
	x := a.Copy(in)
	y := a.Copy([]byte("def"))
	in[0] = 'z'
	if string(x) != "abc" || string(y) != "def" {
		t.Fatalf("copies %q %q", x, y)
	}
	x = append(x, '!')
	if string(y) != "def" {
		t.Errorf("appending to one copy wrote into the next: %q", y)
	}
	big := bytes.Repeat([]byte("x"), slabSize/4+1)
	if got := a.Copy(big); !bytes.Equal(got, big) || cap(got) < len(big) {
		t.Errorf("large copy differs")
	}
	if len(a.slab) != slabSize-6 {
		t.Errorf("a large copy took %d bytes of the slab", slabSize-6-len(a.slab))
	}
}
