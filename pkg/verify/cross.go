package verify

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"math/big"
	"strconv"
	"strings"
	"time"

	"github.com/sluicecdc/sluice/pkg/change"
	"github.com/sluicecdc/sluice/pkg/typemap"
)

// cross compares a table across engines (MariaDB → PostgreSQL or the
// reverse). The two servers print values differently (floats, time zones,
// bit strings, json spacing and key order), and no SQL expression gives
// the same text on both for every type of the mapping, so rows are read
// as each server's canonical dialect text and canonicalised here: source
// values go through the very conversion the sink applies (pkg/typemap),
// then both sides through one normal form per target type. The row hash
// and the chunk sums are computed in Sluice, not in the servers: every
// compared row crosses the network once per reading.
type cross struct {
	src  *change.Table // the source table (all its columns)
	conv *typemap.Converter
	out  *change.Table // its shape in the target's dialect
	cols []int         // the compared source columns, by index into src.Columns
	// canon, when set, are the compared columns' canonical texts both
	// servers compute (see canon.go): rows are hashed in the servers.
	// Otherwise why says which column has none, and rows are read and
	// hashed here.
	canon []canonCol
	why   string
	// order: every key column orders alike on both servers, so the table
	// is chunked by key ranges; otherwise by hash buckets of the key
	// (server hashes) or read whole (row by row).
	order bool
}

// planServer decides whether p's rows can be hashed in the servers.
func (x *cross) planServer(src, dst engine, t *change.Table, p *Table) {
	x.order = true
	for _, k := range p.Key {
		if !orders(t.Dialect, x.src.Columns[x.cols[k]].Type, x.out.Columns[x.cols[k]].Type) {
			x.order = false
		}
	}
	maria := false
	if m, ok := dst.(*myEngine); ok {
		maria = m.mariaDB
	}
	canon, err := canonPlan(src, dst, t, x.out, x.cols, p.SrcCols, p.DstCols, maria)
	if err != nil {
		x.why = err.Error()
		return
	}
	for _, k := range p.Key {
		if !canon[k].lit {
			x.why = fmt.Sprintf("key column %s: its canonical text cannot select its rows", p.SrcCols[k])
			return
		}
	}
	for _, k := range p.Key {
		if !canon[k].order {
			x.order = false
		}
	}
	x.canon = canon
}

// orders tells whether key values of a column of source type typ (mapped
// to target type out) sort the same on both servers: numbers do; text
// (collations), uuid (MariaDB's byte order) and the rest may not.
func orders(d change.Dialect, typ, out string) bool {
	b := baseType(typ)
	if d == change.MySQL {
		switch b {
		case "tinyint", "bool", "boolean", "smallint", "mediumint", "int", "integer", "bigint", "year", "decimal", "numeric", "dec", "fixed":
			return true
		}
		return false
	}
	switch b {
	case "smallint", "integer", "bigint", "boolean":
		return true
	case "numeric":
		return strings.HasPrefix(strings.ToLower(out), "decimal")
	}
	return false
}

func newCross(t *change.Table, cols []int, dst string) (*cross, error) {
	to := change.Postgres
	if dst == "mysql" {
		to = change.MySQL
	}
	conv := typemap.New(to)
	conv.HideValues = true
	out, err := conv.Table(t)
	if err != nil {
		return nil, err
	}
	return &cross{src: t, conv: conv, out: out, cols: cols}, nil
}

