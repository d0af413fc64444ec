package postgres

import (
	"bytes"
	"fmt"

	"github.com/sluicecdc/sluice/pkg/change"
)

// copyParser decodes COPY ... TO STDOUT text format as it streams in: one
// row per line, columns split by tabs, \N for NULL, backslash escapes.
type copyParser struct {
	cols    int
	fn      func(change.Row) error
	partial []byte
	row     change.Row
	scratch []byte
	err     error
}

// Write takes any piece of the stream; lines may span writes.
func (p *copyParser) Write(b []byte) (int, error) {
	if p.err != nil {
		return 0, p.err
	}
	n := len(b)
	if len(p.partial) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			p.partial = append(p.partial, b...)
			return n, nil
		}
		p.partial = append(p.partial, b[:i]...)
		if p.err = p.line(p.partial); p.err != nil {
			return 0, p.err
		}
		p.partial = p.partial[:0]
		b = b[i+1:]
	}
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			p.partial = append(p.partial, b...)
			break
		}
		if p.err = p.line(b[:i]); p.err != nil {
			return 0, p.err
		}
		b = b[i+1:]
	}
	return n, nil
}

func (p *copyParser) finish() error {
	if p.err == nil && len(p.partial) > 0 {
		p.err = fmt.Errorf("copy stream ended inside a row")
	}
	return p.err
}

func (p *copyParser) line(l []byte) error {
	if cap(p.row) < p.cols {
		p.row = make(change.Row, p.cols)
	}
	row := p.row[:p.cols]
	p.scratch = p.scratch[:0]
	// Values point into scratch; remember offsets and fix slices at the end,
	// since appending may move scratch.
	type span struct{ from, to int }
	spans := make([]span, 0, p.cols)
	field := 0
	for start := 0; ; {
		end := bytes.IndexByte(l[start:], '\t')
		last := end < 0
		if last {
			end = len(l)
		} else {
			end += start
		}
		if field >= p.cols {
			return fmt.Errorf("copy row has more than %d columns", p.cols)
		}
		f := l[start:end]
		if len(f) == 2 && f[0] == '\\' && f[1] == 'N' {
			row[field] = change.Value{State: change.Null}
			spans = append(spans, span{-1, -1})
		} else {
			from := len(p.scratch)
			p.scratch = unescapeCopy(p.scratch, f)
			row[field] = change.Value{State: change.Present}
			spans = append(spans, span{from, len(p.scratch)})
		}
		field++
		if last {
			break
		}
		start = end + 1
	}
	if field != p.cols {
		return fmt.Errorf("copy row has %d columns, want %d", field, p.cols)
	}
	for i, s := range spans {
		if s.from >= 0 {
			row[i].Data = p.scratch[s.from:s.to:s.to]
		}
	}
	return p.fn(row)
}

// unescapeCopy appends the decoded field to dst.
func unescapeCopy(dst, f []byte) []byte {
	for i := 0; i < len(f); i++ {
		c := f[i]
		if c != '\\' || i+1 == len(f) {
			dst = append(dst, c)
			continue
		}
		i++
		switch e := f[i]; e {
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'v':
			dst = append(dst, '\v')
		case 'x':
			v, n := 0, 0
			for n < 2 && i+1 < len(f) && isHex(f[i+1]) {
				i++
				v = v*16 + hexVal(f[i])
				n++
			}
			if n == 0 {
				dst = append(dst, 'x')
			} else {
				dst = append(dst, byte(v))
			}
		case '0', '1', '2', '3', '4', '5', '6', '7':
			v := int(e - '0')
			for n := 1; n < 3 && i+1 < len(f) && f[i+1] >= '0' && f[i+1] <= '7'; n++ {
				i++
				v = v*8 + int(f[i]-'0')
			}
			dst = append(dst, byte(v))
		default:
			dst = append(dst, e)
		}
	}
	return dst
}

func isHex(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

func hexVal(c byte) int {
	switch {
	case c >= 'a':
		return int(c-'a') + 10
	case c >= 'A':
		return int(c-'A') + 10
	}
	return int(c - '0')
}
