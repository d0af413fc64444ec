// Package sinktest is the conformance suite every sink passes: it runs the
// real pipeline from a scripted source into the sink under test and checks
// what the target holds (read back by the sink's own test harness) against
// what the source's transactions make of the tables:
//
//   - insert, update, delete, a key change, truncate;
//   - a table without a key (identity FULL: duplicates, one of them
//     updated and one deleted);
//   - snapshot rows, then changes (when the sink is a pipeline.Loader);
//   - transforms (a where filter rows enter and leave, a rename);
//   - a crash with changes applied but not flushed, then a restart from
//     the checkpoint: nothing lost, nothing doubled;
//   - the target down and back (when the harness can stop it).
//
// Every table is (id int key, v text) or, keyless, (a int, b text); the
// harness renders a row as "a|b" with NULL as ∅, sorted. Cases use their own
// tables (schema "conf", table named after the case), so one target server
// serves the whole suite.
package sinktest

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/sluicecdc/sluice/checkpoint"
	"github.com/sluicecdc/sluice/pkg/change"
	"github.com/sluicecdc/sluice/pkg/config"
	"github.com/sluicecdc/sluice/pkg/pipeline"
	"github.com/sluicecdc/sluice/pkg/transform"
)

// Target is a sink kind under test and the target it writes to.
type Target struct {
	// Open connects a new sink to the target for pipeline name; a second
	// Open with the same name is a restart of the same pipeline.
	Open func(t *testing.T, name string) pipeline.Sink
	// Rows returns what the target holds for source table id (after the
	// transforms, under its target name), each row as "v1|v2" in column
	// order with NULL as ∅, sorted. A stream target folds its events.
	Rows func(t *testing.T, id change.TableID) []string
	// Changes, when set, counts the change records the target holds for
	// table id (a stream's events, tombstones and transaction records not
	// counted): an exactly-once sink holds each change once, even after a
	// crash and a replay.
	Changes func(t *testing.T, id change.TableID) int
	// Down and Up stop and restart the target's server; nil skips the case.
	Down, Up func(t *testing.T)
}

// Run runs every case against target.
func Run(t *testing.T, target Target) {
	for _, c := range cases() {
		t.Run(c.name, func(t *testing.T) { c.run(t, target) })
	}
	t.Run("crash_and_replay", func(t *testing.T) { crashAndReplay(t, target) })
	t.Run("target_down_and_back", func(t *testing.T) {
		if target.Down == nil {
			t.Skip("the harness cannot stop this target")
		}
		downAndBack(t, target)
	})
}

// Pos is a scripted position: transactions are numbered.
type Pos int

func (p Pos) String() string { return strconv.Itoa(int(p)) }

// Compare orders positions.
func (p Pos) Compare(o change.Position) int {
	q, _ := o.(Pos)
	switch {
	case p < q:
		return -1
	case p > q:
		return 1
	}
	return 0
}

// keyed and keyless build the suite's two table shapes.
func keyed(name string) *change.Table {
	return &change.Table{ID: change.TableID{Schema: "conf", Name: name}, Dialect: change.Postgres, Identity: change.IdentityKey,
		Columns: []change.Column{{Name: "id", Type: "integer", TypeOID: 23, NotNull: true}, {Name: "v", Type: "text", TypeOID: 25}}, Key: []int{0}}
}

func keyless(name string) *change.Table {
	return &change.Table{ID: change.TableID{Schema: "conf", Name: name}, Dialect: change.Postgres, Identity: change.IdentityFull,
		Columns: []change.Column{{Name: "a", Type: "integer", TypeOID: 23}, {Name: "b", Type: "text", TypeOID: 25}}}
}

func row(vals ...string) change.Row {
	r := make(change.Row, len(vals))
	for i, v := range vals {
		if v == "∅" {
			r[i] = change.NullValue
		} else {
			r[i] = change.Text(v)
		}
	}
	return r
}

