package transform

import (
	"fmt"
	"slices"

	"github.com/sluicecdc/sluice/pkg/change"
)

// rename passes a Rename change (source columns renamed) on under the
// target table's name. A rule that names a renamed column (in include,
// exclude or rename, by its old or new name) is refused: whether the
// target column should follow depends on what the rule meant, which only
// its author knows.
func (s *Set) rename(sh *shape, c *change.Change, emit func(change.Change) error) error {
	renames := c.Renames()
	for i := range s.rules {
		r := &s.rules[i]
		if !c.Table.ID.MatchesAny(r.tables) {
			continue
		}
		for _, rn := range renames {
			for _, name := range []string{rn.From, rn.To} {
				_, renamed := r.cols.Rename[name]
				if slices.Contains(r.cols.Include, name) || slices.Contains(r.cols.Exclude, name) || renamed {
					return fmt.Errorf("%s.columns names column %q of %s, which the source renamed from %q to %q; "+
						"make the rule name the column by its new name %q (and rename the target column by hand if the rule renames it), then start Sluice again",
						r.at, name, c.Table.ID, rn.From, rn.To, rn.To)
				}
			}
		}
	}
	var kept []change.ColumnRename
	for _, rn := range renames {
		i := c.Table.ColumnIndex(rn.From)
		if i >= 0 && sh.cols != nil && !slices.Contains(sh.cols, i) {
			continue // not replicated: the target has no such column
		}
		kept = append(kept, rn)
	}
	if len(kept) == 0 {
		return nil
	}
	return emit(change.NewRename(sh.out, kept))
}
