package typemap

import (
	"encoding/json"
	"strings"
	"unicode/utf8"
)

// elemKind says how array elements become JSON values.
type elemKind uint8

const (
	elemString elemKind = iota // a JSON string
	elemNumber                 // a JSON number; NaN and infinities become strings
	elemBool                   // t/f → true/false
	elemJSON                   // json/jsonb: embedded as JSON
)

// arrayElemKind picks the element kind from the element's format_type text.
func arrayElemKind(elem string) elemKind {
	name, _, _ := pgTypeArgs(elem)
	switch name {
	case "smallint", "integer", "bigint", "real", "double precision", "numeric", "oid":
		return elemNumber
	case "boolean":
		return elemBool
	case "json", "jsonb":
		return elemJSON
	}
	return elemString
}

// maxArrayDepth bounds nesting (PostgreSQL allows 6 dimensions).
const maxArrayDepth = 32

type arrayError string

func (e arrayError) Error() string { return string(e) }

// pgArrayParser reads PostgreSQL's array output text.
type pgArrayParser struct {
	s     []byte
	i     int
	elem  elemKind
	delim byte
	tmp   []byte // the current element, unescaped

	// each, when set, receives every element instead of the JSON output
	// (EachPGArrayElement); nested arrays are then refused.
	each func(elem []byte, null bool) error
}

// appendPGArrayJSON converts a PostgreSQL array literal ({1,2,NULL},
// {"a b","c\"d"}, {{1,2},{3,4}}, [0:1]={1,2}) into a JSON array appended to
// dst. Elements become JSON per elem; NULL becomes null. Explicit lower
// bounds ("[0:1]=") are dropped. Malformed text is an error, never a panic.
func appendPGArrayJSON(dst, s []byte, elem elemKind, delim byte) ([]byte, error) {
	out, err := parsePGArray(dst, s, elem, delim)
	if err != nil {
		return dst, &ruleError{rule: "is not a PostgreSQL array literal (" + err.Error() + ")", fix: "check that the source sends PostgreSQL text output"}
	}
	return out, nil
}

func parsePGArray(dst, s []byte, elem elemKind, delim byte) ([]byte, error) {
	p := &pgArrayParser{s: s, elem: elem, delim: delim}
	return p.run(dst)
}

// run parses the whole literal.
func (p *pgArrayParser) run(dst []byte) ([]byte, error) {
	p.space()
	if p.i < len(p.s) && p.s[p.i] == '[' {
		if err := p.bounds(); err != nil {
			return dst, err
		}
	}
	p.space()
	if p.i >= len(p.s) || p.s[p.i] != '{' {
		return dst, arrayError("missing {")
	}
	dst, err := p.array(dst, 1)
	if err != nil {
		return dst, err
	}
	p.space()
	if p.i != len(p.s) {
		return dst, arrayError("text after the closing }")
	}
	return dst, nil
}

func isArraySpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'
}

func (p *pgArrayParser) space() {
	for p.i < len(p.s) && isArraySpace(p.s[p.i]) {
		p.i++
	}
}

// bounds skips "[lo:hi][lo:hi]=".
func (p *pgArrayParser) bounds() error {
	for p.i < len(p.s) && p.s[p.i] == '[' {
		p.i++
		for part := 0; part < 2; part++ {
			if p.i < len(p.s) && (p.s[p.i] == '-' || p.s[p.i] == '+') {
				p.i++
			}
			start := p.i
			for p.i < len(p.s) && p.s[p.i] >= '0' && p.s[p.i] <= '9' {
				p.i++
			}
			if p.i == start || p.i >= len(p.s) {
				return arrayError("bad dimension bounds")
			}
			want := byte(':')
			if part == 1 {
				want = ']'
			}
			if p.s[p.i] != want {
				return arrayError("bad dimension bounds")
			}
			p.i++
		}
	}
	p.space()
	if p.i >= len(p.s) || p.s[p.i] != '=' {
		return arrayError("bad dimension bounds")
	}
	p.i++
	return nil
}

// array reads "{...}" at p.i.
func (p *pgArrayParser) array(dst []byte, depth int) ([]byte, error) {
	if depth > maxArrayDepth {
		return dst, arrayError("nested too deeply")
	}
	p.i++ // {
	dst = append(dst, '[')
	p.space()
	if p.i < len(p.s) && p.s[p.i] == '}' {
		p.i++
		return append(dst, ']'), nil
	}
	for n := 0; ; n++ {
		if n > 0 {
			dst = append(dst, ',')
		}
		p.space()
		if p.i >= len(p.s) {
			return dst, arrayError("missing }")
		}
		var err error
		switch p.s[p.i] {
		case '{':
			if p.each != nil {
				return dst, arrayError("multi-dimensional array")
			}
			dst, err = p.array(dst, depth+1)
		case '"':
			dst, err = p.quoted(dst)
		default:
			dst, err = p.unquoted(dst)
		}
		if err != nil {
			return dst, err
		}
		p.space()
		if p.i >= len(p.s) {
			return dst, arrayError("missing }")
		}
		switch c := p.s[p.i]; c {
		case '}':
			p.i++
			return append(dst, ']'), nil
		case p.delim:
			p.i++
		default:
			return dst, arrayError("unexpected " + string(rune(c)) + " after an element")
		}
	}
}

