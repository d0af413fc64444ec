package verify

import (
	"context"
	"slices"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/sluicecdc/sluice/pkg/change"
)

const (
	firstChunk = 1000    // rows in a table's first chunk
	minChunk   = 1000    // adaptive chunk size bounds
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
		rows, diffs, unsure, rechecked, err := v.chunk(ctx, src, dst, lo, hi)
		if err != nil {
			return err
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
	// Both servers work at once; the target's snapshot starts after the
	// source's, so it is never the one ahead.
	st, pos, err := v.snapshot(ctx)
	if err != nil {
		return s, d, nil, err
	}
	defer st.rollback()
	dt, err := dst.e.begin(ctx, true)
	if err != nil {
		return s, d, nil, err
	}
	defer dt.rollback()
	var g errgroup.Group
	g.Go(func() (err error) { s, err = src.sum(ctx, st, lo, hi); return err })
	g.Go(func() (err error) { d, err = dst.sum(ctx, dt, lo, hi); return err })
	err = g.Wait()
	return s, d, pos, err
}

// chunk compares the range (lo, hi]; differences are those that persist.
func (v *Verifier) chunk(ctx context.Context, src, dst side, lo, hi []string) (rows int64, diffs, unsure []Diff, rechecked bool, err error) {
	s, d, pos, err := v.sums(ctx, src, dst, lo, hi)
	if err != nil || s == d {
		return s.n, nil, nil, false, err
	}
	// The target may just be behind: compare again once it has applied
	// past the snapshot.
	if _, err := v.waitFor(ctx, pos); err != nil {
		return s.n, nil, nil, false, err
	}
	if s, d, _, err = v.sums(ctx, src, dst, lo, hi); err != nil || s == d {
		return s.n, nil, nil, true, err
	}
	cands, err := v.bisect(ctx, src, dst, lo, hi, s, d)
	if err != nil {
		return s.n, nil, nil, false, err
	}
	diffs, unsure, err = v.confirm(ctx, src, dst, cands)
	return s.n, diffs, unsure, len(diffs)+len(unsure) == 0, err
}

// bisect splits a differing range until its parts are small enough to
// compare row hashes key by key, and returns the keys that differ.
func (v *Verifier) bisect(ctx context.Context, src, dst side, lo, hi []string, s, d sum) ([]Diff, error) {
	if max(s.n, d.n) <= leafRows {
		return v.leaf(ctx, src, dst, lo, hi)
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
		return v.leaf(ctx, src, dst, lo, hi)
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

// leaf compares the rows of (lo, hi] key by key, once: the candidates
// confirm then checks.
func (v *Verifier) leaf(ctx context.Context, src, dst side, lo, hi []string) ([]Diff, error) {
	st, _, err := v.snapshot(ctx)
	if err != nil {
		return nil, err
	}
	sh, err := src.hashes(ctx, st, lo, hi, nil)
	st.rollback()
	if err != nil {
		return nil, err
	}
	dt, err := dst.e.begin(ctx, true)
	if err != nil {
		return nil, err
	}
	dh, err := dst.hashes(ctx, dt, lo, hi, nil)
	dt.rollback()
	if err != nil {
		return nil, err
	}
	var out []Diff
	for k, a := range sh {
		if kind := diffKind(a, true, dh[k], dh[k].key != nil); kind != "" {
			out = append(out, Diff{Key: a.key, Kind: kind})
		}
	}
	for k, b := range dh {
		if _, ok := sh[k]; !ok {
			out = append(out, Diff{Key: b.key, Kind: "extra"})
		}
	}
	sortDiffs(out)
	return out, nil
}

func diffKind(a keyHash, inSrc bool, b keyHash, inDst bool) string {
	switch {
	case inSrc && !inDst:
		return "missing"
	case !inSrc && inDst:
		return "extra"
	case inSrc && inDst && a.hash != b.hash:
		return "changed"
	}
	return ""
}

func sortDiffs(ds []Diff) {
	slices.SortFunc(ds, func(a, b Diff) int {
		if c := strings.Compare(strings.Join(a.Key, "\x00"), strings.Join(b.Key, "\x00")); c != 0 {
			return c
		}
		return strings.Compare(a.hash, b.hash)
	})
}

// outcome is what one bracketed reading says about a key.
type outcome uint8

const (
	same    outcome = iota // the target equals the source
	moving                 // the source changed the row during the reading: no verdict
	differs                // the source row stood still and the target differs
)

// bracket reads the keys' rows in the source (snapshot S1), in the target
// once it has applied past S1 (at T, read in the same target snapshot as
// the rows: the sink writes its position in the same transaction as the
// data, so T is exact), and in the source again (S2, after T). A row
// that is the same version in S1 and S2 was that version at T too, so the
// target must hold it: that comparison is exact, however busy the source
// is. A row that changed between S1 and S2 gets no verdict (moving).
// Versions are PostgreSQL's xmin; on MySQL the row hash stands for it (a
// row changed and changed back in between is taken as unchanged: a
// difference must be found in Rechecks such readings to be reported).
func (v *Verifier) bracket(ctx context.Context, src, dst side, keys [][]string) (map[string]outcome, map[string]string, error) {
	st, pos, err := v.snapshot(ctx)
	if err != nil {
		return nil, nil, err
	}
	s1, err := src.hashes(ctx, st, nil, nil, keys)
	st.rollback()
	if err != nil {
		return nil, nil, err
	}
	out := make(map[string]outcome, len(keys))
	kinds := map[string]string{}
	allMoving := func() (map[string]outcome, map[string]string, error) {
		for _, k := range keys {
			out[strings.Join(k, "\x00")] = moving
		}
		return out, kinds, nil
	}
	if ok, err := v.waitFor(ctx, pos); err != nil || !ok {
		if err != nil {
			return nil, nil, err
		}
		return allMoving()
	}
	dt, at, err := v.targetSnapshot(ctx)
	if err != nil {
		return nil, nil, err
	}
	if at == nil || pos.Compare(at) > 0 {
		dt.rollback()
		return allMoving()
	}
	d, err := dst.hashes(ctx, dt, nil, nil, keys)
	dt.rollback()
	if err != nil {
		return nil, nil, err
	}
	st2, err := src.e.begin(ctx, true)
	if err != nil {
		return nil, nil, err
	}
	s2, err := src.hashes(ctx, st2, nil, nil, keys)
	st2.rollback()
	if err != nil {
		return nil, nil, err
	}
	for _, key := range keys {
		k := strings.Join(key, "\x00")
		a1, in1 := s1[k]
		a2, in2 := s2[k]
		b, inD := d[k]
		switch {
		case in1 != in2 || a1.hash != a2.hash || a1.version != a2.version:
			out[k] = moving
		case diffKind(a2, in2, b, inD) == "":
			out[k] = same
		default:
			out[k] = differs
			kinds[k] = diffKind(a2, in2, b, inD)
		}
	}
	return out, kinds, nil
}

// targetSnapshot opens a snapshot on the target and reads, in it, the
// position the target holds.
func (v *Verifier) targetSnapshot(ctx context.Context) (tx, change.Position, error) {
	t, err := v.dst.begin(ctx, true)
	if err != nil {
		return nil, nil, err
	}
	pos, err := v.readApplied(ctx, t)
	if err != nil {
		t.rollback()
		return nil, nil, err
	}
	return t, pos, nil
}

// confirm reads differing keys again, bracketed (see bracket), until each
// is found equal, or found different in Rechecks readings in which its
// source row stood still. Keys whose rows kept changing until Options.Wait
// ran out are returned as unsure.
func (v *Verifier) confirm(ctx context.Context, src, dst side, cands []Diff) (differ, unsure []Diff, err error) {
	deadline := time.Now().Add(v.opts.Wait)
	for len(cands) > 0 {
		if time.Now().After(deadline) {
			return differ, cands, nil
		}
		var next []Diff
		for b := 0; b < len(cands); b += keyBatch {
			batch := cands[b:min(b+keyBatch, len(cands))]
			keys := make([][]string, len(batch))
			for i, d := range batch {
				keys[i] = d.Key
			}
			res, kinds, err := v.bracket(ctx, src, dst, keys)
			if err != nil {
				return nil, nil, err
			}
			for _, d := range batch {
				k := strings.Join(d.Key, "\x00")
				switch res[k] {
				case moving:
					next = append(next, d)
				case differs:
					d.Kind = kinds[k]
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

// Recheck compares the given keys of a table again (after a repair), the
// same way differences are confirmed; it returns those that still differ.
func (v *Verifier) Recheck(ctx context.Context, p *Table, diffs []Diff) (differ, unsure []Diff, err error) {
	src, dst := v.sides(p)
	for i := range diffs {
		diffs[i].sure = 0
	}
	if !p.keyed() {
		return v.confirmMultiset(ctx, src, dst, diffs)
	}
	return v.confirm(ctx, src, dst, diffs)
}
