package envelope

import (
	"bytes"
	"errors"
	"math"
	"strconv"

	"github.com/sluicecdc/sluice/pkg/change"
	"github.com/sluicecdc/sluice/pkg/typemap"
)

var (
	errBool      = errors.New("not a boolean text")
	errBits      = errors.New("not a bit string of 0 and 1")
	errUTF8      = errors.New("not valid UTF-8, which a JSON string (a Java string) cannot hold")
	errMoney     = errors.New("not a money text")
	errPoint     = errors.New("not a point text (x,y)")
	errGeometry  = errors.New("not MySQL geometry bytes (4-byte SRID and WKB)")
	errMyPoint   = errors.New("not MySQL point bytes (4-byte SRID and a 2D WKB point)")
	errUnchanged = errors.New("an unchanged TOASTed value of this type has no Debezium placeholder; " +
		"set REPLICA IDENTITY FULL on the table so PostgreSQL sends it")
)

// writer holds the scratch space of one encoding goroutine.
type writer struct {
	tmp []byte
}

// appendValue writes v, a value of column c, as JSON.
func (w *writer) appendValue(dst []byte, c *column, v change.Value, placeholder string) ([]byte, error) {
	switch v.State {
	case change.Null:
		return append(dst, "null"...), nil
	case change.Missing:
		if c.optional {
			return append(dst, "null"...), nil
		}
		return c.appendZero(dst), nil
	case change.Unchanged:
		return c.appendPlaceholder(dst, placeholder)
	}
	return w.appendPresent(dst, c, v.Data)
}

func (w *writer) appendPresent(dst []byte, c *column, s []byte) ([]byte, error) {
	switch c.kind {
	case kPgBool:
		switch string(s) {
		case "t", "true":
			return append(dst, "true"...), nil
		case "f", "false":
			return append(dst, "false"...), nil
		}
		return dst, errBool
	case kBit1:
		switch string(s) {
		case "1":
			return append(dst, "true"...), nil
		case "0":
			return append(dst, "false"...), nil
		}
		return dst, errBits
	case kInt8, kInt16, kInt32, kInt64:
		n, err := parseInt(s)
		if err != nil {
			return dst, err
		}
		if !intFits(c.kind, n) {
			return dst, errOutOfRange
		}
		return strconv.AppendInt(dst, n, 10), nil
	case kUint64:
		u, err := parseUint(bytes.TrimPrefix(s, []byte{'+'}))
		if err != nil {
			return dst, err
		}
		return strconv.AppendInt(dst, int64(u), 10), nil // Java's long: the same 64 bits
	case kYear:
		n, err := parseInt(s)
		if err != nil || n < math.MinInt32 || n > math.MaxInt32 {
			return dst, errNotInteger
		}
		return strconv.AppendInt(dst, n, 10), nil
	case kFloat32, kFloat64:
		bits := 64
		if c.kind == kFloat32 {
			bits = 32
		}
		f, err := parseFloat(s, bits)
		if err != nil {
			return dst, err
		}
		return appendJavaFloat(dst, f, bits), nil
	case kDecimal:
		return appendDecimal(dst, s, c.mode, c.scale)
	case kVarDecimal:
		return appendDecimal(dst, s, c.mode, -1)
	case kMoney:
		return appendMoney(dst, s, c.mode, c.scale)
	case kString:
		out, ok := appendString(dst, s)
		if !ok {
			return dst, errUTF8
		}
		return out, nil
	case kPgBytes:
		var err error
		w.tmp, err = typemap.DecodeBytea(w.tmp[:0], s)
		if err != nil {
			return dst, err
		}
		return appendBase64(dst, w.tmp), nil
	case kRawBytes:
		return appendBase64(dst, s), nil
	case kPgBits:
		return w.appendPgBits(dst, s)
	case kMyBits:
		return w.appendMyBits(dst, s, c.bits)
	case kDate:
		var days int64
		if c.dialect == change.Postgres {
			var err error
			if days, err = pgDays(s); err != nil {
				return dst, err
			}
		} else {
			d, zero, rest, err := myDate(s)
			switch {
			case err != nil:
				return dst, err
			case len(rest) != 0:
				return dst, errDate
			case zero:
				return c.appendZeroDate(dst), nil
			}
			days = d
		}
		if days < math.MinInt32 || days > math.MaxInt32 {
			return dst, errDate
		}
		return strconv.AppendInt(dst, days, 10), nil
	case kTime:
		var us int64
		var err error
		if c.dialect == change.Postgres {
			us, err = clockMicros(s, 24)
		} else {
			us, err = myTimeMicros(s)
		}
		if err != nil {
			return dst, err
		}
		if !c.micro {
			us = floorDiv(us, 1000)
		}
		return strconv.AppendInt(dst, us, 10), nil
	case kTimestamp:
		var us int64
		if c.dialect == change.Postgres {
			t, inf, err := pgTimestampMicros(s, false)
			switch {
			case err != nil:
				return dst, err
			case inf > 0:
				t = pgInfinityMicros
			case inf < 0:
				t = pgNegInfinityMicros
			}
			us = t
		} else {
			t, zero, err := myDatetimeMicros(s)
			switch {
			case err != nil:
				return dst, err
			case zero:
				return c.appendZeroDate(dst), nil
			}
			us = t
		}
		if !c.micro {
			us = floorDiv(us, 1000)
		}
		return strconv.AppendInt(dst, us, 10), nil
	case kZonedTimestamp:
		if c.dialect == change.Postgres {
			us, inf, err := pgTimestampMicros(s, true)
			switch {
			case err != nil:
				return dst, err
			case inf > 0:
				return append(dst, `"infinity"`...), nil
			case inf < 0:
				return append(dst, `"-infinity"`...), nil
			}
			return appendZonedTimestamp(dst, us, c.width), nil
		}
		us, zero, err := myDatetimeMicros(s)
		switch {
		case err != nil:
			return dst, err
		case zero:
			return c.appendZeroDate(dst), nil
		}
		return appendZonedTimestamp(dst, us, c.width), nil
	case kZonedTime:
		return appendPgZonedTime(dst, s)
	case kInterval:
		us, err := pgIntervalMicros(s)
		if err != nil {
			return dst, err
		}
		return strconv.AppendInt(dst, us, 10), nil
	case kPgPoint:
		x, y, err := parsePoint(s)
		if err != nil {
			return dst, err
		}
		return appendPoint(dst, x, y, pointWKB(w.tmp[:0], x, y), 0), nil
	case kMyPoint:
		srid, wkb, err := myGeometry(s)
		if err != nil {
			return dst, err
		}
		x, y, ok := parseWKBPoint(wkb)
		if !ok {
			return dst, errMyPoint
		}
		return appendPoint(dst, x, y, wkb, srid), nil
	case kMyGeometry:
		srid, wkb, err := myGeometry(s)
		if err != nil {
			return dst, err
		}
		return appendGeometry(dst, wkb, srid), nil
	case kArray:
		return w.appendArray(dst, c, s)
	}
	return dst, errors.New("no encoding for this type")
}