// op is one scripted change: "+k=v" inserts, "k=v" updates, "k>j=v"
// changes the key, "-k" deletes (keyed); "+a|b", "~a|b>c|d", "-a|b" on a
// keyless table; "!" truncates.
func op(t *change.Table, s string) change.Change {
	switch {
	case s == "!":
		return change.Change{Op: change.Truncate, Table: t}
	case !t.HasKey():
		switch s[0] {
		case '+':
			return change.Change{Op: change.Insert, Table: t, After: row(strings.Split(s[1:], "|")...)}
		case '-':
			return change.Change{Op: change.Delete, Table: t, Before: row(strings.Split(s[1:], "|")...)}
		case '~':
			before, after, _ := strings.Cut(s[1:], ">")
			return change.Change{Op: change.Update, Table: t, Before: row(strings.Split(before, "|")...), After: row(strings.Split(after, "|")...)}
		}
	case s[0] == '+':
		k, v, _ := strings.Cut(s[1:], "=")
		return change.Change{Op: change.Insert, Table: t, After: row(k, v)}
	case s[0] == '-':
		return change.Change{Op: change.Delete, Table: t, Before: change.Row{change.Text(s[1:]), {State: change.Missing}}}
	}
	kk, v, _ := strings.Cut(s, "=")
	if from, to, moved := strings.Cut(kk, ">"); moved {
		return change.Change{Op: change.Update, Table: t, Before: change.Row{change.Text(from), {State: change.Missing}}, After: row(to, v)}
	}
	return change.Change{Op: change.Update, Table: t, After: row(kk, v)}
}

