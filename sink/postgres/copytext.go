package postgres

import (
	"bytes"

	"github.com/sluicecdc/sluice/pkg/change"
)

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
	for i, b := range data {
		var esc string
		switch b {
		case '\\':
			esc = `\\`
		case '\n':
			esc = `\n`
		case '\r':
			esc = `\r`
		case '\t':
			esc = `\t`
		default:
			continue
		}
		buf.Write(data[start:i])
		buf.WriteString(esc)
		start = i + 1
	}
	buf.Write(data[start:])
}
