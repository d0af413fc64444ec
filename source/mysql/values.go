package mysql

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
	"unsafe"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/japanese"
	"golang.org/x/text/encoding/korean"
	"golang.org/x/text/encoding/simplifiedchinese"
	"golang.org/x/text/encoding/traditionalchinese"
	"golang.org/x/text/encoding/unicode"
	"golang.org/x/text/encoding/unicode/utf32"
)

// This file turns values into the texts change.MySQL prescribes, from
// either of their two origins: the binlog (as go-mysql decodes it, with
// ParseTime=true and UseDecimal=false) and the snapshot's text protocol.

// binlogText appends the text of one non-NULL binlog value of column c.
func binlogText(c *colDesc, dst []byte, v any) ([]byte, error) {
	switch c.kind {
	case kTiny, kShort, kInt24, kLong, kLonglong:
		return appendInteger(dst, v)
	case kDecimal, kDate, kDatetime, kTimestamp:
		switch x := v.(type) {
		case string: // decimals, dates, zero and pre-1970 datetimes
			return append(dst, x...), nil
		case time.Time: // ParseTime: other datetimes and timestamps, formatted here without fmt
			return appendDatetime(dst, x.UTC(), c.fsp), nil
		}
	case kFloat:
		if f, ok := v.(float32); ok {
			return strconv.AppendFloat(dst, float64(f), 'g', -1, 32), nil
		}
	case kDouble:
		if f, ok := v.(float64); ok {
			return strconv.AppendFloat(dst, f, 'g', -1, 64), nil
		}
	case kBit:
		if n, ok := v.(int64); ok {
			return appendBits(dst, uint64(n), c.length), nil
		}
	case kTime:
		if s, ok := v.(string); ok {
			return appendTime(dst, s, c.fsp), nil
		}
	case kYear:
		if y, ok := v.(int); ok {
			return appendYear(dst, int64(y)), nil
		}
	case kChar, kVarchar, kBlob, kGeometry:
		var b []byte
		switch x := v.(type) {
		case string:
			b = unsafeBytes(x)
		case []byte:
			b = x
		default:
			return nil, fmt.Errorf("unexpected value type %T", v)
		}
		if c.kind == kGeometry || c.binary() {
			dst = append(dst, b...)
			if c.kind == kChar {
				// MySQL strips the 0x00 padding of binary(n) in the binlog
				// and returns it padded.
				for n := len(b); n < c.length; n++ {
					dst = append(dst, 0)
				}
			}
			return dst, nil
		}
		return c.dec.decode(dst, b)
	case kEnum:
		if n, ok := v.(int64); ok {
			return appendEnum(dst, c.labels, n)
		}
	case kSet:
		if n, ok := v.(int64); ok {
			return appendSet(dst, c.labels, uint64(n)), nil
		}
	case kJSON:
		switch x := v.(type) {
		case string:
			return append(dst, x...), nil
		case []byte:
			if len(x) == 0 { // MySQL reads an empty JSON document as null
				return append(dst, "null"...), nil
			}
			return append(dst, x...), nil
		}
		return nil, permanentf("a partial JSON update (binlog_row_value_options=PARTIAL_JSON) cannot be replicated: "+
			"it carries only the changed part of the document; SET GLOBAL binlog_row_value_options = '' and remove it from my.cnf (got %T)", v)
	}
	return nil, fmt.Errorf("unexpected value type %T", v)
}

