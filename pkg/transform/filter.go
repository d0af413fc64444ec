package transform

import (
	"fmt"
	"slices"
	"strings"

	"github.com/sluicecdc/sluice/pkg/change"
	"github.com/sluicecdc/sluice/pkg/transform/where"
)

// filter is one rule's where, bound to a source table's columns.
type filter struct {
	at   string
	expr *where.Expr
	vars []binding
}

// binding is one variable of an expression: the column it reads.
type binding struct {
	name string // as the expression names it
	col  int    // index in the source row
}

// bind resolves the rule's where variables against the columns as they are
// when the rule runs.
func bind(r *rule, t *change.Table, cur []column) (filter, error) {
	f := filter{at: r.at, expr: r.where}
	if r.where.AllVars() {
		for _, c := range cur {
			f.vars = append(f.vars, binding{name: c.name, col: c.src})
		}
	}
	for _, name := range r.where.Vars() {
		i := slices.IndexFunc(cur, func(c column) bool { return c.name == name })
		if i < 0 {
			if r.where.AllVars() {
				continue // $env may sit beside let-names or map keys it does not read
			}
			return filter{}, fmt.Errorf("%s.where: %s has no column %q (its columns: %s; fix the expression, or the rule's tables)",
				r.at, t.ID, name, names(cur))
		}
		if !slices.ContainsFunc(f.vars, func(b binding) bool { return b.name == name }) {
			f.vars = append(f.vars, binding{name: name, col: cur[i].src})
		}
	}
	return f, nil
}

// verdict is what the filters say about one row image.
type verdict uint8

const (
	unknown verdict = iota // a value the filters need is not in the image
	no
	yes
)

// test runs every filter on source row r. A value r lacks (Unchanged or
// Missing) is taken from fallback when that holds it (an update's full
// before image). Any filter saying no is a no; otherwise a filter that
// lacks a value makes the verdict unknown, and lack names that column.
func (sh *shape) test(r, fallback change.Row) (v verdict, lack string, err error) {
	v = yes
	for i := range sh.filters {
		f := &sh.filters[i]
		env := make(map[string]any, len(f.vars))
		missing := ""
		for _, b := range f.vars {
			val, ok := valueAt(r, fallback, b.col)
			if !ok {
				missing = b.name
				break
			}
			x, err := where.Var(sh.src.Dialect, &sh.src.Columns[b.col], val)
			if err != nil {
				return no, "", fmt.Errorf("%s.where on %s: column %s (%s) %v", f.at, sh.src.ID, b.name, sh.src.Columns[b.col].Type, err)
			}
			env[b.name] = x
		}
		if missing != "" {
			v, lack = unknown, missing
			continue
		}
		ok, err := f.expr.Match(env)
		if err != nil {
			return no, "", fmt.Errorf("%s.where on %s (row %s): %v", f.at, sh.src.ID, sh.keyText(r, fallback, sh.values), err)
		}
		if !ok {
			return no, "", nil
		}
	}
	return v, lack, nil
}

// valueAt is column col of r, or of fallback when r does not hold it.
func valueAt(r, fallback change.Row, col int) (change.Value, bool) {
	for _, row := range []change.Row{r, fallback} {
		if col < len(row) && (row[col].State == change.Present || row[col].State == change.Null) {
			return row[col], true
		}
	}
	return change.Value{}, false
}

// keyText renders a row's key for a message: "id=42" with show,
// otherwise the key columns only ("with key id; ...").
func (sh *shape) keyText(r, fallback change.Row, show bool) string {
	if len(sh.src.Key) == 0 {
		return "without a key"
	}
	parts := make([]string, 0, len(sh.src.Key))
	for _, k := range sh.src.Key {
		if !show {
			parts = append(parts, sh.src.Columns[k].Name)
			continue
		}
		val, _ := valueAt(r, fallback, k)
		parts = append(parts, sh.src.Columns[k].Name+"="+val.String())
	}
	if !show {
		return "with key " + strings.Join(parts, ", ") + "; values not logged, set log.values: true to see them"
	}
	return strings.Join(parts, ", ")
}
