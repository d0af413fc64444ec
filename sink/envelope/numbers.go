package envelope

import (
	"errors"
	"math"
	"math/big"
	"strconv"
	"unsafe"
)

var (
	errNotInteger   = errors.New("not an integer text")
	errOutOfRange   = errors.New("integer out of range of the column's Connect type")
	errNotFloat     = errors.New("not a floating-point text")
	errNotDecimal   = errors.New("not a decimal text")
	errDecimalScale = errors.New("decimal has more fraction digits than the column's scale")
	errSpecialPrec  = errors.New("NaN or infinity cannot be a Connect Decimal (Debezium fails the same way); set decimal_handling to string or double")
)

// parseInt reads a base-10 integer ([+-]digits) without allocating.
func parseInt(s []byte) (int64, error) {
	neg := false
	if len(s) > 0 && (s[0] == '-' || s[0] == '+') {
		neg = s[0] == '-'
		s = s[1:]
	}
	u, err := parseUint(s)
	if err != nil {
		return 0, err
	}
	if neg {
		if u > 1<<63 {
			return 0, errOutOfRange
		}
		return -int64(u), nil
	}
	if u > math.MaxInt64 {
		return 0, errOutOfRange
	}
	return int64(u), nil
}

func parseUint(s []byte) (uint64, error) {
	if len(s) == 0 {
		return 0, errNotInteger
	}
	var u uint64
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0, errNotInteger
		}
		if u > (math.MaxUint64-9)/10 {
			if u > math.MaxUint64/10 || u*10 > math.MaxUint64-uint64(c-'0') {
				return 0, errOutOfRange
			}
		}
		u = u*10 + uint64(c-'0')
	}
	return u, nil
}

// parseFloat reads a float of the given bits without copying s (the bytes
// are only read during the call).
func parseFloat(s []byte, bits int) (float64, error) {
	if len(s) == 0 {
		return 0, errNotFloat
	}
	f, err := strconv.ParseFloat(unsafe.String(unsafe.SliceData(s), len(s)), bits)
	if err != nil {
		return 0, errNotFloat
	}
	return f, nil
}

// decimalText is a decimal taken apart: sign, integer and fraction digits.
type decimalText struct {
	neg        bool
	intp, frac []byte
}

// parseDecimal reads [+-]digits[.digits] (either side may be empty, not
// both). Special values are the caller's business.
func parseDecimal(s []byte) (decimalText, error) {
	var d decimalText
	if len(s) > 0 && (s[0] == '-' || s[0] == '+') {
		d.neg = s[0] == '-'
		s = s[1:]
	}
	dot := -1
	for i, c := range s {
		if c == '.' && dot < 0 {
			dot = i
			continue
		}
		if c < '0' || c > '9' {
			return d, errNotDecimal
		}
	}
	if dot < 0 {
		d.intp = s
	} else {
		d.intp, d.frac = s[:dot], s[dot+1:]
	}
	if len(d.intp) == 0 && len(d.frac) == 0 {
		return d, errNotDecimal
	}
	return d, nil
}

// trimFracZeros drops trailing zeros of the fraction (Java's
// stripTrailingZeros, but never past the point: a negative scale becomes 0).
func (d decimalText) trimFracZeros() decimalText {
	for len(d.frac) > 0 && d.frac[len(d.frac)-1] == '0' {
		d.frac = d.frac[:len(d.frac)-1]
	}
	return d
}

// unscaled writes the decimal's digits at the given scale (padding or, if
// only zeros go, cutting the fraction) into buf, without leading zeros.
func (d decimalText) unscaled(buf []byte, scale int) ([]byte, error) {
	frac := d.frac
	if len(frac) > scale {
		for _, c := range frac[scale:] {
			if c != '0' {
				return nil, errDecimalScale
			}
		}
		frac = frac[:scale]
	}
	buf = append(buf[:0], d.intp...)
	buf = append(buf, frac...)
	for i := len(frac); i < scale; i++ {
		buf = append(buf, '0')
	}
	i := 0
	for i < len(buf)-1 && buf[i] == '0' {
		i++
	}
	if len(buf) == 0 {
		return append(buf, '0'), nil
	}
	return buf[i:], nil
}

// appendPlain writes the decimal at the given scale as Java's
// BigDecimal.toPlainString does (the string decimal handling mode).
func (d decimalText) appendPlain(dst []byte, scale int) ([]byte, error) {
	var tmp [64]byte
	digits, err := d.unscaled(tmp[:0], scale)
	if err != nil {
		return dst, err
	}
	zero := len(digits) == 1 && digits[0] == '0'
	if d.neg && !zero {
		dst = append(dst, '-')
	}
	if scale == 0 {
		return append(dst, digits...), nil
	}
	if len(digits) <= scale {
		dst = append(dst, '0', '.')
		for i := len(digits); i < scale; i++ {
			dst = append(dst, '0')
		}
		return append(dst, digits...), nil
	}
	dst = append(dst, digits[:len(digits)-scale]...)
	dst = append(dst, '.')
	return append(dst, digits[len(digits)-scale:]...), nil
}

