// Package arena hands out copies of byte slices from large slabs: one
// allocation per slab instead of one per value, for the sources' stream
// loops, which copy every message or value they keep. A copy keeps its
// slab alive.
package arena

import "bytes"

// slabSize is the size of one slab; larger values (over a quarter of it)
// get an allocation of their own.
const slabSize = 256 << 10

// Arena is a slab allocator; its zero value is ready. Not safe for
// concurrent use.
type Arena struct{ slab []byte }

// Copy returns a copy of b.
func (a *Arena) Copy(b []byte) []byte {
	if len(b) > slabSize/4 {
		return bytes.Clone(b)
	}
	if len(a.slab) < len(b) {
		a.slab = make([]byte, slabSize)
	}
	c := a.slab[:len(b):len(b)]
	copy(c, b)
	a.slab = a.slab[len(b):]
	return c
}
