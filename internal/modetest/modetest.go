// Package modetest generates random changes to one test table and computes,
// independently of the sinks' code, what a target holds after them in each
// sink mode. The sink tests apply the changes and compare.
//
// The table is items(id integer primary key, v text). Rows are rendered as
// text with columns joined by "|", NULL as ∅, timestamps as
// "2006-01-02 15:04:05" (UTC) and the snapshot's time as SNAP, booleans as
// 1/0, JSON with its keys sorted.
package modetest

import (
	"encoding/json"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strconv"
	"time"

	"github.com/sluicecdc/sluice/pkg/change"
)

// Source is the source code the tests configure.
const Source = "crm"

// Pos is a test position: transactions are numbered.
type Pos int

func (p Pos) String() string { return strconv.Itoa(int(p)) }

func (p Pos) Compare(o change.Position) int {
	q := o.(Pos)
	switch {
	case p < q:
		return -1
	case p > q:
		return 1
	}
	return 0
}

// Change is one change to items.
type Change struct {
	Op        change.Op
	ID        int    // the row's key (its new key, for an update)
	Old       int    // update: the old key when the key changes, else 0
	V         string // the new value
	Unchanged bool   // update: v not sent (an unchanged large value)
}

// Txn is one source transaction.
type Txn struct {
	Pos     int
	Sec     int // commit time: seconds after Epoch
	Changes []Change
}

// Epoch is the commit time of second 0.
var Epoch = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

// Commit is the transaction's commit time.
func (t Txn) Commit() time.Time { return Epoch.Add(time.Duration(t.Sec) * time.Second) }

func ts(sec int) string {
	return Epoch.Add(time.Duration(sec) * time.Second).Format("2006-01-02 15:04:05")
}

// Generate makes n random transactions from pos 1 on, over a source that
// holds initial rows (id → v) when they start. Several changes may touch one
// key in a transaction, and several transactions share a commit second.
// Key changes never leave a value unsent (history tests need no such move).
func Generate(seed uint64, initial map[int]string, n int) []Txn {
	r := rand.New(rand.NewPCG(seed, 1))
	state := map[int]string{}
	maps.Copy(state, initial)
	next := 1000
	sec := 0
	var gone []int // deleted keys, inserted again now and then
	var txns []Txn
	for p := 1; p <= n; p++ {
		sec += r.IntN(2)
		t := Txn{Pos: p, Sec: sec}
		for range 1 + r.IntN(4) {
			keys := slices.Sorted(maps.Keys(state))
			x := r.IntN(100)
			switch {
			case x < 2:
				t.Changes = append(t.Changes, Change{Op: change.Truncate})
				gone = append(gone, keys...)
				clear(state)
			case x < 35 || len(keys) == 0:
				id := next + 1
				if len(gone) > 0 && r.IntN(3) == 0 {
					id, gone = gone[len(gone)-1], gone[:len(gone)-1]
				} else {
					next++
				}
				v := fmt.Sprintf("v%d-%d", id, p)
				t.Changes = append(t.Changes, Change{Op: change.Insert, ID: id, V: v})
				state[id] = v
			case x < 55:
				id := keys[r.IntN(len(keys))]
				t.Changes = append(t.Changes, Change{Op: change.Delete, ID: id})
				delete(state, id)
				gone = append(gone, id)
			case x < 65:
				id := keys[r.IntN(len(keys))]
				next++
				v := fmt.Sprintf("m%d-%d", next, p)
				t.Changes = append(t.Changes, Change{Op: change.Update, ID: next, Old: id, V: v})
				delete(state, id)
				gone = append(gone, id)
				state[next] = v
			default:
				id := keys[r.IntN(len(keys))]
				c := Change{Op: change.Update, ID: id, V: fmt.Sprintf("u%d-%d", id, p), Unchanged: r.IntN(3) == 0}
				if c.Unchanged {
					c.V = state[id]
				}
				t.Changes = append(t.Changes, c)
				state[id] = c.V
			}
		}
		txns = append(txns, t)
	}
	return txns
}

// Rows makes the before and after rows of a change, given a constructor
// of rows from texts (nil for a NULL-less unsent or missing value).
func (c Change) Rows(row func(id string, v *change.Value) change.Row) (before, after change.Row) {
	missing := change.Value{State: change.Missing}
	switch c.Op {
	case change.Insert:
		v := change.Text(c.V)
		return nil, row(strconv.Itoa(c.ID), &v)
	case change.Delete:
		return row(strconv.Itoa(c.ID), &missing), nil
	case change.Update:
		v := change.Text(c.V)
		if c.Unchanged {
			v = change.Value{State: change.Unchanged}
		}
		if c.Old != 0 {
			before = row(strconv.Itoa(c.Old), &missing)
		}
		return before, row(strconv.Itoa(c.ID), &v)
	}
	return nil, nil
}

