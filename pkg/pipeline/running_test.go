package pipeline

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicecdc/sluice/pkg/change"
)

// modelSink is a target with real state (one table, id → v) and real
// savepoint semantics: what a rollback undoes is gone, what Flush commits
// stays. It is a PartSink and keeps its applied position like the SQL sinks.
type modelSink struct {
	*fakeSink
	mu        sync.Mutex
	work      map[string]string // the open target transaction's view
	committed map[string]string
	marks     []mark
	failAt    string // Savepoint or RollbackTo of this name fails, as on a target that lost it
}

type mark struct {
	name  string
	state map[string]string
}

func newModel(sink *fakeSink) *modelSink {
	return &modelSink{fakeSink: sink, work: map[string]string{}, committed: map[string]string{}}
}

var tblKV = &change.Table{ID: change.TableID{Schema: "s", Name: "kv"}, Columns: []change.Column{{Name: "id"}, {Name: "v"}}, Key: []int{0}}

func (m *modelSink) Apply(ctx context.Context, t *change.Txn) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	err := t.Each(func(c *change.Change) error {
		switch c.Op {
		case change.Insert, change.Update:
			if c.Before != nil {
				delete(m.work, string(c.Before[0].Data))
			}
			m.work[string(c.After[0].Data)] = string(c.After[1].Data)
		case change.Delete:
			delete(m.work, string(c.Before[0].Data))
		case change.Truncate:
			clear(m.work)
		}
		return nil
	})
	if err != nil {
		return err
	}
	return m.fakeSink.Apply(ctx, t)
}

func (m *modelSink) Savepoint(_ context.Context, name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.ev.add("savepoint(%s)", name)
	m.marks = append(m.marks, mark{name, maps.Clone(m.work)})
	return nil
}

func (m *modelSink) RollbackTo(_ context.Context, name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.ev.add("rollback(%s)", name)
	for i := len(m.marks) - 1; i >= 0; i-- {
		if m.marks[i].name == name {
			m.work = maps.Clone(m.marks[i].state)
			m.marks = m.marks[:i+1] // the savepoint itself stays, as in SQL
			return nil
		}
	}
	return fmt.Errorf("savepoint %s does not exist", name) // as the target would say
}

func (m *modelSink) Flush(ctx context.Context) error {
	if err := m.fakeSink.Flush(ctx); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.committed = maps.Clone(m.work)
	m.marks = nil
	return nil
}

func (m *modelSink) state() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	keys := slices.Sorted(maps.Keys(m.committed))
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%s=%s ", k, m.committed[k])
	}
	return strings.TrimSpace(b.String())
}

// op builds one change of tblKV: "k=v" upserts, "-k" deletes, "!" truncates.
func op(s string) change.Change {
	switch {
	case s == "!":
		return change.Change{Op: change.Truncate, Table: tblKV}
	case strings.HasPrefix(s, "-"):
		return change.Change{Op: change.Delete, Table: tblKV, Before: change.Row{change.Text(s[1:]), {State: change.Missing}}}
	}
	k, v, _ := strings.Cut(s, "=")
	return change.Change{Op: change.Update, Table: tblKV, After: change.Row{change.Text(k), change.Text(v)}}
}

// whole is a committed transaction at position p; part a piece of running
// transaction "T".
func whole(p int, ops ...string) *change.Txn {
	t := change.NewTxn("", 0)
	t.ID, t.Position, t.Commit = fmt.Sprint(p), pos(p), time.Now()
	for _, o := range ops {
		t.Add(op(o))
	}
	return t
}

func part(kind change.Part, sub string, ops ...string) *change.Txn {
	t := change.NewTxn("", 0)
	t.ID, t.Part, t.Sub = "T", kind, sub
	for _, o := range ops {
		t.Add(op(o))
	}
	return t
}

func done(p int) *change.Txn {
	return &change.Txn{ID: "T", Part: change.Done, Position: pos(p), Commit: time.Now()}
}

// runModel feeds txns to a pipeline over a modelSink until the position
// until is acked (or, with until 0, until the last txn is taken and the
// pipeline is stopped), and returns the committed target state.
func runModel(t *testing.T, until int, txns ...*change.Txn) (string, *events) {
	t.Helper()
	ev, src, sink, store := setup(streaming("10"))
	src.txns = make(chan *change.Txn, len(txns))
	for _, x := range txns {
		src.txns <- x
	}
	m := newModel(sink)
	cond := fmt.Sprintf("ack(%d)", until)
	if err := runUntil(t, New(src, m, store, quiet), ev, cond); err != nil {
		t.Fatalf("%v; events %s", err, ev)
	}
	return m.state(), ev
}

// A transaction that commits while a large one runs lands, in the target,
// where it committed: before the running transaction's later changes. Each
// case gives the result of applying the transactions in commit order.
func TestCommittedInsideRunningTransaction(t *testing.T) {
	cases := []struct {
		name string
		txns []*change.Txn
		want string
	}{{
		// T sets a=1; H sets b=100 and commits; T then sets b=200: 200.
		name: "update",
		txns: []*change.Txn{part(change.Open, "", "a=1"), whole(11, "b=100"), part(change.Open, "", "b=200"), done(12)},
		want: "a=1 b=200",
	}, {
		// H inserts c; T later deletes it and inserts d: c stays deleted.
		name: "delete after insert",
		txns: []*change.Txn{part(change.Open, "", "a=1"), whole(11, "c=1"), part(change.Open, "", "-c", "d=1"), done(12)},
		want: "a=1 d=1",
	}, {
		// H deletes c then reinserts it; T updates it afterwards.
		name: "delete then reinsert",
		txns: []*change.Txn{whole(11, "c=0"), part(change.Open, "", "a=1"), whole(12, "-c"), whole(13, "c=5"), part(change.Open, "", "c=6"), done(14)},
		want: "a=1 c=6",
	}, {
		// H truncates the table; T inserts afterwards: its rows survive.
		name: "truncate",
		txns: []*change.Txn{whole(11, "x=1"), part(change.Open, "", "q=1"), whole(12, "!"), part(change.Open, "", "y=2", "z=3"), done(13)},
		want: "y=2 z=3",
	}}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			last := c.txns[len(c.txns)-1].Position.(pos)
			got, ev := runModel(t, int(last), c.txns...)
			if got != c.want {
				t.Fatalf("target %q, want %q (commit order); events %s", got, c.want, ev)
			}
		})
	}
}

