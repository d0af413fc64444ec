package verify

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/sluicecdc/sluice/pkg/change"
)

const (
	firstChunk = 1000    // rows in a table's first chunk
	minChunk   = 100     // adaptive chunk size bounds
	maxChunk   = 1000000 //
	leafRows   = 2000    // a differing range this small is compared key by key
	keyBatch   = 500     // keys per re-check query
)

// keyed compares a table with a key, chunk by chunk.
func (v *Verifier) keyed(ctx context.Context, p *Table, r *Result) error {
	src, dst := v.sides(p)
	n := int64(firstChunk)
	var lo []string
	for {
		start := time.Now()
		hi, err := v.bound(ctx, src, lo, n)
		if err != nil {
			return err
		}
		rows, diffs, rechecked, err := v.chunk(ctx, src, dst, lo, hi)
		if err != nil {
			return err
		}
		r.Chunks++
		r.Rows += rows
		if rechecked {
			r.Rechecked++
		}
		v.addDiffs(r, diffs)
		if v.opts.Progress != nil {
			v.opts.Progress(r.Table, r.Rows)
		}
		if hi == nil {
			return nil
		}
		lo = hi
		n = adapt(n, time.Since(start), v.opts.ChunkTime)
	}
}

// adapt scales the chunk size toward the target time, at most doubling or
// halving it at once.
func adapt(n int64, took, want time.Duration) int64 {
	if took <= 0 {
		took = time.Millisecond
	}
	next := int64(float64(n) * float64(want) / float64(took))
	next = min(max(next, n/2, minChunk), n*2, maxChunk)
	return next
}

// bound is the upper key of the chunk of n rows after lo; nil when fewer
// rows remain (the last chunk is open-ended, so that target rows above the
// source's last key are compared too).
func (v *Verifier) bound(ctx context.Context, src side, lo []string, n int64) ([]string, error) {
	t, err := src.e.begin(ctx, false)
	if err != nil {
		return nil, err
	}
	defer t.rollback()
	hi, err := src.keyAt(ctx, t, lo, nil, n-1)
	if err != nil || hi == nil {
		return nil, err
	}
	// Is there a row after it? If not, this is the last chunk.
	next, err := src.keyAt(ctx, t, hi, nil, 0)
	if err != nil || next == nil {
		return nil, err
	}
	return hi, nil
}

// sums reads the range's sums: the source's in a snapshot, then the
// target's. pos is the source snapshot's position.
func (v *Verifier) sums(ctx context.Context, src, dst side, lo, hi []string) (s, d sum, pos change.Position, err error) {
	st, pos, err := v.snapshot(ctx)
	if err != nil {
		return s, d, nil, err
	}
	s, err = src.sum(ctx, st, lo, hi)
	st.rollback()
	if err != nil {
		return s, d, nil, err
	}
	dt, err := dst.e.begin(ctx, true)
	if err != nil {
		return s, d, nil, err
	}
	defer dt.rollback()
	d, err = dst.sum(ctx, dt, lo, hi)
	return s, d, pos, err
}

// chunk compares the range (lo, hi]; differences are those that persist.
func (v *Verifier) chunk(ctx context.Context, src, dst side, lo, hi []string) (rows int64, diffs []Diff, rechecked bool, err error) {
	s, d, pos, err := v.sums(ctx, src, dst, lo, hi)
	if err != nil || s == d {
		return s.n, nil, false, err
	}
	// The target may just be behind: compare again once it has applied
	// past the snapshot.
	if _, err := v.waitFor(ctx, pos); err != nil {
		return s.n, nil, false, err
	}
	if s, d, _, err = v.sums(ctx, src, dst, lo, hi); err != nil || s == d {
		return s.n, nil, true, err
	}
	cands, err := v.bisect(ctx, src, dst, lo, hi, s, d)
	if err != nil {
		return s.n, nil, false, err
	}
	diffs, err = v.confirm(ctx, src, dst, cands)
	return s.n, diffs, len(diffs) == 0, err
}

