package typemap

import (
	"bytes"
	"math"
	"strconv"
	"time"
	"unicode/utf8"
)

// valueKind says how a column's value texts are converted.
type valueKind uint8

const (
	vCopy valueKind = iota // the text is the same in both dialects

	// MySQL → PostgreSQL
	vMyInt      // integer (zerofill padding dropped)
	vMyDecimal  // decimal (zerofill padding and the sign of zero dropped)
	vMyFloat    // float (n=32) or double (n=64) in PostgreSQL's shortest form
	vMyBit      // n '0'/'1' characters
	vMyText     // UTF-8 without NUL
	vMyBytes    // raw bytes → "\x" hex
	vMyDate     // zero dates → -infinity
	vMyDatetime // zero dates → -infinity; fraction without trailing zeros
	vMyTimestamp
	vMyTime // → interval

	// PostgreSQL → MySQL
	vPgBool        // t/f → 1/0
	vPgNumeric     // numeric(p,s) → decimal: NaN → NULL or error
	vPgFloat       // real (n=32) / double (n=64): NaN, ±Infinity → NULL or error; -0 → 0
	vPgText        // UTF-8
	vPgBytea       // hex (or escape) format → raw bytes
	vPgDate        // ±infinity → 9999-12-31 / 0000-00-00; BC, year > 9999 → error
	vPgTimestamp   // → datetime(n)
	vPgTimestamptz // → datetime(n) in UTC
	vPgTime        // → time(n)
	vPgArray       // array literal → JSON array
)

// convert appends the target text of src to dst. null reports that a rule
// turned the value into SQL NULL.
func (cc *colConv) convert(dst, src []byte) (out []byte, null bool, err error) {
	switch cc.kind {
	case vCopy:
		return append(dst, src...), false, nil
	case vMyInt:
		out, err = appendCanonInt(dst, src)
	case vMyDecimal:
		out, err = appendCanonDecimal(dst, src)
	case vMyFloat:
		out, err = appendMyFloatAsPG(dst, src, cc.n)
	case vMyBit:
		out, err = appendBits(dst, src, cc.n)
	case vMyText:
		out, err = appendMyText(dst, src)
	case vMyBytes:
		out = appendByteaHex(dst, src)
	case vMyDate:
		out, err = appendMyDate(dst, src)
	case vMyDatetime:
		out, err = appendMyDatetime(dst, src, false)
	case vMyTimestamp:
		out, err = appendMyDatetime(dst, src, true)
	case vMyTime:
		out, err = appendMyTime(dst, src)
	case vPgBool:
		switch string(src) {
		case "t", "true":
			return append(dst, '1'), false, nil
		case "f", "false":
			return append(dst, '0'), false, nil
		}
		err = &ruleError{rule: "is not a PostgreSQL boolean text (t or f)", fix: "check that the source sends PostgreSQL text output"}
	case vPgNumeric:
		if string(src) == "NaN" {
			return cc.notANumber(dst)
		}
		out = append(dst, src...)
	case vPgFloat:
		out, null, err = cc.appendPgFloat(dst, src)
	case vPgText:
		if !utf8.Valid(src) {
			err = &ruleError{rule: "is not valid UTF-8, which a utf8mb4 column requires", fix: "use a UTF8-encoded source database"}
			break
		}
		out = append(dst, src...)
	case vPgBytea:
		out, err = appendByteaRaw(dst, src)
	case vPgDate:
		out, err = appendPgDate(dst, src)
	case vPgTimestamp:
		out, err = appendPgTimestamp(dst, src, cc.n, false)
	case vPgTimestamptz:
		out, err = appendPgTimestamp(dst, src, cc.n, true)
	case vPgTime:
		out, err = appendPgTime(dst, src, cc.n)
	case vPgArray:
		out, err = appendPGArrayJSON(dst, src, cc.elem, cc.delim)
	default:
		panic("typemap: unknown value kind")
	}
	if err != nil {
		return dst, false, err
	}
	return out, null, nil
}