// run runs a pipeline from src into sink until every transaction up to
// until is acknowledged (flushed and durable), then stops it cleanly.
func run(t *testing.T, src pipeline.Source, sink pipeline.Sink, store checkpoint.Store, name string, snapshot bool, until Pos, acked func() Pos) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	p := pipeline.New(src, sink, store, pipeline.Options{Name: name, SourceKind: "sinktest", Snapshot: snapshot,
		BatchWait: 20 * time.Millisecond, Log: zerolog.Nop()})
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	deadline := time.Now().Add(60 * time.Second)
	for acked() < until {
		select {
		case err := <-done:
			t.Fatalf("pipeline stopped before position %d was acked: %v", until, err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("position %d not acked within 60s (acked %d)", until, acked())
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("pipeline shutdown: %v", err)
	}
}

// tcase is a script whose expected tables are computed from the changes.
type tcase struct {
	name     string
	tables   []*change.Table
	snapshot map[*change.Table][]change.Row
	script   func(tables []*change.Table) script
	rules    []config.Transform // transforms between source and sink
	want     map[string][]string
}

func cases() []tcase {
	return []tcase{{
		name:   "insert_update_delete",
		tables: []*change.Table{keyed("iud")},
		script: func(ts []*change.Table) script {
			k := ts[0]
			return script{
				{op(k, "+1=a"), op(k, "+2=b"), op(k, "+3=∅")},
				{op(k, "1=a2"), op(k, "-2"), op(k, "3=c")},
				{op(k, "+2=b2"), op(k, "+4=d"), op(k, "4=d2"), op(k, "-4")},
			}
		},
		want: map[string][]string{"iud": {"1|a2", "2|b2", "3|c"}},
	}, {
		name:   "key_change",
		tables: []*change.Table{keyed("keys")},
		script: func(ts []*change.Table) script {
			k := ts[0]
			return script{
				{op(k, "+1=a"), op(k, "+2=b")},
				{op(k, "1>10=a1")},
				{op(k, "2>1=b1"), op(k, "10>2=a2")},
			}
		},
		want: map[string][]string{"keys": {"1|b1", "2|a2"}},
	}, {
		name:   "truncate",
		tables: []*change.Table{keyed("trunc"), keyed("kept")},
		script: func(ts []*change.Table) script {
			tr, kp := ts[0], ts[1]
			return script{
				{op(tr, "+1=a"), op(tr, "+2=b"), op(kp, "+1=k")},
				{op(tr, "!"), op(tr, "+3=c")},
				{op(tr, "+4=d")},
			}
		},
		want: map[string][]string{"trunc": {"3|c", "4|d"}, "kept": {"1|k"}},
	}, {
		name:   "keyless",
		tables: []*change.Table{keyless("nokey")},
		script: func(ts []*change.Table) script {
			n := ts[0]
			return script{
				{op(n, "+1|x"), op(n, "+1|x"), op(n, "+1|x"), op(n, "+2|∅")},
				{op(n, "~1|x>1|y"), op(n, "-1|x")},
				{op(n, "-2|∅"), op(n, "+3|z")},
			}
		},
		want: map[string][]string{"nokey": {"1|x", "1|y", "3|z"}},
	}, {
		name:     "snapshot_then_changes",
		tables:   []*change.Table{keyed("snap"), keyless("snapnokey")},
		snapshot: map[*change.Table][]change.Row{}, // filled by run
		script: func(ts []*change.Table) script {
			k, n := ts[0], ts[1]
			return script{
				{op(k, "1=a2"), op(k, "-2"), op(n, "+9|new")},
				{op(k, "+5=e")},
			}
		},
		want: map[string][]string{"snap": {"1|a2", "3|c", "5|e"}, "snapnokey": {"7|s", "7|s", "9|new"}},
	}, {
		name:   "transforms",
		tables: []*change.Table{keyed("filtered")},
		rules: []config.Transform{{Tables: []string{"conf.filtered"}, Where: "v != 'hidden'",
			Target: config.TransformTarget{Table: "renamed"}}},
		script: func(ts []*change.Table) script {
			f := ts[0]
			return script{
				{op(f, "+1=a"), op(f, "+2=hidden"), op(f, "+3=c")},
				{op(f, "2=shown"), op(f, "3=hidden"), op(f, "1=a2")},
			}
		},
		want: map[string][]string{"renamed": {"1|a2", "2|shown"}},
	}}
}

func (c tcase) run(t *testing.T, target Target) {
	name := "conf_" + c.name
	src := &source{script: c.script(c.tables), stopAt: 1 << 30}
	var s pipeline.Source = src
	if c.snapshot != nil {
		for _, tb := range c.tables {
			switch tb.HasKey() {
			case true:
				c.snapshot[tb] = []change.Row{row("1", "a"), row("2", "b"), row("3", "c")}
			default:
				c.snapshot[tb] = []change.Row{row("7", "s"), row("7", "s")}
			}
		}
		src.snapshot = c.snapshot
		s = snapshotter{src}
	}
	if c.rules != nil {
		set, err := transform.Compile(c.rules, transform.Options{})
		if err != nil {
			t.Fatal(err)
		}
		s = transform.Wrap(s, set)
	}
	sink := target.Open(t, name)
	if _, ok := sink.(pipeline.Loader); c.snapshot != nil && !ok {
		t.Skip("the sink cannot load a snapshot")
	}
	run(t, s, sink, &memStore{}, name, c.snapshot != nil, Pos(len(src.script)), src.ackedAt)
	sink.Close()
	c.check(t, target)
	if target.Changes != nil && c.rules == nil && c.snapshot == nil {
		for _, tb := range c.tables {
			if got, want := target.Changes(t, tb.ID), countChanges(src.script, tb); got != want {
				t.Errorf("%s: the target holds %d change records, want %d (one per change)", tb.ID, got, want)
			}
		}
	}
}

func (c tcase) check(t *testing.T, target Target) {
	t.Helper()
	for table, want := range c.want {
		id := change.TableID{Schema: "conf", Name: table}
		got := target.Rows(t, id)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("%s holds %q, want %q", id, got, want)
		}
	}
}

func countChanges(s script, tb *change.Table) int {
	n := 0
	for _, txn := range s {
		for _, c := range txn {
			if c.Table == tb {
				n++
			}
		}
	}
	return n
}