// bisect splits a differing range until its parts are small enough to
// compare row hashes key by key, and returns the keys that differ.
func (v *Verifier) bisect(ctx context.Context, src, dst side, lo, hi []string, s, d sum) ([]Diff, error) {
	if max(s.n, d.n) <= leafRows {
		return v.leaf(ctx, src, dst, lo, hi, nil)
	}
	// Split at the middle key of the side with more rows.
	by, n := src, s.n
	if d.n > s.n {
		by, n = dst, d.n
	}
	t, err := by.e.begin(ctx, false)
	if err != nil {
		return nil, err
	}
	mid, err := by.keyAt(ctx, t, lo, hi, n/2-1)
	t.rollback()
	if err != nil {
		return nil, err
	}
	if mid == nil { // the range shrank meanwhile
		return v.leaf(ctx, src, dst, lo, hi, nil)
	}
	var out []Diff
	for _, half := range [][2][]string{{lo, mid}, {mid, hi}} {
		hs, hd, _, err := v.sums(ctx, src, dst, half[0], half[1])
		if err != nil {
			return nil, err
		}
		if hs == hd {
			continue
		}
		ds, err := v.bisect(ctx, src, dst, half[0], half[1], hs, hd)
		if err != nil {
			return nil, err
		}
		out = append(out, ds...)
	}
	return out, nil
}

// leaf compares the rows of (lo, hi] (or the given keys) key by key; pos
// is the source snapshot's position.
func (v *Verifier) leaf(ctx context.Context, src, dst side, lo, hi []string, keys [][]string) ([]Diff, error) {
	diffs, _, err := v.readDiffs(ctx, src, dst, lo, hi, keys, false)
	return diffs, err
}

// readDiffs reads row hashes on both sides, the source's in a snapshot;
// with wait, the target's once it has applied past that snapshot.
func (v *Verifier) readDiffs(ctx context.Context, src, dst side, lo, hi []string, keys [][]string, wait bool) ([]Diff, change.Position, error) {
	st, pos, err := v.snapshot(ctx)
	if err != nil {
		return nil, nil, err
	}
	sh, err := src.hashes(ctx, st, lo, hi, keys)
	st.rollback()
	if err != nil {
		return nil, nil, err
	}
	if wait {
		if _, err := v.waitFor(ctx, pos); err != nil {
			return nil, nil, err
		}
	}
	dt, err := dst.e.begin(ctx, true)
	if err != nil {
		return nil, nil, err
	}
	dh, err := dst.hashes(ctx, dt, lo, hi, keys)
	dt.rollback()
	if err != nil {
		return nil, nil, err
	}
	var out []Diff
	for k, a := range sh {
		b, ok := dh[k]
		switch {
		case !ok:
			out = append(out, Diff{Key: a.key, Kind: "missing"})
		case a.hash != b.hash:
			out = append(out, Diff{Key: a.key, Kind: "changed"})
		}
	}
	for k, b := range dh {
		if _, ok := sh[k]; !ok {
			out = append(out, Diff{Key: b.key, Kind: "extra"})
		}
	}
	slices.SortFunc(out, func(a, b Diff) int { return strings.Compare(strings.Join(a.Key, "\x00"), strings.Join(b.Key, "\x00")) })
	return out, pos, nil
}

// confirm compares differing keys again, Rechecks times, each time once
// the target has applied past the source snapshot read; it returns the
// keys that differed every time.
func (v *Verifier) confirm(ctx context.Context, src, dst side, cands []Diff) ([]Diff, error) {
	for range v.opts.Rechecks {
		if len(cands) == 0 {
			return nil, nil
		}
		var next []Diff
		for b := 0; b < len(cands); b += keyBatch {
			batch := cands[b:min(b+keyBatch, len(cands))]
			keys := make([][]string, len(batch))
			for i, d := range batch {
				keys[i] = d.Key
			}
			ds, _, err := v.readDiffs(ctx, src, dst, nil, nil, keys, true)
			if err != nil {
				return nil, err
			}
			next = append(next, ds...)
		}
		cands = next
	}
	return cands, nil
}

// Recheck compares the given keys of a table again (after a repair), the
// same way differences are confirmed; it returns those that still differ.
func (v *Verifier) Recheck(ctx context.Context, p *Table, diffs []Diff) ([]Diff, error) {
	src, dst := v.sides(p)
	if !p.keyed() {
		return v.confirmMultiset(ctx, src, dst, diffs)
	}
	return v.confirm(ctx, src, dst, diffs)
}
