package change

import (
	"path"
	"strings"
)

// MatchesAny tells whether one of the schema.table patterns picks the
// table: path.Match globs (*, ?, [...]) on the schema and on the table
// name, as source.tables, source.exclude and transforms' tables use them.
// A pattern without a dot picks nothing.
func (id TableID) MatchesAny(patterns []string) bool {
	for _, p := range patterns {
		ps, pt, ok := strings.Cut(p, ".")
		if !ok {
			continue
		}
		ms, _ := path.Match(ps, id.Schema)
		mt, _ := path.Match(pt, id.Name)
		if ms && mt {
			return true
		}
	}
	return false
}
