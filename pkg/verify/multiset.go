package verify

import (
	"context"
	"slices"
	"strings"
	"time"
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
	cands, err := v.countDiffs(ctx, src, dst)
	if err != nil {
		return err
	}
	diffs, unsure, err := v.confirmMultiset(ctx, src, dst, cands)
	if err != nil {
		return err
	}
	v.addUnsure(r, unsure)
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

// countDiffs reads the row hash counts of both sides once: the
// candidates confirmMultiset checks.
func (v *Verifier) countDiffs(ctx context.Context, src, dst side) ([]Diff, error) {
	st, _, err := v.snapshot(ctx)
	if err != nil {
		return nil, err
	}
	sc, err := src.counts(ctx, st, nil)
	st.rollback()
	if err != nil {
		return nil, err
	}
	dt, err := dst.e.begin(ctx, true)
	if err != nil {
		return nil, err
	}
	dc, err := dst.counts(ctx, dt, nil)
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

// confirmMultiset reads the differing rows' counts again, bracketed by
// two source snapshots as bracket does for keys: a count that is the same
// in both source readings must be the target's at the position between.
// A row found different in Rechecks such readings is reported; rows whose
// count kept changing until Options.Wait ran out are unsure.
func (v *Verifier) confirmMultiset(ctx context.Context, src, dst side, cands []Diff) (differ, unsure []Diff, err error) {
	deadline := time.Now().Add(v.opts.Wait)
	for len(cands) > 0 {
		if time.Now().After(deadline) {
			return differ, cands, nil
		}
		var next []Diff
		for b := 0; b < len(cands); b += keyBatch {
			batch := cands[b:min(b+keyBatch, len(cands))]
			only := make([]string, len(batch))
			for i, d := range batch {
				only[i] = d.hash
			}
			c1, dc, c2, ok, err := v.bracketCounts(ctx, src, dst, only)
			if err != nil {
				return nil, nil, err
			}
			for _, d := range batch {
				h := d.hash
				switch {
				case !ok || c1[h] != c2[h]:
					next = append(next, d)
				case c2[h] == dc[h]:
					// equal
				default:
					d.Source, d.Target, d.Kind = c2[h], dc[h], "missing"
					if dc[h] > c2[h] {
						d.Kind = "extra"
					}
					if d.sure++; d.sure >= v.opts.Rechecks {
						differ = append(differ, d)
					} else {
						next = append(next, d)
					}
				}
			}
		}
		cands = next
	}
	sortDiffs(differ)
	return differ, nil, nil
}

// bracketCounts reads the hashes' counts in the source, in the target once
// it has applied past that, and in the source again; ok is false when the
// target did not get there in time.
func (v *Verifier) bracketCounts(ctx context.Context, src, dst side, only []string) (c1, dc, c2 map[string]int64, ok bool, err error) {
	st, pos, err := v.snapshot(ctx)
	if err != nil {
		return nil, nil, nil, false, err
	}
	c1, err = src.counts(ctx, st, only)
	st.rollback()
	if err != nil {
		return nil, nil, nil, false, err
	}
	if ok, err = v.waitFor(ctx, pos); err != nil || !ok {
		return nil, nil, nil, false, err
	}
	dt, at, err := v.targetSnapshot(ctx)
	if err != nil {
		return nil, nil, nil, false, err
	}
	if at == nil || pos.Compare(at) > 0 {
		dt.rollback()
		return nil, nil, nil, false, nil
	}
	dc, err = dst.counts(ctx, dt, only)
	dt.rollback()
	if err != nil {
		return nil, nil, nil, false, err
	}
	st2, err := src.e.begin(ctx, true)
	if err != nil {
		return nil, nil, nil, false, err
	}
	c2, err = src.counts(ctx, st2, only)
	st2.rollback()
	return c1, dc, c2, err == nil, err
}
