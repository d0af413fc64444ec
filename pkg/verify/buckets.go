package verify

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/sync/errgroup"

	"github.com/sluicecdc/sluice/pkg/change"
)

const (
	bucketRows  = 1000 // rows per hash bucket aimed at
	leafBuckets = 20   // differing buckets whose rows are read at once
)

// Key ranges need both servers to order keys alike. Across engines a text
// key does not (MariaDB's collations ignore case and accents, PostgreSQL's
// differ again; MariaDB orders uuid by other bytes): a range bound from
// the source would select other rows on the target, and rows could fall
// into no range there at all. Such tables are chunked by a hash of the
// key's canonical text instead, which both servers compute alike: one
// aggregate per side gives every bucket's count and hash sum at once, and
// only the rows of a bucket whose sums differ are read (key and hash).
// The price: each reading scans the whole table in one snapshot.

// buckets compares a keyed table by hash buckets of the key.
func (v *Verifier) buckets(ctx context.Context, p *Table, r *Result) error {
	src, dst := v.sides(p)
	n, err := src.count(ctx)
	if err != nil {
		return err
	}
	nb := max(1, n/bucketRows)
	bucket := func(s side) string { return "(" + s.keyHashSQL() + ") % " + strconv.FormatInt(nb, 10) }
	ss, ds, pos, err := v.bucketSums(ctx, src, dst, bucket, nil)
	if err != nil {
		return err
	}
	r.Chunks = int(nb)
	for _, s := range ss {
		r.Rows += s.n
	}
	if v.opts.Progress != nil {
		v.opts.Progress(r.Table, r.Rows)
	}
	diff := differing(ss, ds)
	if len(diff) == 0 {
		return nil
	}
	if _, err := v.waitFor(ctx, pos); err != nil {
		return err
	}
	if ss, ds, _, err = v.bucketSums(ctx, src, dst, bucket, diff); err != nil {
		return err
	}
	again := differing(ss, ds)
	r.Rechecked = len(diff) - len(again)
	// The rows of up to leafBuckets differing buckets per reading: each
	// reading scans the table.
	for i := 0; i < len(again); i += leafBuckets {
		bs := strings.Join(again[i:min(i+leafBuckets, len(again))], ", ")
		sb, db := src, dst
		sb.cond = bucket(src) + " IN (" + bs + ")"
		db.cond = bucket(dst) + " IN (" + bs + ")"
		cands, err := v.leaf(ctx, sb, db, nil, nil)
		if err != nil {
			return err
		}
		diffs, unsure, err := v.confirm(ctx, src, dst, cands)
		if err != nil {
			return err
		}
		v.addDiffs(r, diffs)
		v.addUnsure(r, unsure)
	}
	return nil
}

// count is the number of rows of the side.
func (s side) count(ctx context.Context) (int64, error) {
	t, err := s.e.begin(ctx, false)
	if err != nil {
		return 0, err
	}
	defer t.rollback()
	rows, err := t.query(ctx, "SELECT count(*) FROM "+s.table+s.where(nil, nil, nil))
	if err != nil {
		return 0, fmt.Errorf("count rows of %s: %w", s.table, err)
	}
	return strconv.ParseInt(one(rows), 10, 64)
}

// bucketSums reads every bucket's sums (only those of the buckets in only,
// when set) on both servers, as sums does for a range.
func (v *Verifier) bucketSums(ctx context.Context, src, dst side, bucket func(side) string, only []string) (s, d map[string]sum, pos change.Position, err error) {
	st, pos, err := v.snapshot(ctx)
	if err != nil {
		return nil, nil, nil, err
	}
	defer st.rollback()
	dt, err := dst.e.begin(ctx, true)
	if err != nil {
		return nil, nil, nil, err
	}
	defer dt.rollback()
	var g errgroup.Group
	g.Go(func() (err error) { s, err = src.bucketSums(ctx, st, bucket(src), only); return err })
	g.Go(func() (err error) { d, err = dst.bucketSums(ctx, dt, bucket(dst), only); return err })
	err = g.Wait()
	return s, d, pos, err
}

func (s side) bucketSums(ctx context.Context, t tx, bucket string, only []string) (map[string]sum, error) {
	if only != nil {
		s.cond = bucket + " IN (" + strings.Join(only, ", ") + ")"
	}
	q := "SELECT " + bucket + " AS b, count(*), " + s.e.sum(s.rowHash()) + " FROM " + s.table + s.where(nil, nil, nil) + " GROUP BY 1"
	rows, err := t.query(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("sum hash buckets of %s: %w", s.table, err)
	}
	out := make(map[string]sum, len(rows))
	for _, r := range rows {
		n, err := strconv.ParseInt(deref(r[1]), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("sum hash buckets of %s: row count %q: %w", s.table, deref(r[1]), err)
		}
		out[deref(r[0])] = sum{n: n, hash: deref(r[2])}
	}
	return out, nil
}

// differing lists the buckets whose sums differ, sorted.
func differing(s, d map[string]sum) []string {
	var out []string
	for b, x := range s {
		if d[b] != x {
			out = append(out, b)
		}
	}
	for b := range d {
		if _, ok := s[b]; !ok {
			out = append(out, b)
		}
	}
	slices.Sort(out)
	return out
}

// whole compares a cross-engine table hashed in Sluice whose key does not
// order alike on both servers: all of it as one range, key by key (every
// row's key and hash held in memory once).
func (v *Verifier) whole(ctx context.Context, p *Table, r *Result) error {
	src, dst := v.sides(p)
	r.Chunks = 1
	n, err := src.count(ctx)
	if err != nil {
		return err
	}
	r.Rows = n
	cands, err := v.leaf(ctx, src, dst, nil, nil)
	if err != nil {
		return err
	}
	diffs, unsure, err := v.confirm(ctx, src, dst, cands)
	if err != nil {
		return err
	}
	v.addDiffs(r, diffs)
	v.addUnsure(r, unsure)
	return nil
}
