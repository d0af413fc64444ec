package verify

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/sluicecdc/sluice/pkg/change"
)

// side is one end of a comparison: a server and the table's names there.
type side struct {
	e      engine
	table  string   // quoted schema.table
	cols   []string // compared columns
	types  []string // their source types
	key    []string // key columns
	filter string   // "" = every row
	// Across engines: rows are hashed in the servers over the columns'
	// canonical texts (canon set) or canonicalised and hashed in Sluice.
	x      *cross
	canon  []string // SQL of each compared column's canonical text
	isSrc  bool
	keyIdx []int  // indexes into cols of the key
	cond   string // an extra condition on the rows ("" = none): a hash bucket
	// fetched counts the rows read into Sluice (not only their sums).
	fetched *atomic.Int64
}

// rowsRead counts n rows read into Sluice.
func (s side) rowsRead(n int) {
	if s.fetched != nil {
		s.fetched.Add(int64(n))
	}
}

// inSluice tells whether rows are hashed here rather than in the servers.
func (s side) inSluice() bool { return s.x != nil && s.canon == nil }

func (v *Verifier) sides(p *Table) (src, dst side) {
	mk := func(e engine, id change.TableID, cols []string, filter string) side {
		s := side{e: e, table: e.ident(id.Schema) + "." + e.ident(id.Name), cols: cols, types: p.Types, filter: filter, x: p.cross, keyIdx: p.Key, fetched: p.fetched}
		for _, k := range p.Key {
			s.key = append(s.key, cols[k])
		}
		return s
	}
	src, dst = mk(v.src, p.Source, p.SrcCols, p.SrcFilter), mk(v.dst, p.Target, p.DstCols, p.DstFilter)
	src.isSrc = true
	if x := p.cross; x != nil && x.canon != nil {
		for _, c := range x.canon {
			src.canon = append(src.canon, c.src)
			dst.canon = append(dst.canon, c.dst)
		}
	}
	return src, dst
}

// rowHash is the SQL of a row's hash.
func (s side) rowHash() string {
	if s.canon != nil {
		return canonHash(s.e, canonRow(s.e, s.canon))
	}
	return s.e.rowHash(s.cols, s.types)
}

func (s side) rowTextSQL() string {
	if s.canon != nil {
		return canonRow(s.e, s.canon)
	}
	return s.e.rowText(s.cols, s.types)
}

// keyHash is the SQL of a 60-bit hash of the key's canonical text (across
// engines, with canon set): hash buckets of keys that do not order alike.
func (s side) keyHashSQL() string {
	k := make([]string, len(s.keyIdx))
	for i, j := range s.keyIdx {
		k[i] = s.canon[j]
	}
	return canonHash(s.e, canonRow(s.e, k))
}

func (s side) tuple() string {
	q := make([]string, len(s.key))
	for i, k := range s.key {
		q[i] = s.e.ident(k)
	}
	return "(" + strings.Join(q, ", ") + ")"
}

func (s side) lits(vals []string) string {
	q := make([]string, len(vals))
	for i, v := range vals {
		q[i] = s.e.lit(v)
	}
	return "(" + strings.Join(q, ", ") + ")"
}