// A rollback of the running transaction, or of a subtransaction, undoes in
// the target the whole transactions applied after it began; they are
// applied again, since they committed at the source.
func TestRollbackKeepsCommittedInside(t *testing.T) {
	cases := []struct {
		name  string
		until int
		txns  []*change.Txn
		want  string
	}{{
		name:  "subtransaction rolled back",
		until: 13,
		txns: []*change.Txn{part(change.Open, "", "a=1"), part(change.Savepoint, "5"), part(change.Open, "", "s=1"),
			whole(11, "h=1"), part(change.Open, "", "s=2"), whole(12, "i=1"), part(change.RollbackSub, "5"), part(change.Open, "", "t=1"), done(13)},
		want: "a=1 h=1 i=1 t=1",
	}, {
		name:  "nested subtransactions, outer rolled back",
		until: 13,
		txns: []*change.Txn{part(change.Savepoint, "5"), part(change.Open, "", "s=1"), whole(11, "h=1"), part(change.Savepoint, "6"),
			whole(12, "i=1"), part(change.Open, "", "u=1"), part(change.RollbackSub, "5"), part(change.Open, "", "t=1"), done(13)},
		want: "h=1 i=1 t=1",
	}, {
		name:  "running transaction aborted",
		until: 12,
		txns:  []*change.Txn{part(change.Open, "", "a=1"), whole(11, "h=1"), part(change.Open, "", "a=2"), whole(12, "a=9"), part(change.Abort, "")},
		want:  "a=9 h=1",
	}, {
		// The first change lies in a subtransaction: the Savepoint part
		// comes first and must open the running transaction (no commit may
		// fall between it and the rollback).
		name:  "first change in a subtransaction, committed",
		until: 12,
		txns: []*change.Txn{part(change.Savepoint, "5"), part(change.Open, "", "s=1"), whole(11, "h=1"),
			part(change.RollbackSub, "5"), part(change.Open, "", "t=1"), done(12)},
		want: "h=1 t=1",
	}, {
		name:  "first change in a subtransaction, aborted",
		until: 11,
		txns:  []*change.Txn{part(change.Savepoint, "5"), part(change.Open, "", "s=1"), whole(11, "h=1"), part(change.Open, "", "s=2"), part(change.Abort, "")},
		want:  "h=1",
	}}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, ev := runModel(t, c.until, c.txns...)
			if got != c.want {
				t.Fatalf("target %q, want %q; events %s", got, c.want, ev)
			}
			if e := ev.String(); !strings.HasPrefix(strings.TrimPrefix(e, "start(10) "), "savepoint(sluice_part)") {
				t.Fatalf("events %q: the running transaction's first part did not open it", e)
			}
		})
	}
}

// At shutdown a running transaction's parts are dropped (read again after
// the restart), but whole transactions applied among them committed at the
// source: they are flushed with their position.
func TestShutdownKeepsCommittedInside(t *testing.T) {
	ev, src, sink, store := setup(streaming("10"))
	m := newModel(sink)
	for _, x := range []*change.Txn{whole(11, "a=1"), part(change.Open, "", "t=1"), whole(12, "h=1"), part(change.Open, "", "h=2")} {
		src.txns <- x
	}
	if err := runUntil(t, New(src, m, store, quiet), ev, "apply(<nil>) apply(12) apply(<nil>)"); err != nil {
		t.Fatal(err)
	}
	if got := m.state(); got != "a=1 h=1" {
		t.Fatalf("target %q, want a=1 h=1; events %s", got, ev)
	}
	if !strings.HasSuffix(ev.String(), "save(streaming,12) ack(12)") || sink.applied != "12" {
		t.Fatalf("events %q, applied %q: want 12 flushed, saved and acked", ev, sink.applied)
	}
}

// Many transactions committing while a large one runs are kept on disk
// past insideMemory, not in memory, and still applied again exactly.
func TestInsideSpills(t *testing.T) {
	ev, src, sink, store := setup(streaming("10"))
	m := newModel(sink)
	pad := strings.Repeat("x", 4096)
	n := insideMemory/4096 + 100
	src.txns = make(chan *change.Txn, 4)
	go func() {
		src.txns <- part(change.Open, "", "t=1")
		for i := range n {
			src.txns <- whole(11+i, fmt.Sprintf("k%05d=%s", i, pad))
		}
		src.txns <- part(change.Abort, "")
	}()
	if err := runUntil(t, New(src, m, store, quiet), ev, fmt.Sprintf("ack(%d)", 10+n)); err != nil {
		t.Fatal(err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.committed) != n || m.committed["t"] != "" {
		t.Fatalf("target has %d rows (t=%q), want the %d committed ones only", len(m.committed), m.committed["t"], n)
	}
}
