package sqlsink

import (
	"github.com/rs/zerolog"

	"github.com/sluicecdc/sluice/pkg/change"
	"github.com/sluicecdc/sluice/pkg/typemap"
)

// SentColumns are the columns a row carries: all but the Unchanged ones,
// which the target keeps. Rows of one upsert share them (one mask).
func SentColumns(r change.Row) []int {
	var cols []int
	for i, v := range r {
		if v.State != change.Unchanged {
			cols = append(cols, i)
		}
	}
	return cols
}

// Pick returns the names at the indexes idx.
func Pick(names []string, idx []int) []string {
	out := make([]string, len(idx))
	for i, j := range idx {
		out[i] = names[j]
	}
	return out
}

// RowConds are the conditions that match a row equal to before in every
// source column (the first nsrc of cols) it carries: keyless tables, where
// duplicates are legal and one change touches one row. With soft deletes
// (softDel, the deleted-at column's index, >= 0) only live rows match. eq
// is the condition that column i equals v, in the dialect.
func RowConds(cols []string, nsrc, softDel int, before change.Row, eq func(i int, v change.Value) (string, error)) ([]string, error) {
	var conds []string
	if softDel >= 0 {
		conds = append(conds, cols[softDel]+" IS NULL")
	}
	for i, v := range before[:min(len(before), nsrc)] {
		switch v.State {
		case change.Null:
			conds = append(conds, cols[i]+" IS NULL")
		case change.Present:
			c, err := eq(i, v)
			if err != nil {
				return nil, err
			}
			conds = append(conds, c)
		}
	}
	return conds, nil
}

// NewConverter turns other dialects' tables and values into dialect to's,
// logging the first value per column that a documented rule changed (e.g.
// NaN into MySQL), and quoting values in errors only when values allows
// (log.values).
func NewConverter(to change.Dialect, log zerolog.Logger, values bool) *typemap.Converter {
	c := typemap.New(to)
	c.HideValues = !values
	c.Warn = typemap.WarnOnce(func(t change.TableID, column, msg string) {
		log.Warn().Str("table", t.String()).Str("column", column).Msg(msg + " (further values of this column are not logged)")
	})
	return c
}