// selectExpr is how column name of type typ (of dialect d) is read so that
// the server prints its dialect's canonical text (see change.Dialect);
// what SQL cannot do, fixText finishes.
func selectExpr(e engine, d change.Dialect, name, typ string) string {
	c := e.ident(name)
	if d == change.Postgres {
		return c // its output text, as COPY prints it (::text would strip char(n)'s padding)
	}
	t := strings.ToLower(typ)
	switch {
	case strings.HasPrefix(t, "float"), strings.HasPrefix(t, "double"), strings.HasPrefix(t, "real"):
		return "CAST(" + c + " AS DOUBLE)" // MySQL prints FLOAT with 6 digits only
	case strings.HasPrefix(t, "bit"):
		return "LPAD(BIN(" + c + "), " + strconv.Itoa(typeArg(t, 1)) + ", '0')"
	case strings.HasPrefix(t, "year"):
		return "LPAD(CAST(" + c + " AS CHAR), 4, '0')"
	}
	return c
}

// fixText finishes a MySQL value's canonical text: floats as Go's shortest
// round-trip text (float: of the float32).
func fixText(d change.Dialect, typ string, v []byte) []byte {
	if d != change.MySQL {
		return v
	}
	t := strings.ToLower(typ)
	bits := 0
	switch {
	case strings.HasPrefix(t, "float"):
		bits = 32
	case strings.HasPrefix(t, "double"), strings.HasPrefix(t, "real"):
		bits = 64
	default:
		return v
	}
	f, err := strconv.ParseFloat(string(v), 64)
	if err != nil {
		return v
	}
	if bits == 32 {
		return strconv.AppendFloat(nil, float64(float32(f)), 'g', -1, 32)
	}
	return strconv.AppendFloat(nil, f, 'g', -1, 64)
}

func typeArg(t string, def int) int {
	_, rest, ok := strings.Cut(t, "(")
	if !ok {
		return def
	}
	n, err := strconv.Atoi(strings.TrimSpace(strings.SplitN(rest, ")", 2)[0]))
	if err != nil {
		return def
	}
	return n
}

// srcSelect and dstSelect are the select lists of the compared columns.
func (x *cross) srcSelect(e engine) []string {
	out := make([]string, len(x.cols))
	for i, si := range x.cols {
		c := x.src.Columns[si]
		out[i] = selectExpr(e, x.src.Dialect, c.Name, c.Type)
	}
	return out
}

func (x *cross) dstSelect(e engine, names []string) []string {
	out := make([]string, len(x.cols))
	for i, si := range x.cols {
		out[i] = selectExpr(e, x.out.Dialect, names[i], x.out.Columns[si].Type)
	}
	return out
}

// canonSource turns the compared values of a source row (as selected by
// srcSelect; nil = NULL) into their canonical form.
func (x *cross) canonSource(vals []*string) ([]*string, error) {
	row := make(change.Row, len(x.src.Columns))
	for i := range row {
		row[i] = change.Value{State: change.Missing}
	}
	for i, si := range x.cols {
		if vals[i] == nil {
			row[si] = change.NullValue
		} else {
			row[si] = change.Value{State: change.Present, Data: fixText(x.src.Dialect, x.src.Columns[si].Type, []byte(*vals[i]))}
		}
	}
	conv, err := x.conv.Row(x.src, row)
	if err != nil {
		return nil, err
	}
	out := make([]*string, len(x.cols))
	for i, si := range x.cols {
		if conv[si].State != change.Present {
			continue
		}
		s := normal(x.out.Dialect, x.out.Columns[si].Type, conv[si].Data)
		out[i] = &s
	}
	return out, nil
}

// canonTarget does the same for a target row (as selected by dstSelect).
func (x *cross) canonTarget(vals []*string) []*string {
	out := make([]*string, len(x.cols))
	for i, si := range x.cols {
		if vals[i] == nil {
			continue
		}
		s := normal(x.out.Dialect, x.out.Columns[si].Type, fixText(x.out.Dialect, x.out.Columns[si].Type, []byte(*vals[i])))
		out[i] = &s
	}
	return out
}

