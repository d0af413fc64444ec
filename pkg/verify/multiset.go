package verify

import (
	"context"
	"slices"
	"strings"
)

// multiset compares a table without a key as a multiset of rows: the sums
// over the whole table, and on a difference the count of every row hash.
// Its differences are rows (their canonical text) with how often each side
// holds them. The difference path reads one hash and count per distinct
// row on both sides; the equal path, two numbers.
func (v *Verifier) multiset(ctx context.Context, p *Table, r *Result) error {
	src, dst := v.sides(p)
	r.Chunks = 1
	s, d, pos, err := v.sums(ctx, src, dst, nil, nil)
	r.Rows = s.n
	if err != nil || s == d {
		return err
	}
	if _, err := v.waitFor(ctx, pos); err != nil {
		return err
	}
	if s, d, _, err = v.sums(ctx, src, dst, nil, nil); err != nil || s == d {
		r.Rechecked = 1
		return err
	}
	cands, err := v.countDiffs(ctx, src, dst, nil, false)
	if err != nil {
		return err
	}
	diffs, err := v.confirmMultiset(ctx, src, dst, cands)
	if err != nil {
		return err
	}
	for i := range diffs {
		d := &diffs[i]
		by := src
		if d.Target > d.Source {
			by = dst
		}
		t, err := by.e.begin(ctx, false)
		if err != nil {
			return err
		}
		d.Row, err = by.rowWithHash(ctx, t, d.hash)
		t.rollback()
		if err != nil {
			return err
		}
	}
	v.addDiffs(r, diffs)
	return nil
}

// countDiffs reads the row hash counts of both sides (only the hashes
// given, when set), the source's in a snapshot; with wait, the target's once
// it has applied past it.
func (v *Verifier) countDiffs(ctx context.Context, src, dst side, only []string, wait bool) ([]Diff, error) {
	st, pos, err := v.snapshot(ctx)
	if err != nil {
		return nil, err
	}
	sc, err := src.counts(ctx, st, only)
	st.rollback()
	if err != nil {
		return nil, err
	}
	if wait {
		if _, err := v.waitFor(ctx, pos); err != nil {
			return nil, err
		}
	}
	dt, err := dst.e.begin(ctx, true)
	if err != nil {
		return nil, err
	}
	dc, err := dst.counts(ctx, dt, only)
	dt.rollback()
	if err != nil {
		return nil, err
	}
	var out []Diff
	add := func(h string) {
		a, b := sc[h], dc[h]
		if a == b {
			return
		}
		kind := "missing"
		if b > a {
			kind = "extra"
		}
		out = append(out, Diff{Kind: kind, Source: a, Target: b, hash: h})
	}
	for h := range sc {
		add(h)
	}
	for h := range dc {
		if _, ok := sc[h]; !ok {
			add(h)
		}
	}
	slices.SortFunc(out, func(a, b Diff) int { return strings.Compare(a.hash, b.hash) })
	return out, nil
}

// confirmMultiset compares the differing row counts again, Rechecks times.
func (v *Verifier) confirmMultiset(ctx context.Context, src, dst side, cands []Diff) ([]Diff, error) {
	for range v.opts.Rechecks {
		if len(cands) == 0 {
			return nil, nil
		}
		var next []Diff
		for b := 0; b < len(cands); b += keyBatch {
			batch := cands[b:min(b+keyBatch, len(cands))]
			only := make([]string, len(batch))
			for i, d := range batch {
				only[i] = d.hash
			}
			ds, err := v.countDiffs(ctx, src, dst, only, true)
			if err != nil {
				return nil, err
			}
			next = append(next, ds...)
		}
		rows := map[string]string{}
		for _, d := range cands {
			rows[d.hash] = d.Row
		}
		for i := range next {
			next[i].Row = rows[next[i].hash]
		}
		cands = next
	}
	return cands, nil
}
