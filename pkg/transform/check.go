package transform

import (
	"fmt"
	"slices"
	"strings"

	"github.com/sluicecdc/sluice/pkg/change"
)

// CheckTables checks the rules against the current shapes of the source's
// tables, as sluice check does before anything runs: every problem a change
// of these tables would stop the pipeline with (a column a rule names that
// is missing, a key column dropped, a where on a column that is not there,
// two tables sent to one target), and every pattern of a rule that matches
// none of the tables (a rule that would never apply is most likely a
// typo). It leaves the Set's cache alone.
func (s *Set) CheckTables(tables []*change.Table) []string {
	var problems []string
	into := map[change.TableID]claimant{}
	for _, t := range tables {
		sh, err := s.build(t)
		if err != nil {
			problems = append(problems, err.Error())
			continue
		}
		if err := s.claim(into, sh); err != nil {
			problems = append(problems, err.Error())
		}
	}
	for _, r := range s.rules {
		for _, p := range r.tables {
			if !slices.ContainsFunc(tables, func(t *change.Table) bool { return t.ID.MatchesAny([]string{p}) }) {
				problems = append(problems, fmt.Sprintf("%s.tables: %q matches none of the replicated tables (%s); check the pattern against source.tables and source.exclude",
					r.at, p, tableList(tables)))
			}
		}
	}
	return problems
}

// tableList names up to five tables, for messages.
func tableList(tables []*change.Table) string {
	if len(tables) == 0 {
		return "none"
	}
	var names []string
	for i, t := range tables {
		if i == 5 {
			names = append(names, fmt.Sprintf("and %d more", len(tables)-5))
			break
		}
		names = append(names, t.ID.String())
	}
	return strings.Join(names, ", ")
}
