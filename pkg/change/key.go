package change

import "encoding/binary"

// KeyText encodes the key columns of r into a map key: length-prefixed
// value texts, NULL distinct from the empty text. (Both sources' back-fills use it to
// match chunk rows with the keys the stream changed.)
func KeyText(t *Table, r Row) string {
	var b []byte
	for _, k := range t.Key {
		if k >= len(r) || r[k].State != Present {
			b = binary.AppendUvarint(b, 0)
			continue
		}
		b = binary.AppendUvarint(b, uint64(len(r[k].Data))+1)
		b = append(b, r[k].Data...)
	}
	return string(b)
}

// KeyTexts are the texts of r's key values.
func KeyTexts(t *Table, r Row) []string {
	out := make([]string, len(t.Key))
	for i, k := range t.Key {
		out[i] = string(r[k].Data)
	}
	return out
}

// KeyOnly copies the key columns of r; the others are Missing.
func KeyOnly(t *Table, r Row) Row {
	row := make(Row, len(t.Columns))
	for i := range row {
		row[i] = Value{State: Missing}
	}
	for _, k := range t.Key {
		row[k] = r[k]
	}
	return row
}
