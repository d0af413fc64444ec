package envelope

// Bit strings and geometry values, in the forms Debezium writes them.

import (
	"bytes"
	"encoding/binary"
	"math"
	"strconv"
)

// appendPgBits writes a PostgreSQL bit string ("1010101") as Debezium's
// Bits: little-endian bytes (bit 0 is the last character), only as many
// bytes as the highest set bit needs (PostgreSQL's connector sizes them by
// content).
func (w *writer) appendPgBits(dst, s []byte) ([]byte, error) {
	w.tmp = w.tmp[:0]
	top := -1
	for i := len(s) - 1; i >= 0; i-- {
		bit := len(s) - 1 - i
		switch s[i] {
		case '1':
			for len(w.tmp) <= bit/8 {
				w.tmp = append(w.tmp, 0)
			}
			w.tmp[bit/8] |= 1 << (bit % 8)
			top = bit
		case '0':
		default:
			return dst, errBits
		}
	}
	return appendBase64(dst, w.tmp[:(top+8)/8]), nil
}

// appendMyBits writes a MySQL bit(n) value (n characters 0/1) as Debezium's
// Bits: little-endian bytes, padded to n/8 rounded up.
func (w *writer) appendMyBits(dst, s []byte, n int) ([]byte, error) {
	if len(s) != n {
		return dst, errBits
	}
	w.tmp = w.tmp[:0]
	for i := 0; i < (n+7)/8; i++ {
		w.tmp = append(w.tmp, 0)
	}
	for i := len(s) - 1; i >= 0; i-- {
		bit := len(s) - 1 - i
		switch s[i] {
		case '1':
			w.tmp[bit/8] |= 1 << (bit % 8)
		case '0':
		default:
			return dst, errBits
		}
	}
	return appendBase64(dst, w.tmp), nil
}

// parsePoint reads PostgreSQL's point text "(x,y)".
func parsePoint(s []byte) (x, y float64, err error) {
	if len(s) < 5 || s[0] != '(' || s[len(s)-1] != ')' {
		return 0, 0, errPoint
	}
	xs, ys, ok := bytes.Cut(s[1:len(s)-1], []byte{','})
	if !ok {
		return 0, 0, errPoint
	}
	if x, err = parseFloat(bytes.TrimSpace(xs), 64); err != nil {
		return 0, 0, errPoint
	}
	if y, err = parseFloat(bytes.TrimSpace(ys), 64); err != nil {
		return 0, 0, errPoint
	}
	return x, y, nil
}

// pointWKB writes a 2D point as little-endian WKB, as Debezium builds it.
func pointWKB(dst []byte, x, y float64) []byte {
	dst = append(dst, 1, 1, 0, 0, 0)
	dst = binary.LittleEndian.AppendUint64(dst, math.Float64bits(x))
	return binary.LittleEndian.AppendUint64(dst, math.Float64bits(y))
}

// parseWKBPoint reads a 2D WKB point of either byte order.
func parseWKBPoint(wkb []byte) (x, y float64, ok bool) {
	if len(wkb) != 21 {
		return 0, 0, false
	}
	var bo binary.ByteOrder = binary.LittleEndian
	if wkb[0] == 0 {
		bo = binary.BigEndian
	}
	if bo.Uint32(wkb[1:5]) != 1 {
		return 0, 0, false
	}
	return math.Float64frombits(bo.Uint64(wkb[5:13])), math.Float64frombits(bo.Uint64(wkb[13:21])), true
}

// myGeometry splits MySQL's geometry bytes: a little-endian SRID, then WKB.
func myGeometry(s []byte) (srid uint32, wkb []byte, err error) {
	if len(s) < 5 {
		return 0, nil, errGeometry
	}
	return binary.LittleEndian.Uint32(s), s[4:], nil
}

func appendPoint(dst []byte, x, y float64, wkb []byte, srid uint32) []byte {
	dst = append(dst, `{"x":`...)
	dst = appendJavaFloat(dst, x, 64)
	dst = append(dst, `,"y":`...)
	dst = appendJavaFloat(dst, y, 64)
	dst = append(dst, `,"wkb":`...)
	dst = appendBase64(dst, wkb)
	return appendSRID(dst, srid)
}

func appendGeometry(dst, wkb []byte, srid uint32) []byte {
	dst = append(dst, `{"wkb":`...)
	dst = appendBase64(dst, wkb)
	dst = appendSRID(dst, srid)
	return append(dst[:len(dst)-1], `,"extensions":null}`...)
}

// appendSRID closes a geometry with its SRID: null for 0 (unset), as
// Debezium writes it.
func appendSRID(dst []byte, srid uint32) []byte {
	if srid == 0 {
		return append(dst, `,"srid":null}`...)
	}
	dst = append(dst, `,"srid":`...)
	dst = strconv.AppendInt(dst, int64(int32(srid)), 10)
	return append(dst, '}')
}