// Merge is what a merge target holds: "id|v|_source|_source_position|
// _source_commit_time", with soft deletes "id|v|_deleted_at|..." (deleted
// rows stay, their first deletion time kept); sorted.
func Merge(initial map[int]string, txns []Txn, soft bool) []string {
	type row struct{ v, deleted, pos, commit string }
	rows := map[int]*row{}
	for id, v := range initial {
		rows[id] = &row{v: v, deleted: "∅", pos: "∅", commit: "SNAP"}
	}
	del := func(id int, t Txn) {
		r := rows[id]
		switch {
		case r == nil || r.deleted != "∅":
		case soft:
			r.deleted, r.pos, r.commit = ts(t.Sec), strconv.Itoa(t.Pos), ts(t.Sec)
		default:
			delete(rows, id)
		}
	}
	for _, t := range txns {
		for _, c := range t.Changes {
			switch c.Op {
			case change.Truncate:
				for id := range rows {
					del(id, t)
				}
			case change.Delete:
				del(c.ID, t)
			default:
				if c.Old != 0 {
					del(c.Old, t)
				}
				rows[c.ID] = &row{v: c.V, deleted: "∅", pos: strconv.Itoa(t.Pos), commit: ts(t.Sec)}
			}
		}
	}
	var out []string
	for id, r := range rows {
		if soft {
			out = append(out, fmt.Sprintf("%d|%s|%s|%s|%s|%s", id, r.v, r.deleted, Source, r.pos, r.commit))
		} else {
			out = append(out, fmt.Sprintf("%d|%s|%s|%s|%s", id, r.v, Source, r.pos, r.commit))
		}
	}
	slices.Sort(out)
	return out
}

// History is what a history target holds, in write order:
// "id|v|_valid_from|_valid_to|_current|_op|_source_position|_change_index".
func History(initial map[int]string, txns []Txn) []string {
	type version struct {
		id              string
		v, from, to, op string
		current         bool
		pos, idx        string
	}
	var vs []*version
	current := map[int]*version{}
	for _, id := range slices.Sorted(maps.Keys(initial)) {
		v := &version{id: strconv.Itoa(id), v: initial[id], from: "SNAP", to: "∅", op: "snapshot", current: true, pos: "∅", idx: "∅"}
		vs = append(vs, v)
		current[id] = v
	}
	end := func(id int, at string) *version {
		v := current[id]
		if v != nil {
			v.to, v.current = at, false
			delete(current, id)
		}
		return v
	}
	for _, t := range txns {
		at := ts(t.Sec)
		for i, c := range t.Changes {
			pos, idx := strconv.Itoa(t.Pos), strconv.Itoa(i)
			switch c.Op {
			case change.Truncate:
				for id := range current {
					end(id, at)
				}
				vs = append(vs, &version{id: "∅", v: "∅", from: at, to: at, op: "truncate", pos: pos, idx: idx})
			case change.Delete:
				old := end(c.ID, at)
				v := "∅"
				if old != nil {
					v = old.v
				}
				vs = append(vs, &version{id: strconv.Itoa(c.ID), v: v, from: at, to: at, op: "delete", pos: pos, idx: idx})
			default:
				if c.Old != 0 {
					end(c.Old, at)
				}
				end(c.ID, at)
				v := &version{id: strconv.Itoa(c.ID), v: c.V, from: at, to: "∅", op: c.Op.String(), current: true, pos: pos, idx: idx}
				vs = append(vs, v)
				current[c.ID] = v
			}
		}
	}
	out := make([]string, len(vs))
	for i, v := range vs {
		cur := "0"
		if v.current {
			cur = "1"
		}
		out[i] = fmt.Sprintf("%s|%s|%s|%s|%s|%s|%s|%s", v.id, v.v, v.from, v.to, cur, v.op, v.pos, v.idx)
	}
	return out
}

// Append is what an append target holds, in write order:
// "_op|_commit_time|_txid|_source_position|_change_index|_before|_after".
func Append(initial map[int]string, txns []Txn) []string {
	var out []string
	for _, id := range slices.Sorted(maps.Keys(initial)) {
		out = append(out, fmt.Sprintf("snapshot|SNAP|∅|∅|∅|∅|%s", jsonOf("id", strconv.Itoa(id), "v", initial[id])))
	}
	for _, t := range txns {
		for i, c := range t.Changes {
			before, after := "∅", "∅"
			switch c.Op {
			case change.Insert:
				after = jsonOf("id", strconv.Itoa(c.ID), "v", c.V)
			case change.Delete:
				before = jsonOf("id", strconv.Itoa(c.ID))
			case change.Update:
				if c.Old != 0 {
					before = jsonOf("id", strconv.Itoa(c.Old))
				}
				if c.Unchanged {
					after = jsonOf("id", strconv.Itoa(c.ID))
				} else {
					after = jsonOf("id", strconv.Itoa(c.ID), "v", c.V)
				}
			}
			out = append(out, fmt.Sprintf("%s|%s|tx%d|%d|%d|%s|%s", c.Op, ts(t.Sec), t.Pos, t.Pos, i, before, after))
		}
	}
	return out
}

func jsonOf(kv ...string) string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	b, _ := json.Marshal(m)
	return string(b)
}

// NormalizeJSON renders a JSON text the way the model does (keys sorted, no
// spaces), so both dialects' JSON compare; other texts are returned as they are.
func NormalizeJSON(s string) string {
	var m map[string]any
	if json.Unmarshal([]byte(s), &m) != nil {
		return s
	}
	b, _ := json.Marshal(m)
	return string(b)
}

// Build turns t into a transaction of the given table, with rows made by row.
func (t Txn) Build(tbl *change.Table, row func(id string, v *change.Value) change.Row) *change.Txn {
	txn := change.NewTxn("", 0)
	for _, c := range t.Changes {
		before, after := c.Rows(row)
		txn.Add(change.Change{Op: c.Op, Table: tbl, Before: before, After: after}) //nolint:errcheck // in memory
	}
	txn.Position, txn.Commit, txn.ID = Pos(t.Pos), t.Commit(), fmt.Sprintf("tx%d", t.Pos)
	return txn
}