// appendUnscaledBase64 writes the decimal's unscaled value at the given
// scale as Connect's Decimal bytes (Java's BigInteger.toByteArray: big-endian
// two's complement, shortest form) in base64.
func (d decimalText) appendUnscaledBase64(dst []byte, scale int) ([]byte, error) {
	var tmp [64]byte
	digits, err := d.unscaled(tmp[:0], scale)
	if err != nil {
		return dst, err
	}
	var b [32]byte
	var raw []byte
	if len(digits) <= 18 {
		var v int64
		for _, c := range digits {
			v = v*10 + int64(c-'0')
		}
		if d.neg {
			v = -v
		}
		raw = appendTwos64(b[:0], v)
	} else {
		x, ok := new(big.Int).SetString(string(digits), 10)
		if !ok {
			return dst, errNotDecimal
		}
		if d.neg {
			x.Neg(x)
		}
		raw = appendTwosBig(b[:0], x)
	}
	return appendBase64(dst, raw), nil
}

// appendTwos64 writes v as the shortest big-endian two's complement bytes.
func appendTwos64(dst []byte, v int64) []byte {
	n := 1
	for n < 8 {
		lim := int64(1) << (8*n - 1)
		if v >= -lim && v < lim {
			break
		}
		n++
	}
	for i := n - 1; i >= 0; i-- {
		dst = append(dst, byte(v>>(8*i)))
	}
	return dst
}

// appendTwosBig is appendTwos64 for any size.
func appendTwosBig(dst []byte, x *big.Int) []byte {
	if x.Sign() >= 0 {
		b := x.Bytes()
		if len(b) == 0 || b[0]&0x80 != 0 {
			dst = append(dst, 0)
		}
		return append(dst, b...)
	}
	m := new(big.Int).Neg(x)
	m.Sub(m, big.NewInt(1)) // -x-1 ≥ 0; its bits inverted are x's
	b := m.Bytes()
	start := len(dst)
	if len(b) == 0 || b[0]&0x80 != 0 {
		dst = append(dst, 0)
	}
	dst = append(dst, b...)
	for i := start; i < len(dst); i++ {
		dst[i] = ^dst[i]
	}
	return dst
}

// special reports PostgreSQL's numeric special values and how Debezium
// names them in the string mode.
func decimalSpecial(s []byte) (name string, f float64, ok bool) {
	switch string(s) {
	case "NaN":
		return "NAN", math.NaN(), true
	case "Infinity":
		return "POSITIVE_INFINITY", math.Inf(1), true
	case "-Infinity":
		return "NEGATIVE_INFINITY", math.Inf(-1), true
	}
	return "", 0, false
}

// appendDecimal writes a decimal column's value per the decimal mode.
// scale < 0: variable scale (PostgreSQL numeric without one).
func appendDecimal(dst []byte, s []byte, mode DecimalMode, scale int) ([]byte, error) {
	if name, f, ok := decimalSpecial(s); ok {
		switch mode {
		case DecimalString:
			return appendStr(dst, name), nil
		case DecimalDouble:
			return appendJavaFloat(dst, f, 64), nil
		}
		return dst, errSpecialPrec
	}
	d, err := parseDecimal(s)
	if err != nil {
		return dst, err
	}
	return d.appendMode(dst, mode, scale, s)
}

func (d decimalText) appendMode(dst []byte, mode DecimalMode, scale int, text []byte) ([]byte, error) {
	switch mode {
	case DecimalString:
		if scale < 0 {
			scale = len(d.frac)
		}
		dst = append(dst, '"')
		dst, err := d.appendPlain(dst, scale)
		return append(dst, '"'), err
	case DecimalDouble:
		f, err := parseFloat(text, 64)
		if err != nil {
			return dst, errNotDecimal
		}
		return appendJavaFloat(dst, f, 64), nil
	}
	if scale >= 0 {
		return d.appendUnscaledBase64(dst, scale)
	}
	d = d.trimFracZeros()
	dst = append(dst, `{"scale":`...)
	dst = strconv.AppendInt(dst, int64(len(d.frac)), 10)
	dst = append(dst, `,"value":`...)
	dst, err := d.appendUnscaledBase64(dst, len(d.frac))
	return append(dst, '}'), err
}