// notANumber applies the rule for NaN and infinities, which MySQL numbers
// cannot hold: NULL when the column is nullable, else an error.
func (cc *colConv) notANumber(dst []byte) ([]byte, bool, error) {
	if !cc.notNull {
		return dst, true, nil
	}
	return dst, false, &ruleError{
		rule: "MySQL " + cc.to + " cannot hold NaN or infinity, and the column is NOT NULL so it cannot become NULL",
		fix:  "remove such values from the source column, or exclude the column from replication",
	}
}

// ---- integers and decimals ----

var errNotInteger = &ruleError{rule: "is not a MySQL integer text", fix: "check that the source sends MySQL text output"}

// appendCanonInt writes an integer without leading zeros or '+' (MySQL
// zerofill columns print padded values; PostgreSQL prints none).
func appendCanonInt(dst, s []byte) ([]byte, error) {
	neg := false
	if len(s) > 0 && (s[0] == '-' || s[0] == '+') {
		neg = s[0] == '-'
		s = s[1:]
	}
	if len(s) == 0 {
		return dst, errNotInteger
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return dst, errNotInteger
		}
	}
	for len(s) > 1 && s[0] == '0' {
		s = s[1:]
	}
	if neg && s[0] != '0' {
		dst = append(dst, '-')
	}
	return append(dst, s...), nil
}

var errNotDecimal = &ruleError{rule: "is not a MySQL decimal text", fix: "check that the source sends MySQL text output"}

// appendCanonDecimal writes a decimal as PostgreSQL prints numeric: no
// leading zeros, no sign on zero, the fraction digits kept.
func appendCanonDecimal(dst, s []byte) ([]byte, error) {
	neg := false
	if len(s) > 0 && (s[0] == '-' || s[0] == '+') {
		neg = s[0] == '-'
		s = s[1:]
	}
	ip, fp, hasPoint := bytes.Cut(s, []byte{'.'})
	if len(ip) == 0 && len(fp) == 0 || hasPoint && len(fp) == 0 {
		return dst, errNotDecimal
	}
	zero := true
	for _, part := range [][]byte{ip, fp} {
		for _, c := range part {
			if c < '0' || c > '9' {
				return dst, errNotDecimal
			}
			if c != '0' {
				zero = false
			}
		}
	}
	for len(ip) > 1 && ip[0] == '0' {
		ip = ip[1:]
	}
	if neg && !zero {
		dst = append(dst, '-')
	}
	if len(ip) == 0 {
		dst = append(dst, '0')
	}
	dst = append(dst, ip...)
	if hasPoint {
		dst = append(dst, '.')
		dst = append(dst, fp...)
	}
	return dst, nil
}

// ---- floating point ----

// appendMyFloatAsPG rewrites a MySQL float text as PostgreSQL prints a real
// (bits 32) or double precision (bits 64) with extra_float_digits 3: the
// shortest round-trip digits, fixed notation for decimal exponents from -4
// up to 5 (real) or 14 (double), else d.ddde±XX.
func appendMyFloatAsPG(dst, s []byte, bits int) ([]byte, error) {
	f, err := strconv.ParseFloat(string(s), bits)
	if err != nil {
		return dst, &ruleError{rule: "is not a MySQL " + floatName(bits) + " text", fix: "check that the source sends MySQL text output"}
	}
	return appendPGFloat(dst, f, bits), nil
}

func floatName(bits int) string {
	if bits == 32 {
		return "float"
	}
	return "double"
}

func appendPGFloat(dst []byte, f float64, bits int) []byte {
	switch {
	case math.IsNaN(f):
		return append(dst, "NaN"...)
	case math.IsInf(f, 1):
		return append(dst, "Infinity"...)
	case math.IsInf(f, -1):
		return append(dst, "-Infinity"...)
	case f == 0:
		if math.Signbit(f) {
			return append(dst, "-0"...)
		}
		return append(dst, '0')
	}
	var tmp [40]byte
	e := strconv.AppendFloat(tmp[:0], f, 'e', -1, bits)
	i := bytes.LastIndexByte(e, 'e')
	exp := 0
	for _, c := range e[i+2:] {
		exp = exp*10 + int(c-'0')
	}
	if e[i+1] == '-' {
		exp = -exp
	}
	hi := 15 // DBL_DIG
	if bits == 32 {
		hi = 6 // FLT_DIG
	}
	if exp >= -4 && exp < hi {
		return strconv.AppendFloat(dst, f, 'f', -1, bits)
	}
	return append(dst, e...)
}

