package transform

import (
	"fmt"
	"slices"

	"github.com/sluicecdc/sluice/pkg/change"
)

// rename passes a Rename change (source columns renamed) on under the
// target table's name, for the columns the target has under their source
// names:
//
//   - a rule that still names the old column (in include, exclude or
//     rename) is refused, naming the rule and the fix: whether the target
//     column should follow depends on what the rule meant, which only its
//     author knows. The statement is read again after the restart.
//   - a rule that renames or excludes the column by its new name (the fix)
//     keeps the target as it is: the rename is dropped.
//   - a column a rule leaves out is not in the target: dropped too.
func (s *Set) rename(sh *shape, c *change.Change, emit func(change.Change) error) error {
	var kept []change.ColumnRename
	for _, rn := range c.Renames() {
		keep := true
		for i := range s.rules {
			r := &s.rules[i]
			if !c.Table.ID.MatchesAny(r.tables) {
				continue
			}
			if _, renamed := r.cols.Rename[rn.From]; renamed || slices.Contains(r.cols.Include, rn.From) || slices.Contains(r.cols.Exclude, rn.From) {
				return fmt.Errorf("%s.columns names column %q of %s, which the source renamed to %q; "+
					"make the rule name the column by its new name %q (the target column keeps the name the rule gives it), then start Sluice again",
					r.at, rn.From, c.Table.ID, rn.To, rn.To)
			}
			if _, renamed := r.cols.Rename[rn.To]; renamed || slices.Contains(r.cols.Exclude, rn.To) {
				keep = false
			}
		}
		if i := c.Table.ColumnIndex(rn.From); i >= 0 && sh.cols != nil && !slices.Contains(sh.cols, i) {
			keep = false // not replicated: the target has no such column
		}
		if keep {
			kept = append(kept, rn)
		}
	}
	if len(kept) == 0 {
		return nil
	}
	return emit(change.NewRename(sh.out, kept))
}
