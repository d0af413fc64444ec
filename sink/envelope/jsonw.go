package envelope

import (
	"encoding/base64"
	"math"
	"strconv"
	"unicode/utf8"
)

// The JSON writers below append to a byte slice, as Kafka Connect's
// JsonConverter (Jackson) would write the same value: strings escaped the
// way Jackson escapes them, bytes as standard base64 with padding, floating
// point numbers in Java's Double.toString / Float.toString form.

const upperHex = "0123456789ABCDEF"

// appendString appends s as a JSON string. It reports false, having
// appended nothing, when s is not valid UTF-8 (a Java string cannot hold
// such text, so a faithful encoding does not exist).
func appendString(dst, s []byte) ([]byte, bool) {
	n := len(dst)
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			dst = appendEscape(dst, c)
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRune(s[i:])
		if r == utf8.RuneError && size == 1 {
			return dst[:n], false
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"'), true
}

// appendStr appends a Go string that we made or that names something
// (a table, a column, a transaction); invalid UTF-8 becomes U+FFFD, as in
// a Java string.
func appendStr(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			dst = appendEscape(dst, c)
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, "\uFFFD"...)
			i++
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

func appendEscape(dst []byte, c byte) []byte {
	switch c {
	case '"', '\\':
		return append(dst, '\\', c)
	case '\b':
		return append(dst, '\\', 'b')
	case '\f':
		return append(dst, '\\', 'f')
	case '\n':
		return append(dst, '\\', 'n')
	case '\r':
		return append(dst, '\\', 'r')
	case '\t':
		return append(dst, '\\', 't')
	}
	return append(dst, '\\', 'u', '0', '0', upperHex[c>>4], upperHex[c&15])
}

// appendBase64 appends b as a JSON string of standard base64 with padding,
// as Jackson writes a byte[] (a BYTES field).
func appendBase64(dst, b []byte) []byte {
	dst = append(dst, '"')
	dst = base64.StdEncoding.AppendEncode(dst, b)
	return append(dst, '"')
}

// appendJavaFloat appends f as Jackson writes a Java double (bits 64) or
// float (bits 32): NaN and the infinities as the strings "NaN",
// "Infinity", "-Infinity" (Jackson quotes non-finite numbers by default);
// otherwise Java's toString form, which since JDK 19 is the shortest
// decimal that reads back as the same number: plain notation with at
// least one fraction digit for magnitudes in [1e-3, 1e7) ("0.001",
// "1234.5678", "1.0", "-0.0"), else d.dddE±n ("1.0E7", "4.9E-324": at
// least two significant digits, the nearest two when the shortest has one).
func appendJavaFloat(dst []byte, f float64, bits int) []byte {
	switch {
	case math.IsNaN(f):
		return append(dst, `"NaN"`...)
	case math.IsInf(f, 1):
		return append(dst, `"Infinity"`...)
	case math.IsInf(f, -1):
		return append(dst, `"-Infinity"`...)
	case f == 0:
		if math.Signbit(f) {
			return append(dst, "-0.0"...)
		}
		return append(dst, "0.0"...)
	}
	var tmp [32]byte
	e := strconv.AppendFloat(tmp[:0], f, 'e', -1, bits) // -d.ddde±XX
	neg := e[0] == '-'
	if neg {
		e = e[1:]
		dst = append(dst, '-')
	}
	i := 0
	for e[i] != 'e' {
		i++
	}
	mant, exps := e[:i], e[i+1:]
	exp := 0
	for _, c := range exps[1:] {
		exp = exp*10 + int(c-'0')
	}
	if exps[0] == '-' {
		exp = -exp
	}
	// digits without the point
	var dbuf [24]byte
	digits := append(dbuf[:0], mant[0])
	if len(mant) > 2 {
		digits = append(digits, mant[2:]...)
	}
	abs := math.Abs(f)
	if abs >= 1e-3 && abs < 1e7 {
		if exp < 0 {
			dst = append(dst, '0', '.')
			for k := -1; k > exp; k-- {
				dst = append(dst, '0')
			}
			return append(dst, digits...)
		}
		if len(digits) <= exp+1 {
			dst = append(dst, digits...)
			for k := len(digits); k < exp+1; k++ {
				dst = append(dst, '0')
			}
			return append(dst, '.', '0')
		}
		dst = append(dst, digits[:exp+1]...)
		dst = append(dst, '.')
		return append(dst, digits[exp+1:]...)
	}
	if len(digits) == 1 {
		// d.dE±n needs two significant digits: Java takes the two-digit
		// decimal nearest the value (4.9E-324, not 5.0E-324).
		e2 := strconv.AppendFloat(tmp[:0], math.Abs(f), 'e', 1, bits) // d.de±XX
		digits = append(dbuf[:0], e2[0], e2[2])
		exp = 0
		for _, c := range e2[5:] {
			exp = exp*10 + int(c-'0')
		}
		if e2[4] == '-' {
			exp = -exp
		}
	}
	dst = append(dst, digits[0], '.')
	dst = append(dst, digits[1:]...)
	dst = append(dst, 'E')
	return strconv.AppendInt(dst, int64(exp), 10)
}