// appendPgFloat rewrites a PostgreSQL real/double text as the MySQL dialect
// text (Go's shortest 'g' form). NaN and infinities follow notANumber; -0
// becomes 0 (MySQL stores negative zero as zero).
func (cc *colConv) appendPgFloat(dst, s []byte) ([]byte, bool, error) {
	switch string(s) {
	case "NaN", "Infinity", "-Infinity":
		return cc.notANumber(dst)
	}
	f, err := strconv.ParseFloat(string(s), cc.n)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return dst, false, &ruleError{rule: "is not a PostgreSQL " + cc.from + " text", fix: "check that the source sends PostgreSQL text output"}
	}
	if f == 0 {
		return append(dst, '0'), false, nil
	}
	if cc.n == 32 {
		// MySQL parses a FLOAT's text as a double and rejects one above
		// FLT_MAX, as the shortest text of ±FLT_MAX (3.4028235e+38) is:
		// give such values the exact digits of the float.
		out := strconv.AppendFloat(dst, f, 'g', -1, 32)
		if d, _ := strconv.ParseFloat(string(out[len(dst):]), 64); math.Abs(d) > math.MaxFloat32 {
			out = strconv.AppendFloat(dst, f, 'g', -1, 64)
		}
		return out, false, nil
	}
	return strconv.AppendFloat(dst, f, 'g', -1, cc.n), false, nil
}

// ---- bits, text, bytes ----

func appendBits(dst, s []byte, n int) ([]byte, error) {
	if len(s) != n {
		return dst, &ruleError{rule: "is not " + strconv.Itoa(n) + " bit characters", fix: "check that the source sends bit(n) values as n characters 0/1"}
	}
	for _, c := range s {
		if c != '0' && c != '1' {
			return dst, &ruleError{rule: "is not a bit string of 0 and 1", fix: "check that the source sends bit(n) values as n characters 0/1"}
		}
	}
	return append(dst, s...), nil
}

func appendMyText(dst, s []byte) ([]byte, error) {
	if bytes.IndexByte(s, 0) >= 0 {
		return dst, &ruleError{rule: "contains a NUL (0x00) character, which PostgreSQL text cannot hold",
			fix: "remove NUL characters in the source, or make the column binary (varbinary/blob) so it maps to bytea"}
	}
	if !utf8.Valid(s) {
		return dst, &ruleError{rule: "is not valid UTF-8", fix: "check that the source converts text to UTF-8"}
	}
	return append(dst, s...), nil
}

const hexDigits = "0123456789abcdef"

func appendByteaHex(dst, s []byte) []byte {
	dst = append(dst, '\\', 'x')
	for _, c := range s {
		dst = append(dst, hexDigits[c>>4], hexDigits[c&15])
	}
	return dst
}

var errBytea = &ruleError{rule: "is not PostgreSQL bytea text (hex \\x... or escape format)", fix: "check that the source sends bytea_output hex"}

// appendByteaRaw decodes PostgreSQL bytea text: hex format ("\x0a0b") or,
// for safety, the old escape format ("a\000b\\").
func appendByteaRaw(dst, s []byte) ([]byte, error) {
	if len(s) >= 2 && s[0] == '\\' && s[1] == 'x' {
		s = s[2:]
		for len(s) > 0 {
			if s[0] == ' ' || s[0] == '\t' || s[0] == '\n' || s[0] == '\r' { // byteain skips whitespace between digit pairs
				s = s[1:]
				continue
			}
			if len(s) < 2 {
				return dst, errBytea
			}
			hi, ok1 := unhex(s[0])
			lo, ok2 := unhex(s[1])
			if !ok1 || !ok2 {
				return dst, errBytea
			}
			dst = append(dst, hi<<4|lo)
			s = s[2:]
		}
		return dst, nil
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' {
			dst = append(dst, c)
			continue
		}
		switch {
		case i+1 < len(s) && s[i+1] == '\\':
			dst = append(dst, '\\')
			i++
		case i+3 < len(s) && isOctal(s[i+1]) && s[i+1] <= '3' && isOctal(s[i+2]) && isOctal(s[i+3]):
			dst = append(dst, (s[i+1]-'0')<<6|(s[i+2]-'0')<<3|(s[i+3]-'0'))
			i += 3
		default:
			return dst, errBytea
		}
	}
	return dst, nil
}