// snapshotText appends the text of one non-NULL value the snapshot query
// returned for column c (float columns are selected as DOUBLE).
func snapshotText(c *colDesc, dst, raw []byte) ([]byte, error) {
	switch c.kind {
	case kTiny, kShort, kInt24, kLong, kLonglong:
		return append(dst, trimZerofill(raw)...), nil
	case kDecimal:
		return append(dst, trimZerofill(raw)...), nil
	case kFloat, kDouble:
		f, err := strconv.ParseFloat(string(raw), 64)
		if err != nil {
			return nil, fmt.Errorf("float %q: %v", raw, err)
		}
		if c.kind == kFloat {
			return strconv.AppendFloat(dst, float64(float32(f)), 'g', -1, 32), nil
		}
		return strconv.AppendFloat(dst, f, 'g', -1, 64), nil
	case kBit:
		if len(raw) > 8 {
			return nil, fmt.Errorf("bit value of %d bytes", len(raw))
		}
		var n uint64
		for _, b := range raw {
			n = n<<8 | uint64(b)
		}
		return appendBits(dst, n, c.length), nil
	case kYear:
		y, err := strconv.ParseInt(string(raw), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("year %q: %v", raw, err)
		}
		return appendYear(dst, y), nil
	case kTime:
		return appendTime(dst, string(raw), c.fsp), nil
	case kChar:
		dst = append(dst, raw...)
		if c.binary() {
			for n := len(raw); n < c.length; n++ {
				dst = append(dst, 0)
			}
		}
		return dst, nil
	}
	return append(dst, raw...), nil
}

// appendInteger writes any of go-mysql's integer types in base 10.
func appendInteger(dst []byte, v any) ([]byte, error) {
	switch x := v.(type) {
	case int8:
		return strconv.AppendInt(dst, int64(x), 10), nil
	case int16:
		return strconv.AppendInt(dst, int64(x), 10), nil
	case int32:
		return strconv.AppendInt(dst, int64(x), 10), nil
	case int64:
		return strconv.AppendInt(dst, x, 10), nil
	case int:
		return strconv.AppendInt(dst, int64(x), 10), nil
	case uint8:
		return strconv.AppendUint(dst, uint64(x), 10), nil
	case uint16:
		return strconv.AppendUint(dst, uint64(x), 10), nil
	case uint32:
		return strconv.AppendUint(dst, uint64(x), 10), nil
	case uint64:
		return strconv.AppendUint(dst, x, 10), nil
	}
	return nil, fmt.Errorf("unexpected integer type %T", v)
}

// trimZerofill drops the leading zeros ZEROFILL columns print ("00042" →
// "42", "007.50" → "7.50"), keeping one before a '.' or the end.
func trimZerofill(b []byte) []byte {
	for len(b) > 1 && b[0] == '0' && b[1] >= '0' && b[1] <= '9' {
		b = b[1:]
	}
	return b
}

// appendBits writes the low n bits of v as '0'/'1' characters, most
// significant first (n is clamped to 1..64).
func appendBits(dst []byte, v uint64, n int) []byte {
	n = min(max(n, 1), 64)
	for i := n - 1; i >= 0; i-- {
		dst = append(dst, '0'+byte(v>>uint(i)&1))
	}
	return dst
}

// appendYear writes a year with four digits (MySQL's YEAR 0 is "0000").
func appendYear(dst []byte, y int64) []byte {
	if y >= 0 && y < 1000 {
		dst = append(dst, "000"[:4-len(strconv.FormatInt(y, 10))]...)
	}
	return strconv.AppendInt(dst, y, 10)
}

// appendTime writes a TIME with exactly fsp fractional digits; go-mysql
// leaves them out when they are all zero.
func appendTime(dst []byte, s string, fsp int) []byte {
	whole, frac, _ := strings.Cut(s, ".")
	dst = append(dst, whole...)
	if fsp <= 0 {
		return dst
	}
	dst = append(dst, '.')
	for i := 0; i < fsp; i++ {
		if i < len(frac) {
			dst = append(dst, frac[i])
		} else {
			dst = append(dst, '0')
		}
	}
	return dst
}

// appendEnum writes the label of a 1-based enum index; 0 is MySQL's ”
// (an invalid value stored in non-strict mode).
func appendEnum(dst []byte, labels []string, n int64) ([]byte, error) {
	if n == 0 {
		return dst, nil
	}
	if n < 0 || n > int64(len(labels)) {
		return nil, fmt.Errorf("enum index %d out of range 1..%d", n, len(labels))
	}
	return append(dst, labels[n-1]...), nil
}