func intFits(k kind, n int64) bool {
	switch k {
	case kInt8:
		return n >= math.MinInt8 && n <= math.MaxInt8
	case kInt16:
		return n >= math.MinInt16 && n <= math.MaxInt16
	case kInt32:
		return n >= math.MinInt32 && n <= math.MaxInt32
	}
	return true
}

// appendZeroDate writes what Debezium writes for a MySQL zero date: null
// in a nullable column, the epoch in a NOT NULL one.
func (c *column) appendZeroDate(dst []byte) []byte {
	if c.optional {
		return append(dst, "null"...)
	}
	return c.appendZero(dst)
}

// appendZero writes the column type's zero value, Debezium's fallback for
// a NOT NULL column without a value (a column missing from a key-only old
// row, a MySQL zero date).
func (c *column) appendZero(dst []byte) []byte {
	switch c.kind {
	case kPgBool, kBit1:
		return append(dst, "false"...)
	case kInt8, kInt16, kInt32, kInt64, kUint64, kYear, kDate, kTime, kTimestamp, kInterval:
		return append(dst, '0')
	case kFloat32, kFloat64:
		return append(dst, "0.0"...)
	case kDecimal, kMoney, kVarDecimal:
		zero := decimalText{intp: []byte{'0'}}
		scale := c.scale
		if c.kind == kVarDecimal {
			scale = -1
		}
		out, _ := zero.appendMode(dst, c.mode, scale, []byte{'0'})
		return out
	case kString:
		return append(dst, `""`...)
	case kPgBytes, kRawBytes, kPgBits, kMyBits:
		return append(dst, `""`...)
	case kZonedTimestamp:
		return appendZonedTimestamp(dst, 0, c.width)
	case kZonedTime:
		return append(dst, `"00:00:00Z"`...)
	case kPgPoint, kMyPoint:
		return appendPoint(dst, 0, 0, pointWKB(nil, 0, 0), 0)
	case kMyGeometry:
		return appendGeometry(dst, emptyGeometryCollection, 0)
	case kArray:
		return append(dst, "[]"...)
	}
	return append(dst, "null"...)
}

