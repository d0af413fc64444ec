package verify

import (
	"context"
	"fmt"
	"strconv"
	"strings"
)

// BackfillWhere is the SQL condition on the source table that selects the
// rows of the given keys (the source values of missing and changed rows),
// for an online back-fill; "" when none of diffs needs one.
func (v *Verifier) BackfillWhere(p *Table, diffs []Diff) string {
	src, _ := v.sides(p)
	var keys []string
	for _, d := range diffs {
		if d.Key != nil && d.Kind != "extra" {
			keys = append(keys, src.lits(d.Key))
		}
	}
	if len(keys) == 0 {
		return ""
	}
	return src.tuple() + " IN (" + strings.Join(keys, ", ") + ")"
}

// DeleteExtra removes from the target the rows the source does not have:
// keyed rows whose key the source lacks, and the surplus copies of rows of
// a keyless table. A back-fill cannot do it (it copies source rows; there
// is none). It runs while the pipeline runs, safely: it first locks the
// pipeline's row in the target's positions table, which the sink updates in
// every transaction it commits, so the target cannot move on; then it
// reads the source in a snapshot taken after that, so at or after the
// target's position. A row the source lacks at that snapshot is either
// wrong in the target or deleted at the source since, and then the
// pipeline's own delete, still to come, finds nothing to do. A row the
// source inserts after the snapshot arrives after the lock is released.
// On a history target the stray current versions are closed instead
// (_current false, _valid_to the time of the repair), their history kept.
// It returns how many rows it deleted (or closed).
func (v *Verifier) DeleteExtra(ctx context.Context, p *Table, diffs []Diff) (int64, error) {
	src, dst := v.sides(p)
	var keys [][]string
	var copies []Diff
	for _, d := range diffs {
		switch {
		case d.Key != nil && d.Kind == "extra":
			keys = append(keys, d.Key)
		case d.Key == nil && d.Target > d.Source:
			copies = append(copies, d)
		}
	}
	if len(keys) == 0 && len(copies) == 0 {
		return 0, nil
	}
	dt, err := dst.e.begin(ctx, false)
	if err != nil {
		return 0, err
	}
	defer dt.rollback()
	positions := v.dst.ident("sluice") + "." + v.dst.ident("positions")
	if _, err := dt.query(ctx, "SELECT position FROM "+positions+" WHERE pipeline = "+v.dst.lit(v.opts.Pipeline)+" FOR UPDATE"); err != nil {
		return 0, fmt.Errorf("lock the pipeline's applied position in the target: %w", err)
	}
	st, _, err := v.snapshot(ctx)
	if err != nil {
		return 0, err
	}
	defer st.rollback()
	var deleted int64
	if len(keys) > 0 {
		have, err := src.hashes(ctx, st, nil, nil, keys)
		if err != nil {
			return 0, err
		}
		var gone [][]string
		for _, k := range keys {
			if _, ok := have[strings.Join(k, "\x00")]; !ok {
				gone = append(gone, k)
			}
		}
		if len(gone) > 0 {
			q := "DELETE FROM " + dst.table + dst.where(nil, nil, gone)
			if p.history {
				// A history target keeps the stray version as history,
				// closed now, as a delete of the key would close it.
				no := "false"
				if dst.e.kind() == "mysql" {
					no = "0"
				}
				q = "UPDATE " + dst.table + " SET " + dst.e.ident("_current") + " = " + no + ", " + dst.e.ident("_valid_to") + " = CURRENT_TIMESTAMP" + dst.where(nil, nil, gone)
			}
			n, err := dt.exec(ctx, q)
			if err != nil {
				return 0, fmt.Errorf("delete rows the source lacks from %s: %w", dst.table, err)
			}
			deleted += n
		}
	}
	if len(copies) > 0 {
		only := make([]string, len(copies))
		for i, d := range copies {
			only[i] = d.hash
		}
		sc, err := src.counts(ctx, st, only)
		if err != nil {
			return 0, err
		}
		dc, err := dst.counts(ctx, dt, only)
		if err != nil {
			return 0, err
		}
		for _, h := range only {
			surplus := dc[h] - sc[h]
			if surplus <= 0 {
				continue
			}
			cond := dst.rowHash() + " = " + h
			if dst.filter != "" {
				cond += " AND (" + dst.filter + ")"
			}
			var q string
			if dst.e.kind() == "postgres" {
				q = "DELETE FROM " + dst.table + " WHERE ctid IN (SELECT ctid FROM " + dst.table + " WHERE " + cond + " LIMIT " + strconv.FormatInt(surplus, 10) + ")"
			} else {
				q = "DELETE FROM " + dst.table + " WHERE " + cond + " LIMIT " + strconv.FormatInt(surplus, 10)
			}
			n, err := dt.exec(ctx, q)
			if err != nil {
				return 0, fmt.Errorf("delete surplus copies of a row from %s: %w", dst.table, err)
			}
			deleted += n
		}
	}
	if err := dt.commit(ctx); err != nil {
		return 0, fmt.Errorf("commit deletes in %s: %w", dst.table, err)
	}
	return deleted, nil
}

// Keyless missing copies cannot be repaired without a key to back-fill.
func MissingCopies(diffs []Diff) int64 {
	var n int64
	for _, d := range diffs {
		if d.Key == nil && d.Source > d.Target {
			n += d.Source - d.Target
		}
	}
	return n
}
