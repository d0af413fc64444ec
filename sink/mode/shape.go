package mode

import (
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/sluicecdc/sluice/pkg/change"
)

// Types gives a target dialect's SQL type for a mode column.
type Types func(Kind) string

// Shape is a target table as the mode lays it out for one source table
// shape: the columns rows carry values for, then those the target fills.
type Shape struct {
	Mode    Mode
	Source  *change.Table // the source table, in the dialect rows arrive in
	Table   *change.Table // the value columns: (merge, history) the source's, then the mode's
	N       int           // how many of Table.Columns are the source's (0 in append mode)
	Extras  []Column      // the mode's value columns: Table.Columns[N:]
	Managed []Column      // columns the target fills itself (sequence, synced-at)
	opts    *Options
}

// Shape lays out the target of source table src. It fails when a mode
// column has the name of a source column, or when the mode cannot write
// the table (history needs a key).
func (o *Options) Shape(src *change.Table, types Types) (*Shape, error) {
	sh := &Shape{Mode: o.Mode, Source: src, opts: o}
	t := &change.Table{ID: src.ID, Identity: src.Identity, Dialect: src.Dialect}
	if o.Mode != Append {
		t.Columns = append(t.Columns, src.Columns...)
		t.Key = src.Key
		sh.N = len(src.Columns)
	}
	if o.Mode == History {
		if !src.HasKey() {
			return nil, fmt.Errorf("sink.mode history: source table %s has no primary key, so its rows' versions cannot be told apart; add a primary key at the source, exclude the table (source.exclude), or use sink.mode append", src.ID)
		}
		// Truncate markers hold no row, and a delete's old row may lack
		// columns: only the mode's own columns are NOT NULL.
		for i := range t.Columns {
			t.Columns[i].NotNull = false
		}
	}
	for _, c := range o.Columns() {
		if o.Mode != Append {
			if i := columnIndexFold(src, c.Name); i >= 0 {
				return nil, collision(o, src, c, src.Columns[i].Name)
			}
		}
		if c.Kind.Managed() {
			sh.Managed = append(sh.Managed, c)
			continue
		}
		sh.Extras = append(sh.Extras, c)
		t.Columns = append(t.Columns, change.Column{Name: c.Name, Type: types(c.Kind), NotNull: notNull(c.Kind)})
	}
	sh.Table = t
	if o.Mode == Merge && len(sh.Extras) == 0 {
		sh.Table = src // rows go in as they are
	}
	return sh, nil
}

func collision(o *Options, src *change.Table, c Column, srcName string) error {
	if c.Key == "" {
		return fmt.Errorf("source table %s has a column %s, and sink.mode %s adds a column %s itself; rename or exclude the source column",
			src.ID, srcName, o.Mode, c.Name)
	}
	return fmt.Errorf("%s: %s is also a column of source table %s (%s); choose another name in %s", c.Key, c.Name, src.ID, srcName, c.Key)
}

// columnIndexFold finds a column by name regardless of case: MySQL column
// names are case-insensitive, so neither dialect may have both.
func columnIndexFold(t *change.Table, name string) int {
	for i, c := range t.Columns {
		if strings.EqualFold(c.Name, name) {
			return i
		}
	}
	return -1
}

func notNull(k Kind) bool {
	switch k {
	case KindValidFrom, KindCurrent, KindOp:
		return true
	case KindCommitTime:
		return true // every row has a commit time: the snapshot's for snapshot rows
	}
	return false
}

// Meta is where a change comes from: what the mode's columns record.
type Meta struct {
	Position string    // the commit position of its transaction; "" for snapshot rows
	Commit   time.Time // the source commit time; a snapshot row's is the snapshot's time
	TxID     string    // the source transaction id; "" for snapshot rows
	Index    int       // the change's index within its transaction; -1 for snapshot rows
}

// SnapshotMeta is the Meta of every row of a snapshot taken at at.
func SnapshotMeta(at time.Time) Meta { return Meta{Commit: at, Index: -1} }

// TimeText is a timestamp as both dialects read it in a UTC session.
func TimeText(t time.Time) change.Value {
	return change.Text(t.UTC().Format("2006-01-02 15:04:05.000000"))
}

// opText is the text of the op column.
func opText(op change.Op) string {
	if op == change.Read {
		return "snapshot"
	}
	return op.String()
}

