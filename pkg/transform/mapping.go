package transform

import (
	"github.com/sluicecdc/sluice/pkg/change"
	"github.com/sluicecdc/sluice/pkg/transform/where"
)

// Mapping is how a source table reaches its target, for readers that
// compare the two (sluice verify): the target shape, the source column of
// every target column, and the row filters.
type Mapping struct {
	Target  *change.Table // the transformed shape (the source table when nothing changes it)
	Columns []int         // target column i is source column Columns[i]
	Filters []Filter      // all must match for a source row to reach the target
}

// Filter is one rule's where, with the source column each of its
// variables reads.
type Filter struct {
	Expr *where.Expr
	Vars map[string]int // variable name → index in the source row
}

// Map returns how source table t reaches its target.
func (s *Set) Map(t *change.Table) (Mapping, error) {
	sh, err := s.shape(t)
	if err != nil {
		return Mapping{}, err
	}
	m := Mapping{Target: sh.out, Columns: sh.cols}
	if m.Columns == nil {
		m.Columns = make([]int, len(t.Columns))
		for i := range m.Columns {
			m.Columns[i] = i
		}
	}
	for _, f := range sh.filters {
		v := make(map[string]int, len(f.vars))
		for _, b := range f.vars {
			v[b.name] = b.col
		}
		m.Filters = append(m.Filters, Filter{Expr: f.expr, Vars: v})
	}
	return m, nil
}