// appendSet writes the labels of the bits set in mask, in definition order,
// joined by ','.
func appendSet(dst []byte, labels []string, mask uint64) []byte {
	first := true
	for i, l := range labels {
		if i >= 64 {
			break
		}
		if mask>>uint(i)&1 == 1 {
			if !first {
				dst = append(dst, ',')
			}
			dst = append(dst, l...)
			first = false
		}
	}
	return dst
}

// unsafeBytes views a string's bytes without copying; they are only read.
func unsafeBytes(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }

// textDecoder converts one character set to UTF-8. A nil *textDecoder
// leaves bytes as they are (utf8mb4, utf8mb3, ascii).
type textDecoder struct {
	name   string
	single *[256]rune        // single-byte character sets
	enc    encoding.Encoding // multi-byte ones
}

func (d *textDecoder) decode(dst, src []byte) ([]byte, error) {
	if d == nil {
		return append(dst, src...), nil
	}
	if d.single != nil {
		for _, b := range src {
			if b < utf8.RuneSelf {
				dst = append(dst, b)
			} else {
				dst = utf8.AppendRune(dst, d.single[b])
			}
		}
		return dst, nil
	}
	out, err := d.enc.NewDecoder().Bytes(src)
	if err != nil {
		return nil, fmt.Errorf("convert %s text to UTF-8: %v", d.name, err)
	}
	return append(dst, out...), nil
}

// labels converts enum/set labels to UTF-8.
func (d *textDecoder) labels(in []string) ([]string, error) {
	out := make([]string, len(in))
	for i, l := range in {
		b, err := d.decode(nil, []byte(l))
		if err != nil {
			return nil, err
		}
		out[i] = string(b)
	}
	return out, nil
}

var (
	decoderMu    sync.Mutex
	decoderCache = map[string]*textDecoder{}
)

// multiByte are the character sets with a multi-byte decoder.
var multiByte = map[string]encoding.Encoding{
	"sjis": japanese.ShiftJIS, "cp932": japanese.ShiftJIS, "ujis": japanese.EUCJP, "eucjpms": japanese.EUCJP,
	"euckr": korean.EUCKR, "gbk": simplifiedchinese.GBK, "gb2312": simplifiedchinese.GBK, "gb18030": simplifiedchinese.GB18030,
	"big5":  traditionalchinese.Big5,
	"ucs2":  unicode.UTF16(unicode.BigEndian, unicode.IgnoreBOM),
	"utf16": unicode.UTF16(unicode.BigEndian, unicode.IgnoreBOM), "utf16le": unicode.UTF16(unicode.LittleEndian, unicode.IgnoreBOM),
	"utf32": utf32.UTF32(utf32.BigEndian, utf32.IgnoreBOM),
}

// singleByte are the single-byte character sets by MySQL name.
var singleByte = map[string]*charmap.Charmap{
	"latin1": charmap.Windows1252, "latin2": charmap.ISO8859_2, "latin5": charmap.ISO8859_9, "latin7": charmap.ISO8859_13,
	"greek": charmap.ISO8859_7, "hebrew": charmap.ISO8859_8, "cp1250": charmap.Windows1250, "cp1251": charmap.Windows1251,
	"cp1256": charmap.Windows1256, "cp1257": charmap.Windows1257, "cp850": charmap.CodePage850, "cp852": charmap.CodePage852,
	"cp866": charmap.CodePage866, "koi8r": charmap.KOI8R, "koi8u": charmap.KOI8U, "macroman": charmap.Macintosh,
	"tis620": charmap.Windows874,
}

