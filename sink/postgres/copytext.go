package postgres

import (
	"bytes"
	"io"

	"github.com/sluicecdc/sluice/pkg/change"
)

// copyEscape marks the bytes COPY text format escapes.
var copyEscape = [256]bool{'\\': true, '\n': true, '\r': true, '\t': true}

// appendCopyRow appends one row in COPY text format: values separated by tabs,
// NULL as \N, and backslash, newline, carriage return and tab escaped. Only
// the columns in cols are written, in that order.
func appendCopyRow(buf *bytes.Buffer, row change.Row, cols []int) {
	for i, c := range cols {
		if i > 0 {
			buf.WriteByte('\t')
		}
		v := row[c]
		if v.State != change.Present {
			buf.WriteString(`\N`)
			continue
		}
		appendCopyValue(buf, v.Data)
	}
	buf.WriteByte('\n')
}

func appendCopyValue(buf *bytes.Buffer, data []byte) {
	start := 0
	for i := 0; i < len(data); i++ {
		b := data[i]
		if !copyEscape[b] {
			continue
		}
		buf.Write(data[start:i])
		switch b {
		case '\\':
			buf.WriteString(`\\`)
		case '\n':
			buf.WriteString(`\n`)
		case '\r':
			buf.WriteString(`\r`)
		case '\t':
			buf.WriteString(`\t`)
		}
		start = i + 1
	}
	buf.Write(data[start:])
}

// copyReader encodes rows as COPY text on demand, so encoding overlaps with
// the server's work and no chunk is held twice in memory.
type copyReader struct {
	rows []change.Row
	cols []int
	next int
	buf  bytes.Buffer
}

func (r *copyReader) Read(p []byte) (int, error) {
	for r.buf.Len() < len(p) && r.next < len(r.rows) {
		appendCopyRow(&r.buf, r.rows[r.next], r.cols)
		r.next++
	}
	if r.buf.Len() == 0 {
		return 0, io.EOF
	}
	return r.buf.Read(p)
}
