package verify

import (
	"fmt"
	"strings"
	"sync/atomic"

	"github.com/sluicecdc/sluice/pkg/change"
	"github.com/sluicecdc/sluice/pkg/transform"
)

// Mode is the sink mode of the target tables, with what decides which
// target rows are the ones to compare.
type Mode struct {
	Name       string // merge | history | append
	SoftDelete string // merge: the soft-delete column ("" when deletes remove rows)
}

// Table is what verify compares for one source table: source columns and
// the target columns they become, the key, and the row filters on each side.
type Table struct {
	Source, Target change.TableID
	SrcCols        []string // compared columns on the source ...
	DstCols        []string // ... and their names on the target, pairwise
	Types          []string // the source columns' types
	Key            []int    // indexes into SrcCols of the key columns; empty: no key (multiset)
	SrcFilter      string   // SQL on the source: the rows the target should hold ("" = all), from the transforms' where
	DstFilter      string   // SQL on the target: the rows that mirror source rows (soft deletes and old versions left out)
	Skip           string   // why the table is not compared ("" = it is)
	cross          *cross   // across engines: how values are canonicalised (nil: same engine)
	fetched        *atomic.Int64
	history        bool // the target keeps versions: a stray one is closed, not deleted
}

// Plan works out how source table t is compared with its target, given
// its mapping through the transforms (nil set: none) and the sink mode.
// sinkSchema is the schema the sink puts every table into ("" = none).
func Plan(src, dst engine, t *change.Table, set *transform.Set, sinkSchema string, m Mode) (*Table, error) {
	p := &Table{Source: t.ID, Target: t.ID, fetched: new(atomic.Int64)}
	var mp transform.Mapping
	if set != nil {
		var err error
		if mp, err = set.Map(t); err != nil {
			return nil, err
		}
	} else {
		mp = transform.Mapping{Target: t}
		for i := range t.Columns {
			mp.Columns = append(mp.Columns, i)
		}
	}
	p.Target = mp.Target.ID
	if sinkSchema != "" {
		p.Target.Schema = sinkSchema
	}
	for i, si := range mp.Columns {
		p.SrcCols = append(p.SrcCols, t.Columns[si].Name)
		p.DstCols = append(p.DstCols, mp.Target.Columns[i].Name)
		p.Types = append(p.Types, t.Columns[si].Type)
	}
	p.Key = mp.Target.Key
	var conds []string
	for _, f := range mp.Filters {
		names := map[string]string{}
		for v, si := range f.Vars {
			names[v] = t.Columns[si].Name
		}
		c, err := whereSQL(src, f.Expr.String(), names)
		if err != nil {
			p.Skip = fmt.Sprintf("its transforms' where %q cannot be written as SQL (%v), so the rows the target should hold cannot be selected in the source", f.Expr.String(), err)
			return p, nil
		}
		conds = append(conds, "("+c+")")
	}
	p.SrcFilter = strings.Join(conds, " AND ")
	switch m.Name {
	case "", "merge":
		if m.SoftDelete != "" {
			p.DstFilter = dst.ident(m.SoftDelete) + " IS NULL"
		}
	case "history":
		p.history = true
		p.DstFilter = dst.ident("_current")
		if dst.kind() == "mysql" {
			p.DstFilter += " = 1"
		}
	case "append":
		p.Skip = "sink.mode append keeps one row per change, not the source's rows: nothing to compare row by row"
	default:
		p.Skip = fmt.Sprintf("sink.mode %q is not known to verify", m.Name)
	}
	if src.kind() != dst.kind() && p.Skip == "" {
		x, err := newCross(t, mp.Columns, dst.kind())
		if err != nil {
			p.Skip = fmt.Sprintf("its columns have no mapping to %s: %v", dst.kind(), err)
			return p, nil
		}
		p.cross = x
		x.planServer(src, dst, t, p)
		if !p.keyed() && x.canon == nil {
			p.Skip = fmt.Sprintf("the source is %s and the target %s, the table has no key, and %s: a table without a key is compared across engines only by hash sums in the servers", src.kind(), dst.kind(), x.why)
			return p, nil
		}
	}
	return p, nil
}

// keyed tells whether rows are compared by key.
func (p *Table) keyed() bool { return len(p.Key) > 0 }