// normal is the one form of a target-dialect value text that both sides'
// texts are brought to, for the types whose text is not unique: json (key
// order and spacing: keys sorted, no spaces, numbers as written),
// PostgreSQL timestamptz (any offset: UTC, RFC 3339 with nanoseconds),
// PostgreSQL floats (shortest round-trip text).
func normal(d change.Dialect, typ string, v []byte) string {
	t := strings.ToLower(typ)
	switch {
	case t == "json" || t == "jsonb":
		dec := json.NewDecoder(bytes.NewReader(v))
		dec.UseNumber()
		var x any
		if err := dec.Decode(&x); err == nil {
			if b, err := json.Marshal(x); err == nil {
				return "json:" + string(b)
			}
		}
	case d == change.Postgres && strings.HasPrefix(t, "timestamp") && strings.HasSuffix(t, "with time zone"):
		for _, layout := range []string{"2006-01-02 15:04:05.999999999Z07", "2006-01-02 15:04:05.999999999Z07:00", "2006-01-02 15:04:05.999999999Z07:00:00"} {
			if tm, err := time.Parse(layout, string(v)); err == nil {
				return tm.UTC().Format(time.RFC3339Nano)
			}
		}
	case d == change.Postgres && (t == "real" || t == "double precision"):
		if f, err := strconv.ParseFloat(string(v), 64); err == nil {
			bits := 64
			if t == "real" {
				bits = 32
			}
			return strconv.FormatFloat(f, 'g', -1, bits)
		}
	}
	return string(v)
}

// crossRows reads the compared values (and the key texts, then the row
// version on PostgreSQL) of the rows in (lo, hi] or with one of keys, and
// returns each row's canonical key and hash.
func (s side) crossRows(ctx context.Context, t tx, lo, hi []string, keys [][]string) ([]keyHash, error) {
	sel := s.x.srcSelect(s.e)
	if !s.isSrc {
		sel = s.x.dstSelect(s.e, s.cols)
	}
	ver := "''"
	if s.e.kind() == "postgres" {
		ver = "xmin::text"
	}
	q := "SELECT " + strings.Join(sel, ", ") + ", " + ver + " FROM " + s.table + s.where(lo, hi, keys)
	rows, err := t.query(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("read rows of %s: %w", s.table, err)
	}
	s.rowsRead(len(rows))
	out := make([]keyHash, 0, len(rows))
	for _, r := range rows {
		vals := r[:len(sel)]
		var canon []*string
		if s.isSrc {
			if canon, err = s.x.canonSource(vals); err != nil {
				return nil, fmt.Errorf("convert a row of %s as the sink does: %w", s.table, err)
			}
		} else {
			canon = s.x.canonTarget(vals)
		}
		key := make([]string, len(s.keyIdx))
		for i, k := range s.keyIdx {
			key[i] = deref(canon[k])
		}
		out = append(out, keyHash{key: key, hash: rowHash64(canon), version: deref(r[len(sel)])})
	}
	return out, nil
}

// rowHash64 is the 64-bit hash of a canonical row, as decimal text: each
// value is length-prefixed (NULL has a length of its own), so no two rows
// share an encoding.
func rowHash64(vals []*string) string {
	h := fnv.New64a()
	var n [9]byte
	for _, v := range vals {
		if v == nil {
			n[0] = 0
			h.Write(n[:1])
			continue
		}
		n[0] = 1
		binary.BigEndian.PutUint64(n[1:], uint64(len(*v)))
		h.Write(n[:])
		h.Write([]byte(*v))
	}
	return strconv.FormatUint(h.Sum64(), 10)
}

// crossSum is sum for a cross-engine side: the exact sum of the rows'
// hashes, computed here.
func (s side) crossSum(ctx context.Context, t tx, lo, hi []string) (sum, error) {
	rows, err := s.crossRows(ctx, t, lo, hi, nil)
	if err != nil {
		return sum{}, err
	}
	total := new(big.Int)
	var h big.Int
	for _, r := range rows {
		h.SetString(r.hash, 10)
		total.Add(total, &h)
	}
	return sum{n: int64(len(rows)), hash: total.String()}, nil
}
