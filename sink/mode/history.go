package mode

import (
	"github.com/sluicecdc/sluice/pkg/change"
)

// Step is what a history target executes for a run of changes, in this
// order: read the current versions Fill needs (NeedCurrent), end every
// current version at Truncate (if set), end the current versions in Closes,
// then insert Rows in order.
//
// Versions: an insert or update ends the row's current version at its
// commit time and adds a new current one; a delete ends it and adds a
// closed version with op "delete" holding the old row (the delete's
// record); a truncate ends every current version and adds one closed
// marker row with op "truncate" and NULL source columns. An update that
// changes the key ends the old key's version too.
type Step struct {
	Truncate change.Value // Present: end every current version at this time first
	Closes   []Close      // the target's current versions to end
	Rows     []change.Row // the versions to insert, in order
	prev     []prevRef    // per row: the version its unsent values come from
	sh       *Shape
}

// Close ends the target's current version of the row with this key.
type Close struct {
	Key change.Row // key columns hold the key (a full row of the source table)
	At  change.Value
}

// prevRef names the version a row follows: row >= 0 is Rows[row]; row -1
// the target's current version of key; row -2 none.
type prevRef struct {
	row    int
	key    string
	keyRow change.Row
}

// Steps turns the changes held into the steps that write them: one per run
// of changes between truncates, and one per truncate.
func (l *Log) Steps() []*Step {
	var steps []*Step
	b := newBuilder(l.Shape)
	for i := range l.items {
		it := &l.items[i]
		if it.c.Op != change.Truncate {
			b.add(&it.c, &it.m)
			continue
		}
		if st := b.take(); st != nil {
			steps = append(steps, st)
		}
		at := TimeText(it.m.Commit)
		marker := l.Shape.extras(make(change.Row, l.Shape.N, len(l.Shape.Table.Columns)), &it.m, change.Truncate, true)
		for j := range l.Shape.N {
			marker[j] = change.NullValue
		}
		steps = append(steps, &Step{Truncate: at, Rows: []change.Row{marker}, prev: []prevRef{{row: -2}}, sh: l.Shape})
	}
	if st := b.take(); st != nil {
		steps = append(steps, st)
	}
	return steps
}

type builder struct {
	sh      *Shape
	st      *Step
	last    map[string]int  // key → its latest version in st.Rows
	open    map[string]bool // that version is still current
	touched map[string]bool // keys whose target current version is in st.Closes
}

func newBuilder(sh *Shape) *builder {
	b := &builder{sh: sh}
	b.reset()
	return b
}

func (b *builder) reset() {
	b.st = &Step{sh: b.sh}
	b.last, b.open, b.touched = map[string]int{}, map[string]bool{}, map[string]bool{}
}

// take returns the step built so far (nil when empty) and starts another.
func (b *builder) take() *Step {
	st := b.st
	b.reset()
	if len(st.Rows) == 0 {
		return nil
	}
	return st
}

func (b *builder) add(c *change.Change, m *Meta) {
	sh := b.sh
	at := TimeText(m.Commit)
	switch c.Op {
	case change.Delete:
		k := sh.KeyString(c.Before)
		p := b.prevOf(k, c.Before)
		b.close(k, c.Before, at)
		b.push(k, c.Before, c.Op, m, true, p)
	case change.Update:
		old := c.After
		if c.Before != nil && sh.keyPresent(c.Before) {
			old = c.Before
		}
		ok, nk := sh.KeyString(old), sh.KeyString(c.After)
		p := b.prevOf(ok, old)
		b.close(ok, old, at)
		if nk != ok {
			b.close(nk, c.After, at)
		}
		b.push(nk, c.After, c.Op, m, false, p)
	default: // insert, read
		k := sh.KeyString(c.After)
		p := b.prevOf(k, c.After)
		b.close(k, c.After, at)
		b.push(k, c.After, c.Op, m, false, p)
	}
}

func (b *builder) prevOf(k string, keyRow change.Row) prevRef {
	if i, ok := b.last[k]; ok {
		return prevRef{row: i}
	}
	return prevRef{row: -1, key: k, keyRow: keyRow}
}

// close ends the current version of key k at time at: in this step if it
// is here, else in the target.
func (b *builder) close(k string, keyRow change.Row, at change.Value) {
	if i, ok := b.last[k]; ok {
		if b.open[k] {
			r := b.st.Rows[i]
			r[b.sh.Extra(KindValidTo)] = at
			r[b.sh.Extra(KindCurrent)] = change.Text("0")
			b.open[k] = false
		}
		return
	}
	if !b.touched[k] {
		b.touched[k] = true
		b.st.Closes = append(b.st.Closes, Close{Key: keyRow, At: at})
	}
}

// push adds a version; deleted makes it the closed record of a delete.
func (b *builder) push(k string, r change.Row, op change.Op, m *Meta, deleted bool, p prevRef) {
	sh := b.sh
	row := make(change.Row, sh.N, len(sh.Table.Columns))
	copy(row, r)
	row = sh.extras(row, m, op, deleted)
	b.st.Rows = append(b.st.Rows, row)
	b.st.prev = append(b.st.prev, p)
	b.last[k] = len(b.st.Rows) - 1
	b.open[k] = !deleted
}

func hole(v change.Value) bool { return v.State == change.Unchanged || v.State == change.Missing }

// NeedCurrent returns the keys (as rows) whose target current versions Fill
// needs: those versions whose unsent values come from there. None means Fill
// needs no read.
func (st *Step) NeedCurrent() []change.Row {
	var keys []change.Row
	seen := map[string]bool{}
	for i, r := range st.Rows {
		p := st.prev[i]
		if p.row != -1 || seen[p.key] {
			continue
		}
		for _, v := range r[:st.sh.N] {
			if hole(v) {
				seen[p.key] = true
				keys = append(keys, p.keyRow)
				break
			}
		}
	}
	return keys
}

// Fill completes every version with the values the source did not send
// (an unchanged large value, the columns a key-only old row lacks): from
// the version it follows, in this step or in current (the target's current
// versions by KeyString, as read for NeedCurrent). A value found nowhere
// is NULL.
func (st *Step) Fill(current map[string]change.Row) {
	for i, r := range st.Rows {
		p := st.prev[i]
		for j := range st.sh.N {
			if !hole(r[j]) {
				continue
			}
			v := change.NullValue
			switch {
			case p.row >= 0:
				v = st.Rows[p.row][j]
			case p.row == -1:
				if cur, ok := current[p.key]; ok && j < len(cur) {
					v = cur[j]
				}
			}
			if hole(v) {
				v = change.NullValue
			}
			r[j] = v
		}
	}
}