func (p *pgArrayParser) quoted(dst []byte) ([]byte, error) {
	p.i++ // "
	p.tmp = p.tmp[:0]
	for {
		if p.i >= len(p.s) {
			return dst, arrayError("unterminated quoted element")
		}
		c := p.s[p.i]
		p.i++
		switch c {
		case '"':
			return p.element(dst, p.tmp)
		case '\\':
			if p.i >= len(p.s) {
				return dst, arrayError("unterminated quoted element")
			}
			c = p.s[p.i]
			p.i++
		}
		p.tmp = append(p.tmp, c)
	}
}

func (p *pgArrayParser) unquoted(dst []byte) ([]byte, error) {
	p.tmp = p.tmp[:0]
	escaped := false
	keep := 0 // length of tmp up to its last escaped or non-space character
	for p.i < len(p.s) {
		c := p.s[p.i]
		if c == p.delim || c == '}' {
			break
		}
		switch c {
		case '{', '"':
			return dst, arrayError("unexpected " + string(rune(c)) + " in an unquoted element")
		case '\\':
			if p.i+1 >= len(p.s) {
				return dst, arrayError("backslash at the end")
			}
			p.i++
			p.tmp = append(p.tmp, p.s[p.i])
			p.i++
			escaped = true
			keep = len(p.tmp)
			continue
		}
		p.tmp = append(p.tmp, c)
		if !isArraySpace(c) {
			keep = len(p.tmp)
		}
		p.i++
	}
	p.tmp = p.tmp[:keep]
	if len(p.tmp) == 0 {
		return dst, arrayError("empty unquoted element")
	}
	if !escaped && len(p.tmp) == 4 && strings.EqualFold(string(p.tmp), "NULL") {
		if p.each != nil {
			return dst, p.each(nil, true)
		}
		return append(dst, "null"...), nil
	}
	return p.element(dst, p.tmp)
}

// element appends one element's JSON value.
func (p *pgArrayParser) element(dst, v []byte) ([]byte, error) {
	if p.each != nil {
		return dst, p.each(v, false)
	}
	switch p.elem {
	case elemNumber:
		if isJSONNumber(v) {
			return append(dst, v...), nil
		}
	case elemBool:
		switch string(v) {
		case "t", "true":
			return append(dst, "true"...), nil
		case "f", "false":
			return append(dst, "false"...), nil
		}
		return dst, arrayError("boolean element is not t or f")
	case elemJSON:
		if !json.Valid(v) {
			return dst, arrayError("json element is not valid JSON")
		}
		return append(dst, v...), nil
	}
	return appendJSONString(dst, v)
}

// isJSONNumber tells whether v is a number in JSON's grammar (NaN,
// Infinity and PostgreSQL's other spellings are not).
func isJSONNumber(v []byte) bool {
	i := 0
	if i < len(v) && v[i] == '-' {
		i++
	}
	switch {
	case i < len(v) && v[i] == '0':
		i++
	case i < len(v) && v[i] >= '1' && v[i] <= '9':
		for i < len(v) && v[i] >= '0' && v[i] <= '9' {
			i++
		}
	default:
		return false
	}
	if i < len(v) && v[i] == '.' {
		i++
		start := i
		for i < len(v) && v[i] >= '0' && v[i] <= '9' {
			i++
		}
		if i == start {
			return false
		}
	}
	if i < len(v) && (v[i] == 'e' || v[i] == 'E') {
		i++
		if i < len(v) && (v[i] == '+' || v[i] == '-') {
			i++
		}
		start := i
		for i < len(v) && v[i] >= '0' && v[i] <= '9' {
			i++
		}
		if i == start {
			return false
		}
	}
	return i == len(v)
}

// appendJSONString appends v as a JSON string. v must be UTF-8.
func appendJSONString(dst, v []byte) ([]byte, error) {
	if !utf8.Valid(v) {
		return dst, arrayError("element is not valid UTF-8")
	}
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		dst = append(dst, v[start:i]...)
		switch c {
		case '"', '\\':
			dst = append(dst, '\\', c)
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\r':
			dst = append(dst, '\\', 'r')
		case '\t':
			dst = append(dst, '\\', 't')
		default:
			dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&15])
		}
		start = i + 1
	}
	dst = append(dst, v[start:]...)
	return append(dst, '"'), nil
}
