package sinktest

import (
	"context"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/sluicecdc/sluice/pkg/change"
	"github.com/sluicecdc/sluice/pkg/pipeline"
)

// memTarget is a target in memory: committed rows per table and the
// applied position per pipeline.
type memTarget struct {
	mu      sync.Mutex
	tables  map[change.TableID][]change.Row
	applied map[string]string
	down    bool
}

// memSink writes into a memTarget: applied changes are pending until Flush
// commits them with the position, as the SQL sinks do. bug breaks it on
// purpose, to prove the suite notices.
type memSink struct {
	t       *memTarget
	name    string
	pending []change.Change
	last    change.Position
	bug     string
}

func (s *memSink) Apply(_ context.Context, txn *change.Txn) error {
	err := txn.Each(func(c *change.Change) error {
		if s.bug == "drop deletes" && c.Op == change.Delete {
			return nil
		}
		s.pending = append(s.pending, *c)
		return nil
	})
	if txn.Position != nil {
		s.last = txn.Position
	}
	return err
}

func (s *memSink) Flush(context.Context) error {
	s.t.mu.Lock()
	defer s.t.mu.Unlock()
	if s.t.down {
		return errTargetDown
	}
	for _, c := range s.pending {
		s.t.apply(c)
	}
	s.pending = nil
	if s.last != nil && s.bug != "forget position" {
		s.t.applied[s.name] = s.last.String()
	}
	return nil
}

func (s *memSink) Close() error { return nil }

func (s *memSink) AppliedPosition(context.Context) (string, error) {
	s.t.mu.Lock()
	defer s.t.mu.Unlock()
	if s.t.down {
		return "", errTargetDown
	}
	return s.t.applied[s.name], nil
}

func (s *memSink) PrepareSnapshot(_ context.Context, tables []*change.Table) error {
	s.t.mu.Lock()
	defer s.t.mu.Unlock()
	for _, tb := range tables {
		delete(s.t.tables, tb.ID)
	}
	delete(s.t.applied, s.name)
	return nil
}

func (s *memSink) Load(_ context.Context, tb *change.Table, rows func(yield func(change.Row) error) error) error {
	return rows(func(r change.Row) error {
		s.t.mu.Lock()
		defer s.t.mu.Unlock()
		s.t.apply(change.Change{Op: change.Read, Table: tb, After: slices.Clone(r)})
		return nil
	})
}

type targetDown struct{}

func (targetDown) Error() string { return "target down" }

var errTargetDown error = targetDown{}

// apply changes the committed rows; called with mu held.
func (m *memTarget) apply(c change.Change) {
	rows := m.tables[c.Table.ID]
	same := func(a, b change.Row, cols []int) bool {
		for _, i := range cols {
			if a[i].State != b[i].State || string(a[i].Data) != string(b[i].Data) {
				return false
			}
		}
		return true
	}
	match := func(r change.Row) int {
		cols := c.Table.Key
		if !c.Table.HasKey() {
			cols = []int{0, 1}
		}
		for i, x := range rows {
			if same(x, r, cols) {
				return i
			}
		}
		return -1
	}
	switch c.Op {
	case change.Truncate:
		rows = nil
	case change.Insert, change.Read:
		if i := match(c.After); i >= 0 && c.Table.HasKey() {
			rows[i] = c.After
		} else {
			rows = append(rows, c.After)
		}
	case change.Update, change.Delete:
		if i := match(c.KeyRow()); i >= 0 {
			rows = slices.Delete(rows, i, i+1)
		}
		if c.Op == change.Update {
			if i := match(c.After); i >= 0 && c.Table.HasKey() {
				rows[i] = c.After
			} else {
				rows = append(rows, c.After)
			}
		}
	}
	m.tables[c.Table.ID] = rows
}

func memHarness(bug string) Target {
	m := &memTarget{tables: map[change.TableID][]change.Row{}, applied: map[string]string{}}
	return Target{
		Open: func(t *testing.T, name string) pipeline.Sink { return &memSink{t: m, name: name, bug: bug} },
		Rows: func(t *testing.T, id change.TableID) []string {
			m.mu.Lock()
			defer m.mu.Unlock()
			var out [][]string
			for _, r := range m.tables[id] {
				var cols []string
				for _, v := range r {
					cols = append(cols, v.String())
				}
				out = append(out, cols)
			}
			return Sorted(out)
		},
		Down: func(t *testing.T) { m.mu.Lock(); m.down = true; m.mu.Unlock() },
		Up:   func(t *testing.T) { m.mu.Lock(); m.down = false; m.mu.Unlock() },
	}
}

// The suite passes a correct sink.
func TestSuitePassesCorrectSink(t *testing.T) {
	Run(t, memHarness(""))
}

// The suite fails sinks with the mistakes it exists to catch: each broken
// sink runs the suite in a child test process, which must fail.
func TestSuiteCatchesBrokenSinks(t *testing.T) {
	if bug := os.Getenv("SINKTEST_BUG"); bug != "" {
		Run(t, memHarness(bug))
		return
	}
	for _, bug := range []string{"drop deletes", "forget position"} {
		t.Run(strings.ReplaceAll(bug, " ", "_"), func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run", "^TestSuiteCatchesBrokenSinks$")
			cmd.Env = append(os.Environ(), "SINKTEST_BUG="+bug)
			out, err := cmd.CombinedOutput()
			if err == nil {
				t.Fatalf("the suite passed a sink that has the bug %q:\n%s", bug, out)
			}
		})
	}
}