func unhex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

func isOctal(c byte) bool { return c >= '0' && c <= '7' }

// ---- dates and times ----

// num reads an unsigned decimal of exactly the bytes in s.
func num(s []byte) (int, bool) {
	if len(s) == 0 || len(s) > 9 {
		return 0, false
	}
	n := 0
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

func daysIn(year, month int) int {
	switch month {
	case 4, 6, 9, 11:
		return 30
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	}
	return 31
}

// civil is a parsed date and time of day.
type civil struct {
	year, month, day     int
	hour, minute, second int
	frac                 []byte // fraction digits, without the point
}

var errMyDate = &ruleError{rule: "is not a MySQL date/time text (YYYY-MM-DD[ HH:MM:SS[.ffffff]])", fix: "check that the source sends MySQL text output"}

// parseMyDate reads "YYYY-MM-DD" at the start of s.
func parseMyDate(s []byte) (civil, bool) {
	var c civil
	if len(s) < 10 || s[4] != '-' || s[7] != '-' {
		return c, false
	}
	var ok1, ok2, ok3 bool
	c.year, ok1 = num(s[0:4])
	c.month, ok2 = num(s[5:7])
	c.day, ok3 = num(s[8:10])
	return c, ok1 && ok2 && ok3
}

func (c civil) zero() bool { return c.year == 0 || c.month == 0 || c.day == 0 }

func (c civil) validDate() bool {
	return c.month >= 1 && c.month <= 12 && c.day >= 1 && c.day <= daysIn(c.year, c.month)
}

var errInvalidDate = &ruleError{
	rule: "is not a calendar date (MySQL ALLOW_INVALID_DATES), which PostgreSQL cannot hold",
	fix:  "correct the value in the source",
}

func appendMyDate(dst, s []byte) ([]byte, error) {
	c, ok := parseMyDate(s)
	if !ok || len(s) != 10 {
		return dst, errMyDate
	}
	if c.zero() {
		return append(dst, "-infinity"...), nil
	}
	if !c.validDate() {
		return dst, errInvalidDate
	}
	return append(dst, s...), nil
}

// parseClock reads "HH:MM:SS[.f...]" (hours of any width when wide) and
// returns the parts.
func parseClock(s []byte, wide bool) (h, m, sec int, frac []byte, ok bool) {
	i := bytes.IndexByte(s, ':')
	if i < 1 || (!wide && i != 2) || len(s) < i+6 || s[i+3] != ':' {
		return
	}
	h, ok1 := num(s[:i])
	m, ok2 := num(s[i+1 : i+3])
	sec, ok3 := num(s[i+4 : i+6])
	rest := s[i+6:]
	if len(rest) > 0 {
		if rest[0] != '.' || len(rest) == 1 {
			return
		}
		frac = rest[1:]
		for _, c := range frac {
			if c < '0' || c > '9' {
				return
			}
		}
	}
	return h, m, sec, frac, ok1 && ok2 && ok3 && m < 60 && sec < 60
}

func trimZeros(frac []byte) []byte {
	for len(frac) > 0 && frac[len(frac)-1] == '0' {
		frac = frac[:len(frac)-1]
	}
	return frac
}

func appendMyDatetime(dst, s []byte, tz bool) ([]byte, error) {
	c, ok := parseMyDate(s)
	if !ok || len(s) < 19 || s[10] != ' ' {
		return dst, errMyDate
	}
	h, _, _, frac, ok := parseClock(s[11:], false)
	if !ok || h > 23 {
		return dst, errMyDate
	}
	if c.zero() {
		return append(dst, "-infinity"...), nil
	}
	if !c.validDate() {
		return dst, errInvalidDate
	}
	dst = append(dst, s[:19]...)
	if frac = trimZeros(frac); len(frac) > 0 {
		dst = append(dst, '.')
		dst = append(dst, frac...)
	}
	if tz {
		dst = append(dst, "+00"...)
	}
	return dst, nil
}

// appendMyTime writes a MySQL TIME as PostgreSQL prints the interval:
// [-]HH:MM:SS[.f] with at least two hour digits and no trailing zeros.
func appendMyTime(dst, s []byte) ([]byte, error) {
	neg := len(s) > 0 && s[0] == '-'
	if neg {
		s = s[1:]
	}
	h, m, sec, frac, ok := parseClock(s, true)
	if !ok {
		return dst, &ruleError{rule: "is not a MySQL time text ([-]HH:MM:SS[.ffffff])", fix: "check that the source sends MySQL text output"}
	}
	frac = trimZeros(frac)
	if neg && (h != 0 || m != 0 || sec != 0 || len(frac) > 0) {
		dst = append(dst, '-')
	}
	if h < 10 {
		dst = append(dst, '0')
	}
	dst = strconv.AppendInt(dst, int64(h), 10)
	dst = append(dst, ':', byte('0'+m/10), byte('0'+m%10), ':', byte('0'+sec/10), byte('0'+sec%10))
	if len(frac) > 0 {
		dst = append(dst, '.')
		dst = append(dst, frac...)
	}
	return dst, nil
}

var errPgDate = &ruleError{rule: "is not a PostgreSQL date/time text (DateStyle ISO)", fix: "check that the source session uses DateStyle ISO"}

var errBC = &ruleError{
	rule: "is a BC date; MySQL dates start at year 0001",
	fix:  "remove BC dates from the source column, or exclude the column from replication",
}

var errYear10000 = &ruleError{
	rule: "is after year 9999; MySQL dates end at 9999-12-31",
	fix:  "remove such dates from the source column, or exclude the column from replication",
}

// parsePgDate reads "YYYY-MM-DD" (4 or more year digits) at the start of s
// and returns the rest.
func parsePgDate(s []byte) (c civil, rest []byte, ok bool) {
	i := bytes.IndexByte(s, '-')
	if i < 4 || len(s) < i+6 || s[i+3] != '-' {
		return c, nil, false
	}
	var ok1, ok2, ok3 bool
	c.year, ok1 = num(s[:i])
	c.month, ok2 = num(s[i+1 : i+3])
	c.day, ok3 = num(s[i+4 : i+6])
	return c, s[i+6:], ok1 && ok2 && ok3 && c.validDate()
}

// cutBC removes a trailing " BC".
func cutBC(s []byte) ([]byte, bool) {
	if bytes.HasSuffix(s, []byte(" BC")) {
		return s[:len(s)-3], true
	}
	return s, false
}

func appendDate(dst []byte, year, month, day int) []byte {
	return append(dst, byte('0'+year/1000), byte('0'+year/100%10), byte('0'+year/10%10), byte('0'+year%10), '-',
		byte('0'+month/10), byte('0'+month%10), '-', byte('0'+day/10), byte('0'+day%10))
}

func appendClock(dst []byte, h, m, s int) []byte {
	return append(dst, byte('0'+h/10), byte('0'+h%10), ':', byte('0'+m/10), byte('0'+m%10), ':', byte('0'+s/10), byte('0'+s%10))
}

// appendFrac writes the fraction padded to exactly fsp digits (MySQL prints
// fsp digits).
func appendFrac(dst, frac []byte, fsp int) ([]byte, error) {
	if fsp == 0 && len(trimZeros(frac)) == 0 {
		return dst, nil
	}
	if len(frac) > fsp {
		if len(trimZeros(frac)) > fsp {
			return dst, &ruleError{rule: "has more fractional-second digits than the MySQL column keeps (" + strconv.Itoa(fsp) + ")", fix: "check the source column's precision"}
		}
		frac = frac[:fsp]
	}
	dst = append(dst, '.')
	dst = append(dst, frac...)
	for i := len(frac); i < fsp; i++ {
		dst = append(dst, '0')
	}
	return dst, nil
}

func appendPgDate(dst, s []byte) ([]byte, error) {
	switch string(s) {
	case "infinity":
		return append(dst, "9999-12-31"...), nil
	case "-infinity":
		return append(dst, "0000-00-00"...), nil
	}
	s, bc := cutBC(s)
	c, rest, ok := parsePgDate(s)
	if !ok || len(rest) != 0 {
		return dst, errPgDate
	}
	if bc {
		return dst, errBC
	}
	if c.year > 9999 {
		return dst, errYear10000
	}
	return appendDate(dst, c.year, c.month, c.day), nil
}

// appendPgTimestamp converts a PostgreSQL timestamp (tz: timestamptz, at any
// UTC offset) into a MySQL datetime(fsp) text in UTC.
func appendPgTimestamp(dst, s []byte, fsp int, tz bool) ([]byte, error) {
	switch string(s) {
	case "infinity":
		dst = append(dst, "9999-12-31 23:59:59"...)
		if fsp > 0 {
			dst = append(dst, '.')
			dst = append(dst, "999999"[:fsp]...)
		}
		return dst, nil
	case "-infinity":
		dst = append(dst, "0000-00-00 00:00:00"...)
		if fsp > 0 {
			dst = append(dst, '.')
			dst = append(dst, "000000"[:fsp]...)
		}
		return dst, nil
	}
	s, bc := cutBC(s)
	c, rest, ok := parsePgDate(s)
	if !ok || len(rest) < 9 || rest[0] != ' ' {
		return dst, errPgDate
	}
	rest = rest[1:]
	offset := 0
	if tz {
		i := bytes.LastIndexAny(rest, "+-")
		if i < 8 {
			return dst, errPgDate
		}
		var okOff bool
		if offset, okOff = parseOffset(rest[i:]); !okOff {
			return dst, errPgDate
		}
		rest = rest[:i]
	}
	h, m, sec, frac, ok := parseClock(rest, false)
	if !ok || h > 23 {
		return dst, errPgDate
	}
	if bc {
		return dst, errBC
	}
	c.hour, c.minute, c.second = h, m, sec
	if offset != 0 {
		t := time.Date(c.year, time.Month(c.month), c.day, h, m, sec, 0, time.UTC).Add(-time.Duration(offset) * time.Second)
		c.year, c.hour, c.minute, c.second = t.Year(), t.Hour(), t.Minute(), t.Second()
		c.month, c.day = int(t.Month()), t.Day()
		if c.year < 1 {
			return dst, errBC
		}
	}
	if c.year > 9999 {
		return dst, errYear10000
	}
	dst = appendDate(dst, c.year, c.month, c.day)
	dst = append(dst, ' ')
	dst = appendClock(dst, c.hour, c.minute, c.second)
	return appendFrac(dst, frac, fsp)
}

// parseOffset reads "+HH", "+HH:MM" or "+HH:MM:SS" (any sign) as seconds east
// of UTC.
func parseOffset(s []byte) (int, bool) {
	if len(s) < 3 {
		return 0, false
	}
	sign := 1
	if s[0] == '-' {
		sign = -1
	}
	s = s[1:]
	total := 0
	for part := 0; part < 3; part++ {
		if len(s) < 2 {
			return 0, false
		}
		v, ok := num(s[:2])
		if !ok || (part > 0 && v > 59) {
			return 0, false
		}
		total = total*60 + v
		s = s[2:]
		if len(s) == 0 {
			for ; part < 2; part++ {
				total *= 60
			}
			return sign * total, true
		}
		if s[0] != ':' {
			return 0, false
		}
		s = s[1:]
	}
	return 0, false
}

// appendPgTime converts a PostgreSQL time (00:00:00 to 24:00:00) into a
// MySQL time(fsp) text.
func appendPgTime(dst, s []byte, fsp int) ([]byte, error) {
	h, m, sec, frac, ok := parseClock(s, false)
	if !ok || h > 24 {
		return dst, &ruleError{rule: "is not a PostgreSQL time text (HH:MM:SS[.ffffff])", fix: "check that the source sends PostgreSQL text output"}
	}
	dst = appendClock(dst, h, m, sec)
	return appendFrac(dst, frac, fsp)
}
