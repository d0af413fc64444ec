package verify

import (
	"context"
	"math/big"
	"strings"
	"time"
)

// A table keyed by one integer column is chunked by key value, not by row
// count: the chunk after lo is (lo, lo+width], so no index scan has to
// find where n rows end (for a table whose chunks are equal, that scan
// was a third of the source's work). The width adapts like the row count
// does (toward the target time per chunk), and shrinks when a chunk held
// more rows than maxChunk; an empty stretch of keys doubles it. Only the
// key's lowest and highest values are read (two index probes).

// intKey tells whether the table's key is one integer column, of the
// source's types.
func intKey(p *Table) bool {
	if len(p.Key) != 1 {
		return false
	}
	switch baseType(p.Types[p.Key[0]]) {
	case "smallint", "integer", "bigint", "tinyint", "mediumint", "int":
		return true
	}
	return false
}

// keyBounds reads the lowest and highest key of the source (unfiltered);
// ok is false for an empty table.
func (s side) keyBounds(ctx context.Context) (lo, hi *big.Int, ok bool, err error) {
	t, err := s.e.begin(ctx, false)
	if err != nil {
		return nil, nil, false, err
	}
	defer t.rollback()
	k := s.e.ident(s.key[0])
	q := "SELECT CAST(min(" + k + ") AS CHAR(24)), CAST(max(" + k + ") AS CHAR(24)) FROM " + s.table
	if s.e.kind() == "postgres" {
		q = "SELECT min(" + k + ")::text, max(" + k + ")::text FROM " + s.table
	}
	rows, err := t.query(ctx, q)
	if err != nil || len(rows) != 1 || rows[0][0] == nil || rows[0][1] == nil {
		return nil, nil, false, err
	}
	lo, ok1 := new(big.Int).SetString(strings.TrimSpace(*rows[0][0]), 10)
	hi, ok2 := new(big.Int).SetString(strings.TrimSpace(*rows[0][1]), 10)
	return lo, hi, ok1 && ok2, nil
}

// keyedInt compares a table keyed by one integer column, chunk by chunk
// of key values (see above).
func (v *Verifier) keyedInt(ctx context.Context, p *Table, r *Result) error {
	src, dst := v.sides(p)
	first, last, ok, err := src.keyBounds(ctx)
	if err != nil {
		return err
	}
	if !ok { // empty on the source: one open range holds what the target has
		return v.keyedRange(ctx, src, dst, nil, nil, r)
	}
	width := big.NewInt(firstChunk)
	one := big.NewInt(1)
	var lo []string
	cur := new(big.Int).Sub(first, one) // keys above cur are still to compare
	for {
		start := time.Now()
		end := new(big.Int).Add(cur, width)
		var hi []string
		if end.Cmp(last) < 0 {
			hi = []string{end.String()}
		}
		rows, err := v.keyedChunk(ctx, src, dst, lo, hi, r)
		if err != nil || hi == nil {
			return err
		}
		lo, cur = hi, end
		width = adaptWidth(width, rows, time.Since(start), v.opts.ChunkTime)
	}
}

// adaptWidth scales the key width toward the target time, at most
// doubling or halving it, keeping the rows of a chunk under maxChunk.
func adaptWidth(w *big.Int, rows int64, took, want time.Duration) *big.Int {
	if took <= 0 {
		took = time.Millisecond
	}
	f := min(max(float64(want)/float64(took), 0.5), 2)
	if rows > 0 {
		f = min(f, float64(maxChunk)/float64(rows))
	}
	next, _ := new(big.Float).Mul(new(big.Float).SetInt(w), big.NewFloat(f)).Int(nil)
	if next.Sign() <= 0 {
		next.SetInt64(1)
	}
	return next
}

// keyedRange compares one range as a single chunk.
func (v *Verifier) keyedRange(ctx context.Context, src, dst side, lo, hi []string, r *Result) error {
	_, err := v.keyedChunk(ctx, src, dst, lo, hi, r)
	return err
}

// keyedChunk compares (lo, hi] and adds the outcome to r; it returns the
// source rows of the range.
func (v *Verifier) keyedChunk(ctx context.Context, src, dst side, lo, hi []string, r *Result) (int64, error) {
	rows, diffs, unsure, rechecked, err := v.chunk(ctx, src, dst, lo, hi)
	if err != nil {
		return 0, err
	}
	r.Chunks++
	r.Rows += rows
	if rechecked {
		r.Rechecked++
	}
	v.addDiffs(r, diffs)
	v.addUnsure(r, unsure)
	if v.opts.Progress != nil {
		v.opts.Progress(r.Table, r.Rows)
	}
	return rows, nil
}