// where is the WHERE clause of the rows in (lo, hi] (nil: unbounded) and,
// when keys is set, with one of those keys.
func (s side) where(lo, hi []string, keys [][]string) string {
	var conds []string
	if lo != nil {
		conds = append(conds, s.tuple()+" > "+s.lits(lo))
	}
	if hi != nil {
		conds = append(conds, s.tuple()+" <= "+s.lits(hi))
	}
	if keys != nil {
		l := make([]string, len(keys))
		for i, k := range keys {
			l[i] = s.lits(k)
		}
		conds = append(conds, s.tuple()+" IN ("+strings.Join(l, ", ")+")")
	}
	if s.filter != "" {
		conds = append(conds, "("+s.filter+")")
	}
	if s.cond != "" {
		conds = append(conds, s.cond)
	}
	if len(conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(conds, " AND ")
}

func (s side) keyTexts() string {
	q := make([]string, len(s.key))
	for i, k := range s.key {
		// Aliased: an output column named like the key column would be
		// what ORDER BY sorts by (as text, and without the index).
		t := s.e.keyText(k)
		if s.canon != nil {
			t = s.canon[s.keyIdx[i]]
		}
		q[i] = t + " AS " + s.e.ident("_sluice_k"+strconv.Itoa(i))
	}
	return strings.Join(q, ", ")
}

func (s side) orderBy() string {
	q := make([]string, len(s.key))
	for i, k := range s.key {
		q[i] = s.e.ident(k)
	}
	return " ORDER BY " + strings.Join(q, ", ")
}

// sum is what a server says about a set of rows.
type sum struct {
	n    int64
	hash string
}

func (s side) sum(ctx context.Context, t tx, lo, hi []string) (sum, error) {
	if s.inSluice() {
		return s.crossSum(ctx, t, lo, hi)
	}
	rows, err := t.query(ctx, "SELECT count(*), "+s.e.sum(s.rowHash())+" FROM "+s.table+s.where(lo, hi, nil))
	if err != nil {
		return sum{}, fmt.Errorf("sum rows of %s: %w", s.table, err)
	}
	if len(rows) != 1 || rows[0][0] == nil || rows[0][1] == nil {
		return sum{}, fmt.Errorf("sum rows of %s: no result", s.table)
	}
	n, err := strconv.ParseInt(*rows[0][0], 10, 64)
	return sum{n: n, hash: *rows[0][1]}, err
}

// keyAt returns the key of the row at offset off (0-based) after lo, up to
// hi; nil when there are not that many rows.
func (s side) keyAt(ctx context.Context, t tx, lo, hi []string, off int64) ([]string, error) {
	unfiltered := s
	unfiltered.filter = ""
	q := "SELECT " + s.keyTexts() + " FROM " + s.table + unfiltered.where(lo, hi, nil) + s.orderBy() +
		" LIMIT 1 OFFSET " + strconv.FormatInt(off, 10)
	rows, err := t.query(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("find chunk bound in %s: %w", s.table, err)
	}
	if len(rows) == 0 {
		return nil, nil
	}
	return texts(rows[0]), nil
}

// hashes returns the hash of every row in (lo, hi] or with one of keys,
// by key (the key texts joined by a NUL).
func (s side) hashes(ctx context.Context, t tx, lo, hi []string, keys [][]string) (map[string]keyHash, error) {
	if s.inSluice() {
		rows, err := s.crossRows(ctx, t, lo, hi, keys)
		out := make(map[string]keyHash, len(rows))
		for _, r := range rows {
			out[strings.Join(r.key, "\x00")] = r
		}
		return out, err
	}
	ver := "''"
	if s.e.kind() == "postgres" {
		ver = "xmin::text" // the row version: another after every update
	}
	q := "SELECT " + s.keyTexts() + ", " + s.rowHash() + ", " + ver + " FROM " + s.table + s.where(lo, hi, keys)
	rows, err := t.query(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("read row hashes of %s: %w", s.table, err)
	}
	s.rowsRead(len(rows))
	out := make(map[string]keyHash, len(rows))
	for _, r := range rows {
		k := texts(r[:len(s.key)])
		out[strings.Join(k, "\x00")] = keyHash{key: k, hash: deref(r[len(s.key)]), version: deref(r[len(s.key)+1])}
	}
	return out, nil
}

type keyHash struct {
	key     []string
	hash    string
	version string // PostgreSQL: the row version (xmin); "" elsewhere
}

// counts returns how often each row hash occurs (only the hashes in only,
// when set).
func (s side) counts(ctx context.Context, t tx, only []string) (map[string]int64, error) {
	q := "SELECT h, count(*) FROM (SELECT " + s.rowHash() + " AS h FROM " + s.table + s.where(nil, nil, nil) + ") AS r"
	if only != nil {
		q += " WHERE h IN (" + strings.Join(only, ", ") + ")"
	}
	rows, err := t.query(ctx, q+" GROUP BY h")
	if err != nil {
		return nil, fmt.Errorf("count row hashes of %s: %w", s.table, err)
	}
	s.rowsRead(len(rows))
	out := make(map[string]int64, len(rows))
	for _, r := range rows {
		n, _ := strconv.ParseInt(deref(r[1]), 10, 64)
		out[deref(r[0])] = n
	}
	return out, nil
}

// rowWithHash returns the canonical text of a row with hash h.
func (s side) rowWithHash(ctx context.Context, t tx, h string) (string, error) {
	q := "SELECT " + s.rowTextSQL() + " FROM " + s.table + s.where(nil, nil, nil)
	if s.filter == "" {
		q += " WHERE "
	} else {
		q += " AND "
	}
	rows, err := t.query(ctx, q+s.rowHash()+" = "+h+" LIMIT 1")
	if err != nil {
		return "", fmt.Errorf("read row of %s: %w", s.table, err)
	}
	return one(rows), nil
}

func texts(r []*string) []string {
	out := make([]string, len(r))
	for i, v := range r {
		out[i] = deref(v)
	}
	return out
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