// extras appends the values of the mode's columns to dst.
func (sh *Shape) extras(dst change.Row, m *Meta, op change.Op, deleted bool) change.Row {
	for _, c := range sh.Extras {
		v := change.NullValue
		switch c.Kind {
		case KindSourceCode:
			v = change.Text(sh.opts.SourceCode)
		case KindPosition:
			if m.Position != "" {
				v = change.Text(m.Position)
			}
		case KindCommitTime, KindValidFrom:
			v = TimeText(m.Commit)
		case KindDeletedAt:
			if deleted {
				v = TimeText(m.Commit)
			}
		case KindCurrent:
			v = change.Text("1")
			if deleted {
				v = change.Text("0")
			}
		case KindValidTo:
			if deleted {
				v = TimeText(m.Commit)
			}
		case KindOp:
			v = change.Text(opText(op))
		case KindChangeIndex:
			if m.Index >= 0 {
				v = change.Text(strconv.Itoa(m.Index))
			}
		case KindTxID:
			if m.TxID != "" {
				v = change.Text(m.TxID)
			}
		}
		dst = append(dst, v)
	}
	return dst
}

// CheckMeta refuses a change whose mode columns would lack what they record.
func (sh *Shape) CheckMeta(m *Meta) error {
	if !sh.opts.NeedsCommit() {
		return nil
	}
	if m.Commit.IsZero() {
		return fmt.Errorf("sink.mode %s: the change to %s has no source commit time", sh.Mode, sh.Source.ID)
	}
	if m.Position == "" && m.Index >= 0 {
		return fmt.Errorf("sink.mode %s: the change to %s has no source position", sh.Mode, sh.Source.ID)
	}
	return nil
}

// MergeRow is row r of a merge target with the mode's values appended, for
// a change described by m. deleted marks the old row of a delete: with
// soft deletes its deleted-at column holds the commit time.
func (sh *Shape) MergeRow(r change.Row, m *Meta, deleted bool) change.Row {
	if r == nil {
		return nil
	}
	out := make(change.Row, 0, len(sh.Table.Columns))
	out = append(out, r...)
	return sh.extras(out, m, change.Insert, deleted)
}

// Merge returns c as a change to the merge target's shape.
func (sh *Shape) Merge(c *change.Change, m *Meta) *change.Change {
	if sh.Table == sh.Source {
		return c
	}
	out := &change.Change{Op: c.Op, Table: sh.Table, Before: sh.MergeRow(c.Before, m, true), After: sh.MergeRow(c.After, m, false)}
	if c.Op == change.Truncate {
		// The truncate's values: a soft delete sets them on every live row.
		out.After = sh.MergeRow(make(change.Row, sh.N), m, true)
	}
	return out
}

// SnapshotRow is snapshot row r as the target stores it, reusing dst.
func (sh *Shape) SnapshotRow(dst, r change.Row, m *Meta) (change.Row, error) {
	if sh.Table == sh.Source {
		return r, nil
	}
	dst = dst[:0]
	switch sh.Mode {
	case Append:
		after, err := sh.json(r)
		if err != nil {
			return nil, err
		}
		return sh.auditExtras(dst, m, change.Read, change.NullValue, after), nil
	}
	dst = append(dst, r...)
	return sh.extras(dst, m, change.Read, false), nil
}

// Layout is the mode's columns in table order (after the source's), both
// those rows carry and those the target fills.
func (sh *Shape) Layout() []Column { return sh.opts.Columns() }

// GroupByExtras splits rows into groups that share the values of the mode's
// columns (the changes of one transaction do), in first-seen order.
func (sh *Shape) GroupByExtras(rows []change.Row) [][]change.Row {
	var groups [][]change.Row
	index := map[string]int{}
	for _, r := range rows {
		var b []byte
		for _, v := range r[sh.N:] {
			b = append(b, byte(v.State))
			b = binary.AppendUvarint(b, uint64(len(v.Data)))
			b = append(b, v.Data...)
		}
		i, ok := index[string(b)]
		if !ok {
			i = len(groups)
			index[string(b)] = i
			groups = append(groups, nil)
		}
		groups[i] = append(groups[i], r)
	}
	return groups
}

// KeyString encodes the key columns of r, to match rows by key.
func (sh *Shape) KeyString(r change.Row) string {
	var b []byte
	for _, k := range sh.Table.Key {
		if k >= len(r) {
			b = append(b, 0xff)
			continue
		}
		b = append(b, byte(r[k].State))
		b = binary.AppendUvarint(b, uint64(len(r[k].Data)))
		b = append(b, r[k].Data...)
	}
	return string(b)
}

// keyPresent tells whether every key column of r holds a value.
func (sh *Shape) keyPresent(r change.Row) bool {
	for _, k := range sh.Table.Key {
		if k >= len(r) || (r[k].State != change.Present && r[k].State != change.Null) {
			return false
		}
	}
	return r != nil
}

// Extra returns the index in Table.Columns of the mode column of kind k, -1
// when there is none.
func (sh *Shape) Extra(k Kind) int {
	for i, c := range sh.Extras {
		if c.Kind == k {
			return sh.N + i
		}
	}
	return -1
}
