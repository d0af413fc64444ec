package sqlsink

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/sluicecdc/sluice/pkg/change"
	"github.com/sluicecdc/sluice/sink/mode"
	"github.com/sluicecdc/sluice/sink/plan"
)

// fakeDialect records what the core asks of it, in order.
type fakeDialect struct {
	calls  []string
	tables map[*change.Table]*fakeTable
}

type fakeTable struct {
	d  *fakeDialect
	id change.TableID
}

func (d *fakeDialect) note(s string) { d.calls = append(d.calls, s) }

func (d *fakeDialect) ColumnType(mode.Kind) string                     { return "text" }
func (d *fakeDialect) Change(c *change.Change) (*change.Change, error) { return c, nil }
func (d *fakeDialect) Begin(context.Context) error                     { d.note("begin"); return nil }
func (d *fakeDialect) Rename(context.Context, *change.Change) error    { d.note("rename"); return nil }
func (d *fakeDialect) BeforeTxn(_ context.Context, txn *change.Txn) error {
	d.note("before " + txn.ID)
	return nil
}

func (d *fakeDialect) Prepare(_ context.Context, sh *mode.Shape) error {
	d.note("prepare " + sh.Table.ID.Name)
	d.tables[sh.Table] = &fakeTable{d: d, id: sh.Table.ID}
	return nil
}

func (d *fakeDialect) Table(t *change.Table) Table {
	if tb := d.tables[t]; tb != nil {
		return tb
	}
	return nil
}

func (t *fakeTable) ID() change.TableID { return t.id }
func (t *fakeTable) Exec(_ context.Context, a plan.Action) error {
	t.d.note("exec " + kindName(a.Kind) + " " + strings.Repeat("r", len(a.Rows)))
	return nil
}
func (t *fakeTable) SoftDeleteKeys(context.Context, []change.Row) error {
	t.d.note("soft delete")
	return nil
}
func (t *fakeTable) SoftDeleteRow(context.Context, change.Row) error {
	t.d.note("soft row")
	return nil
}
func (t *fakeTable) SoftTruncate(context.Context, change.Row) error {
	t.d.note("soft truncate")
	return nil
}
func (t *fakeTable) Held(context.Context, []string) (map[string]bool, error) { return nil, nil }
func (t *fakeTable) Insert(_ context.Context, rows []change.Row) error {
	t.d.note("insert " + strings.Repeat("r", len(rows)))
	return nil
}
func (t *fakeTable) Current(context.Context, []change.Row) (map[string]change.Row, error) {
	return map[string]change.Row{}, nil
}
func (t *fakeTable) EndAll(context.Context, change.Value) error { return nil }
func (t *fakeTable) End(context.Context, []mode.Close) error    { return nil }

func kindName(k plan.Kind) string {
	switch k {
	case plan.Insert:
		return "insert"
	case plan.Upsert:
		return "upsert"
	case plan.Delete:
		return "delete"
	}
	return "other"
}

var people = &change.Table{ID: change.TableID{Schema: "s", Name: "people"},
	Columns: []change.Column{{Name: "id", Type: "int"}, {Name: "name", Type: "text"}}, Key: []int{0}}

func txn(t *testing.T, id string, part change.Part, cs ...change.Change) *change.Txn {
	t.Helper()
	x := change.NewTxn("", 0)
	x.ID, x.Part, x.Commit = id, part, time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	x.Position = pos(id)
	for _, c := range cs {
		if err := x.Add(c); err != nil {
			t.Fatal(err)
		}
	}
	return x
}

// pos is a position that is its own text.
type pos string

func (p pos) String() string { return string(p) }
func (p pos) Compare(o change.Position) int {
	return strings.Compare(string(p), o.String())
}

func insert(id, name string) change.Change {
	return change.Change{Op: change.Insert, Table: people, After: change.Row{change.Text(id), change.Text(name)}}
}

func remove(id string) change.Change {
	return change.Change{Op: change.Delete, Table: people, Before: change.Row{change.Text(id), change.NullValue}}
}

func newCore(o mode.Options, chunk int) (*Core, *fakeDialect) {
	d := &fakeDialect{tables: map[*change.Table]*fakeTable{}}
	return New(d, Config{Mode: o, ChunkRows: chunk}), d
}

// TestChunks: a plan is prepared once per shape and executed whenever a
// chunk is full, and the rest when asked.
func TestChunks(t *testing.T) {
	ctx := context.Background()
	c, d := newCore(mode.Options{}, 2)
	if err := c.Apply(ctx, txn(t, "t1", change.Whole, insert("1", "a"), insert("2", "b"), insert("3", "c"))); err != nil {
		t.Fatal(err)
	}
	if !c.Pending() {
		t.Error("the third insert is not pending")
	}
	if c.LastPos() != pos("t1") {
		t.Errorf("last position %v, want t1", c.LastPos())
	}
	if err := c.ExecAll(ctx); err != nil {
		t.Fatal(err)
	}
	want := "before t1|prepare people|exec insert rr|exec insert r"
	if got := strings.Join(d.calls, "|"); got != want {
		t.Errorf("calls %s, want %s", got, want)
	}
}

// TestSoftDeletes: with soft deletes, deletes go to SoftDelete, and a
// truncate without the mode's values stops.
func TestSoftDeletes(t *testing.T) {
	ctx := context.Background()
	c, d := newCore(mode.Options{SoftDelete: "_deleted_at"}, 100)
	if err := c.Apply(ctx, txn(t, "t1", change.Whole, insert("1", "a"), remove("2"))); err != nil {
		t.Fatal(err)
	}
	if err := c.ExecAll(ctx); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(d.calls, "|"); !strings.Contains(got, "soft delete") || strings.Contains(got, "exec delete") {
		t.Errorf("calls %s: want the delete soft", got)
	}
	p := c.Plan(people.ID)
	p.Add(&change.Change{Op: change.Truncate, Table: p.Table})
	if err := c.ExecPlan(ctx, p); err == nil || !strings.Contains(err.Error(), "carries no values") {
		t.Errorf("soft truncate without values: %v", err)
	}
}

// TestPartsRefused: a mode whose rows record the commit refuses the parts
// of a running transaction, and the sink stays broken.
func TestPartsRefused(t *testing.T) {
	ctx := context.Background()
	c, _ := newCore(mode.Options{Mode: mode.History}, 100)
	err := c.Apply(ctx, txn(t, "t1", change.Open, insert("1", "a")))
	if err == nil || !strings.Contains(err.Error(), "parts cannot be applied") {
		t.Fatalf("parts in history mode: %v", err)
	}
	if err2 := c.Apply(ctx, txn(t, "t2", change.Whole, insert("2", "b"))); err2 != c.Broken() || err2 == nil {
		t.Errorf("after a failure: %v, want the first error", err2)
	}
}

// TestLogs: history and append changes collect in a log that writes through
// the table's mode.Writer; a rename in append mode is passed over.
func TestLogs(t *testing.T) {
	ctx := context.Background()
	c, d := newCore(mode.Options{Mode: mode.Append}, 100)
	c.Replay().New()
	rename := change.Change{Op: change.Rename, Table: people}
	if err := c.Apply(ctx, txn(t, "t1", change.Whole, insert("1", "a"), rename, insert("2", "b"))); err != nil {
		t.Fatal(err)
	}
	if err := c.ExecAll(ctx); err != nil {
		t.Fatal(err)
	}
	want := "before t1|prepare people|begin|insert rr"
	if got := strings.Join(d.calls, "|"); got != want {
		t.Errorf("calls %s, want %s", got, want)
	}
}