// crashAndReplay applies transactions, crashes the pipeline with changes
// applied but not flushed (the sink is dropped without Flush, as kill -9
// drops the process), restarts from the checkpoint and finishes: the
// target holds each change once.
func crashAndReplay(t *testing.T, target Target) {
	k, n := keyed("crash"), keyless("crashnokey")
	var sc script
	var want []string
	for i := range 30 {
		id := strconv.Itoa(i + 1)
		sc = append(sc, []change.Change{op(k, "+"+id+"=v"+id), op(n, "+"+id+"|r")})
		want = append(want, id+"|v"+id)
	}
	name := "conf_crash"
	store := &memStore{}
	src := &source{script: sc, stopAt: 10}
	sink := target.Open(t, name)
	run(t, src, sink, store, name, false, 10, src.ackedAt)
	sink.Close()

	// Crash: the next transactions reach the sink, unflushed.
	sink = target.Open(t, name)
	for i := 10; i < 15; i++ {
		txn := sc.txn(i)
		if err := sink.Apply(context.Background(), txn); err != nil {
			t.Fatalf("apply: %v", err)
		}
		txn.Close()
	}
	crash(sink)

	// Restart: the pipeline reads on from where the target says.
	src.stopAt = len(sc)
	sink = target.Open(t, name)
	run(t, src, sink, store, name, false, Pos(len(sc)), src.ackedAt)
	sink.Close()
	slices.Sort(want)
	if got := target.Rows(t, k.ID); !slices.Equal(got, want) {
		t.Errorf("%s holds %q, want %q", k.ID, got, want)
	}
	if got := target.Rows(t, n.ID); len(got) != len(sc) {
		t.Errorf("%s holds %d rows, want %d: a replay doubled or lost some", n.ID, len(got), len(sc))
	}
	if target.Changes != nil {
		for _, tb := range []*change.Table{k, n} {
			if got := target.Changes(t, tb.ID); got != len(sc) {
				t.Errorf("%s: the target holds %d change records, want %d (each once)", tb.ID, got, len(sc))
			}
		}
	}
}

// Crasher is a sink that can drop what it holds without flushing it, as a
// killed process would (a stream sink aborts its open transaction). Close
// is used otherwise; an SQL sink's Close rolls back the open transaction.
type Crasher interface{ Crash() }

func crash(s pipeline.Sink) {
	if c, ok := s.(Crasher); ok {
		c.Crash()
		return
	}
	s.Close()
}

// downAndBack stops the target while the pipeline runs: the pipeline fails
// (a transient error), and after the target is back a restart finishes
// with nothing lost.
func downAndBack(t *testing.T, target Target) {
	k := keyed("outage")
	var sc script
	var want []string
	for i := range 20 {
		id := strconv.Itoa(i + 1)
		sc = append(sc, []change.Change{op(k, "+"+id+"=v")})
		want = append(want, id+"|v")
	}
	name := "conf_outage"
	store := &memStore{}
	src := &source{script: sc, stopAt: 10}
	sink := target.Open(t, name)
	run(t, src, sink, store, name, false, 10, src.ackedAt)

	target.Down(t)
	src.stopAt = len(sc)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	err := pipeline.New(src, sink, store, pipeline.Options{Name: name, SourceKind: "sinktest", BatchWait: 20 * time.Millisecond,
		Log: zerolog.Nop()}).Run(ctx)
	if err == nil || errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("the pipeline went on with the target down (%v)", err)
	}
	sink.Close()
	target.Up(t)
	sink = target.Open(t, name)
	run(t, src, sink, store, name, false, Pos(len(sc)), src.ackedAt)
	sink.Close()
	slices.Sort(want)
	if got := target.Rows(t, k.ID); !slices.Equal(got, want) {
		t.Errorf("%s holds %q, want %q", k.ID, got, want)
	}
}

// Sorted renders rows (each a list of column texts, "" never NULL: pass ∅)
// as Target.Rows returns them.
func Sorted(rows [][]string) []string {
	out := make([]string, len(rows))
	for i, r := range rows {
		out[i] = strings.Join(r, "|")
	}
	slices.Sort(out)
	return out
}
