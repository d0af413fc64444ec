package transform

import (
	"fmt"
	"slices"
	"strings"

	"github.com/sluicecdc/sluice/pkg/change"
)

// shape is what one source table shape becomes.
type shape struct {
	src     *change.Table
	out     *change.Table // src itself when columns and name are unchanged
	cols    []int         // out column i is src column cols[i]; nil: the same columns
	filters []filter      // all must match for a row to reach the target
	values  bool          // errors may quote the row's key values (Options.LogValues)
	// bySchema: the target schema is Options.Schema or SinkSchema, not a
	// rule's target.schema.
	bySchema bool
}

// passThrough tells whether changes of the table go through untouched.
func (sh *shape) passThrough() bool { return sh.out == sh.src && len(sh.filters) == 0 }

// column is one column of a table while the rules reshape it.
type column struct {
	name string
	src  int // index in the source table
}

// build applies every rule that matches t, in order.
func (s *Set) build(t *change.Table) (*shape, error) {
	cur := make([]column, len(t.Columns))
	for i, c := range t.Columns {
		cur[i] = column{name: c.Name, src: i}
	}
	sh := &shape{src: t, values: s.opts.LogValues}
	id := t.ID
	schemaSet := false
	for i := range s.rules {
		r := &s.rules[i]
		if !t.ID.MatchesAny(r.tables) {
			continue
		}
		if r.where != nil {
			f, err := bind(r, t, cur)
			if err != nil {
				return nil, err
			}
			sh.filters = append(sh.filters, f)
		}
		var err error
		if cur, err = r.reshape(t, cur); err != nil {
			return nil, err
		}
		if r.target.Schema != "" {
			id.Schema, schemaSet = r.target.Schema, true
		}
		if r.target.Table != "" {
			id.Name = r.target.Table
		}
	}
	if !schemaSet && s.opts.Schema != "" {
		id.Schema = s.opts.Schema
	}
	sh.bySchema = !schemaSet && (s.opts.Schema != "" || s.opts.SinkSchema != "")
	same := len(cur) == len(t.Columns)
	for i, c := range cur {
		same = same && c.src == i && c.name == t.Columns[i].Name
	}
	if same && id == t.ID {
		sh.out = t
		return sh, nil
	}
	out := &change.Table{ID: id, Identity: t.Identity, Dialect: t.Dialect, Columns: make([]change.Column, len(cur))}
	for i, c := range cur {
		out.Columns[i] = t.Columns[c.src]
		out.Columns[i].Name = c.name
	}
	for _, k := range t.Key {
		i := slices.IndexFunc(cur, func(c column) bool { return c.src == k })
		if i < 0 { // reshape keeps key columns; never drop the key silently
			return nil, fmt.Errorf("transforms: %s lost key column %d (a bug)", t.ID, k)
		}
		out.Key = append(out.Key, i)
	}
	if !same {
		sh.cols = make([]int, len(cur))
		for i, c := range cur {
			sh.cols[i] = c.src
		}
	}
	sh.out = out
	return sh, nil
}

// reshape applies the rule's include, exclude and rename to the columns.
func (r *rule) reshape(t *change.Table, cur []column) ([]column, error) {
	find := func(list, name string) (int, error) {
		i := slices.IndexFunc(cur, func(c column) bool { return c.name == name })
		if i < 0 {
			return -1, fmt.Errorf("%s.columns.%s: %s has no column %q (its columns: %s; fix the name, or the rule's tables)",
				r.at, list, t.ID, name, names(cur))
		}
		return i, nil
	}
	isKey := func(c column) bool { return slices.Contains(t.Key, c.src) }
	if inc := r.cols.Include; len(inc) > 0 {
		keep := make([]bool, len(cur))
		for _, n := range inc {
			i, err := find("include", n)
			if err != nil {
				return nil, err
			}
			keep[i] = true
		}
		var out []column
		for i, c := range cur {
			switch {
			case keep[i]:
				out = append(out, c)
			case isKey(c):
				return nil, fmt.Errorf("%s.columns.include: leaves out %q, part of the primary key of %s; the target needs the key to apply updates and deletes (add it to include)",
					r.at, c.name, t.ID)
			}
		}
		cur = out
	}
	if exc := r.cols.Exclude; len(exc) > 0 {
		drop := make([]bool, len(cur))
		for _, n := range exc {
			i, err := find("exclude", n)
			if err != nil {
				return nil, err
			}
			if isKey(cur[i]) {
				return nil, fmt.Errorf("%s.columns.exclude: %q is part of the primary key of %s; the target needs the key to apply updates and deletes (remove it from exclude)",
					r.at, n, t.ID)
			}
			drop[i] = true
		}
		out := make([]column, 0, len(cur))
		for i, c := range cur {
			if !drop[i] {
				out = append(out, c)
			}
		}
		cur = out
	}
	if len(r.cols.Rename) > 0 {
		out := slices.Clone(cur)
		olds := make([]string, 0, len(r.cols.Rename))
		for old := range r.cols.Rename {
			olds = append(olds, old)
		}
		slices.Sort(olds) // the first error is the same on every run
		for _, old := range olds {
			i, err := find("rename", old)
			if err != nil {
				return nil, err
			}
			out[i].name = r.cols.Rename[old]
		}
		seen := map[string]bool{}
		for _, c := range out {
			if seen[c.name] {
				return nil, fmt.Errorf("%s.columns.rename: %s would have two columns named %q (rename to a name the table does not use, or rename that column too)",
					r.at, t.ID, c.name)
			}
			seen[c.name] = true
		}
		cur = out
	}
	return cur, nil
}

func names(cols []column) string {
	s := make([]string, len(cols))
	for i, c := range cols {
		s[i] = c.name
	}
	return strings.Join(s, ", ")
}

// project returns r in the out table's column order. r is not modified; a
// row shorter than its table (never sent by a correct source) gets Missing
// values rather than a panic.
func (sh *shape) project(r change.Row) change.Row {
	if r == nil || sh.cols == nil {
		return r
	}
	return sh.projectInto(make(change.Row, len(sh.cols)), r)
}

func (sh *shape) projectInto(dst, r change.Row) change.Row {
	dst = dst[:0]
	for _, c := range sh.cols {
		if c < len(r) {
			dst = append(dst, r[c])
		} else {
			dst = append(dst, change.Value{State: change.Missing})
		}
	}
	return dst
}

// keyOnly returns r with every non-key column Missing: the old key of a
// delete made from an update's row.
func (sh *shape) keyOnly(r change.Row) change.Row {
	out := make(change.Row, len(r))
	for i := range out {
		out[i].State = change.Missing
	}
	for _, k := range sh.src.Key {
		if k < len(r) {
			out[k] = r[k]
		}
	}
	return out
}