// decoderFor returns the UTF-8 converter of a MySQL character set.
func decoderFor(charset string) (*textDecoder, error) {
	switch charset {
	case "utf8mb4", "utf8mb3", "utf8", "ascii", "binary":
		return nil, nil
	}
	decoderMu.Lock()
	defer decoderMu.Unlock()
	if d, ok := decoderCache[charset]; ok {
		return d, nil
	}
	d := &textDecoder{name: charset}
	if cm, ok := singleByte[charset]; ok {
		d.single = new([256]rune)
		for i := range d.single {
			d.single[i] = cm.DecodeByte(byte(i))
		}
		if charset == "latin1" {
			// MySQL's latin1 is cp1252 with the five unassigned bytes
			// mapped to the C1 controls of the same number.
			for _, b := range []byte{0x81, 0x8d, 0x8f, 0x90, 0x9d} {
				d.single[b] = rune(b)
			}
		}
	} else if enc, ok := multiByte[charset]; ok {
		d.enc = enc
	} else {
		return nil, fmt.Errorf("character set %s cannot be converted to UTF-8 by Sluice; convert the column to utf8mb4 (ALTER TABLE ... CONVERT TO CHARACTER SET utf8mb4)", charset)
	}
	decoderCache[charset] = d
	return d, nil
}

// charsets maps the server's collation ids to character sets.
type charsets struct {
	byID   map[uint64]string
	maxLen map[string]int
}

func (c *charsets) byCollation(id uint64) (name string, maxLen int, ok bool) {
	if id == 63 {
		return "binary", 1, true
	}
	name, ok = c.byID[id]
	return name, c.maxLen[name], ok
}

// loadCharsets reads the server's collations (MariaDB 10.10+ lists the
// UCA 14 ones only in COLLATION_CHARACTER_SET_APPLICABILITY).
func loadCharsets(ctx context.Context, db *sql.DB) (*charsets, error) {
	cs := &charsets{byID: map[uint64]string{}, maxLen: map[string]int{}}
	read := func(q string, fn func(*sql.Rows) error) error {
		rows, err := db.QueryContext(ctx, q)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			if err := fn(rows); err != nil {
				return err
			}
		}
		return rows.Err()
	}
	coll := func(rows *sql.Rows) error {
		var id sql.NullInt64
		var name sql.NullString
		if err := rows.Scan(&id, &name); err != nil {
			return err
		}
		if id.Valid && name.Valid {
			cs.byID[uint64(id.Int64)] = name.String
		}
		return nil
	}
	if err := read("SELECT ID, CHARACTER_SET_NAME FROM information_schema.COLLATIONS", coll); err != nil {
		return nil, fmt.Errorf("read the source's collations: %w", err)
	}
	_ = read("SELECT ID, CHARACTER_SET_NAME FROM information_schema.COLLATION_CHARACTER_SET_APPLICABILITY", coll) // MariaDB 10.10+ only
	err := read("SELECT CHARACTER_SET_NAME, MAXLEN FROM information_schema.CHARACTER_SETS", func(rows *sql.Rows) error {
		var name string
		var n int
		if err := rows.Scan(&name, &n); err != nil {
			return err
		}
		cs.maxLen[name] = n
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read the source's character sets: %w", err)
	}
	return cs, nil
}

// appendDatetime appends t as YYYY-MM-DD hh:mm:ss with fsp fraction digits.
func appendDatetime(dst []byte, t time.Time, fsp int) []byte {
	y, mo, d := t.Date()
	h, mi, s := t.Clock()
	dst = appendDigits(dst, y, 4)
	dst = append(dst, '-')
	dst = appendDigits(dst, int(mo), 2)
	dst = append(dst, '-')
	dst = appendDigits(dst, d, 2)
	dst = append(dst, ' ')
	dst = appendDigits(dst, h, 2)
	dst = append(dst, ':')
	dst = appendDigits(dst, mi, 2)
	dst = append(dst, ':')
	dst = appendDigits(dst, s, 2)
	if fsp > 0 {
		frac := t.Nanosecond() / 1000
		for i := fsp; i < 6; i++ {
			frac /= 10
		}
		dst = append(dst, '.')
		dst = appendDigits(dst, frac, fsp)
	}
	return dst
}

// appendDigits appends n (0 <= n) zero-padded to width digits.
func appendDigits(dst []byte, n, width int) []byte {
	var b [20]byte
	i := len(b)
	for n > 0 || i > len(b)-width {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	return append(dst, b[i:]...)
}