// emptyGeometryCollection is the WKB of GEOMETRYCOLLECTION EMPTY,
// Debezium's MySQL geometry fallback.
var emptyGeometryCollection = []byte{0x01, 0x07, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00}

// appendPlaceholder writes Debezium's unavailable-value placeholder for a
// value PostgreSQL did not send (unchanged TOAST): the text in a string
// column, its bytes in a bytes column; arrays of text hold it once, arrays
// of int and bigint hold its bytes as numbers, uuid arrays the name-based
// UUID of its bytes.
func (c *column) appendPlaceholder(dst []byte, placeholder string) ([]byte, error) {
	switch {
	case c.schema.typ == tString:
		return appendStr(dst, placeholder), nil
	case c.schema.typ == tBytes && (c.kind == kPgBytes || c.kind == kRawBytes):
		return appendBase64(dst, []byte(placeholder)), nil
	case c.kind == kArray:
		e := c.elem
		switch {
		case e.schema.name == "io.debezium.data.Uuid":
			return append(append(append(dst, '['), appendStr(nil, nameUUID(placeholder))...), ']'), nil
		case e.schema.typ == tString:
			return append(appendStr(append(dst, '['), placeholder), ']'), nil
		case e.kind == kPgBytes:
			return append(appendBase64(append(dst, '['), []byte(placeholder)), ']'), nil
		case e.kind == kInt32 || e.kind == kInt64:
			dst = append(dst, '[')
			for i := 0; i < len(placeholder); i++ {
				if i > 0 {
					dst = append(dst, ',')
				}
				dst = strconv.AppendInt(dst, int64(int8(placeholder[i])), 10)
			}
			return append(dst, ']'), nil
		}
	}
	return dst, errUnchanged
}

// appendMoney writes a PostgreSQL money text ("$1,234.56", "-$0.99",
// "($1.00)") as Debezium does: the currency symbol and group separators
// dropped, rounded half up to the money scale (precise), the plain number
// (string), or a double.
func appendMoney(dst, s []byte, mode DecimalMode, scale int) ([]byte, error) {
	var buf [64]byte
	t := buf[:0]
	neg := false
	if len(s) > 0 && (s[0] == '-' || s[0] == '(') {
		neg = true
		if s[0] == '(' {
			if s[len(s)-1] != ')' {
				return dst, errMoney
			}
			s = s[1 : len(s)-1]
		} else {
			s = s[1:]
		}
	}
	for len(s) > 0 && (s[0] < '0' || s[0] > '9') && s[0] != '.' {
		s = s[1:] // the currency symbol
	}
	if neg {
		t = append(t, '-')
	}
	for _, c := range s {
		if c != ',' {
			t = append(t, c)
		}
	}
	d, err := parseDecimal(t)
	if err != nil {
		return dst, errMoney
	}
	switch mode {
	case DecimalString:
		return d.appendMode(dst, mode, len(d.frac), t)
	case DecimalDouble:
		return d.appendMode(dst, mode, 0, t)
	}
	if len(d.frac) > scale {
		d = roundHalfUp(d, scale)
	}
	return d.appendUnscaledBase64(dst, scale)
}

// roundHalfUp rounds the decimal's fraction to scale digits, half away from
// zero (Java's RoundingMode.HALF_UP).
func roundHalfUp(d decimalText, scale int) decimalText {
	up := d.frac[scale] >= '5'
	digits := append(append([]byte(nil), d.intp...), d.frac[:scale]...)
	if up {
		i := len(digits) - 1
		for ; i >= 0; i-- {
			if digits[i] == '9' {
				digits[i] = '0'
				continue
			}
			digits[i]++
			break
		}
		if i < 0 {
			digits = append([]byte{'1'}, digits...)
		}
	}
	n := len(digits) - scale
	return decimalText{neg: d.neg, intp: digits[:n], frac: digits[n:]}
}

// appendArray writes a PostgreSQL array literal as a JSON array of the
// element type's encoding.
func (w *writer) appendArray(dst []byte, c *column, s []byte) ([]byte, error) {
	start := len(dst)
	dst = append(dst, '[')
	n := 0
	var elemErr error
	err := typemap.EachPGArrayElement(s, c.delim, func(e []byte, null bool) error {
		if n > 0 {
			dst = append(dst, ',')
		}
		n++
		if null {
			dst = append(dst, "null"...)
			return nil
		}
		var err error
		dst, err = w.appendPresent(dst, c.elem, e)
		if err != nil {
			elemErr = err
		}
		return err
	})
	if elemErr != nil {
		return dst[:start], errors.New("array element: " + elemErr.Error())
	}
	if err != nil {
		return dst[:start], err
	}
	return append(dst, ']'), nil
}
