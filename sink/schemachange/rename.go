package schemachange

import (
	"fmt"
	"strings"

	"github.com/sluicecdc/sluice/pkg/change"
)

// Renames decides which of a source statement's column renames (all
// applied at once, so a name may move to another column in the same
// statement: a swap) a target table still needs. has tells whether the
// target has a column; fold compares names regardless of case (MySQL).
//
// A rename whose old column the target lacks is passed over: it was
// applied already (a replay), or the column is not replicated. A rename
// onto a name the target holds, and which no rename of the set vacates,
// is an error naming the fix. Names alone cannot tell a replayed swap (a
// new name that is another rename's old one) from one not applied yet:
// sinks apply a rename atomically with its position where they can.
func Renames(table string, renames []change.ColumnRename, has func(string) bool, fold bool) ([]change.ColumnRename, error) {
	key := func(s string) string {
		if fold {
			return strings.ToLower(s)
		}
		return s
	}
	var todo []change.ColumnRename
	vacated := map[string]bool{}
	for _, r := range renames {
		vacated[key(r.From)] = true
	}
	for _, r := range renames {
		if !has(r.From) {
			continue
		}
		same := key(r.From) == key(r.To)
		if has(r.To) && !vacated[key(r.To)] && !same {
			return nil, fmt.Errorf("rename column %s of target table %s to %s as the source did: the target has a column %s already; drop or rename one of them by hand, then start Sluice again",
				r.From, table, r.To, r.To)
		}
		todo = append(todo, r)
	}
	return todo, nil
}

// Renamed returns a copy of t with the renames applied (all at once), so
// that a sink's memory of the table's earlier shape still finds a column
// under its new name: a CHANGE that renames and narrows is then told as
// a narrowing. nil stays nil.
func Renamed(t *change.Table, renames []change.ColumnRename) *change.Table {
	if t == nil {
		return nil
	}
	out := *t
	out.Columns = append([]change.Column(nil), t.Columns...)
	for i, c := range t.Columns {
		for _, r := range renames {
			if c.Name == r.From || t.Dialect == change.MySQL && strings.EqualFold(c.Name, r.From) {
				out.Columns[i].Name = r.To
				break
			}
		}
	}
	return &out
}
