package transform

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sluicecdc/sluice/pkg/change"
	"github.com/sluicecdc/sluice/pkg/config"
	"github.com/sluicecdc/sluice/pkg/pipeline"
)

// fakeSource yields the transactions next returns; snap is its snapshot.
type fakeSource struct {
	next     func() (*change.Txn, error)
	snap     pipeline.Snapshot
	parts    bool
	checked  bool
	startPos change.Position
}

func (f *fakeSource) Start(_ context.Context, from change.Position) error {
	f.startPos = from
	return nil
}
func (f *fakeSource) Next(context.Context) (*change.Txn, error)           { return f.next() }
func (f *fakeSource) Ack(context.Context, change.Position) error          { return nil }
func (f *fakeSource) ParsePosition(s string) (change.Position, error)     { return pos(s), nil }
func (f *fakeSource) Close() error                                        { return nil }
func (f *fakeSource) DeliverParts()                                       { f.parts = true }
func (f *fakeSource) Snapshot(context.Context) (pipeline.Snapshot, error) { return f.snap, nil }
func (f *fakeSource) Check(context.Context) []string {
	f.checked = true
	return []string{"a problem"}
}

type pos string

func (p pos) String() string                { return string(p) }
func (p pos) Compare(o change.Position) int { return strings.Compare(string(p), o.String()) }

// fakeSnapshot holds rows per table, one chunk per table.
type fakeSnapshot struct {
	tables []*change.Table
	rows   map[*change.Table][]change.Row
	closed bool
}

func (f *fakeSnapshot) Tables() []*change.Table { return f.tables }
func (f *fakeSnapshot) Chunks(context.Context) ([]pipeline.Chunk, error) {
	var out []pipeline.Chunk
	for _, t := range f.tables {
		out = append(out, pipeline.Chunk{Table: t, Of: 1, Where: "w"})
	}
	return out, nil
}
func (f *fakeSnapshot) Read(_ context.Context, c pipeline.Chunk, fn func(change.Row) error) error {
	rows, ok := f.rows[c.Table]
	if !ok {
		return fmt.Errorf("unknown table %v", c.Table.ID)
	}
	for _, r := range rows {
		if err := fn(r); err != nil {
			return err
		}
	}
	return nil
}
func (f *fakeSnapshot) Position() change.Position { return pos("p1") }
func (f *fakeSnapshot) Close() error {
	f.closed = true
	return nil
}

func TestTxnParts(t *testing.T) {
	src := customers()
	s := mustCompile(t, config.Transform{Tables: []string{"public.customers"}, Where: "country == 'NL'"})
	commit := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, part := range []change.Part{change.Whole, change.Open, change.Savepoint, change.RollbackSub, change.Abort, change.Done} {
		in := change.NewTxn(t.TempDir(), 0)
		in.ID, in.Commit, in.Position, in.Part, in.Sub = "tx1", commit, pos("p9"), part, "sp1"
		innerClosed := 0
		in.OnClose(func() { innerClosed++ })
		for _, country := range []string{"NL", "DE", "NL"} {
			if err := in.Add(change.Change{Op: change.Insert, Table: src, After: row("1", "a", country, "1", "x", "y")}); err != nil {
				t.Fatal(err)
			}
		}
		fs := &fakeSource{next: func() (*change.Txn, error) { return in, nil }}
		out, err := Wrap(fs, s).Next(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if out.ID != "tx1" || !out.Commit.Equal(commit) || out.Position != pos("p9") || out.Part != part || out.Sub != "sp1" || out.Len() != 2 {
			t.Fatalf("part %d: out = %+v with %d changes", part, out, out.Len())
		}
		out.Close()
		if innerClosed != 1 {
			t.Fatalf("Close released the source's budget %d times, want 1", innerClosed)
		}
	}
}

func TestTxnUntouchedAndSpilled(t *testing.T) {
	s := mustCompile(t, config.Transform{Tables: []string{"public.customers"}, Where: "country == 'NL'"})
	other := &change.Table{ID: change.TableID{Schema: "public", Name: "orders"}, Columns: []change.Column{{Name: "id", Type: "integer"}}}
	in := change.NewTxn(t.TempDir(), 0)
	in.Add(change.Change{Op: change.Insert, Table: other, After: row("1")}) //nolint:errcheck
	out, err := s.Txn(in)
	if err != nil || out != in {
		t.Fatalf("a transaction no rule touches was copied (%v)", err)
	}

	// A spilled transaction is transformed from its file.
	in = change.NewTxn(t.TempDir(), 1)
	for i := range 100 {
		country := []string{"NL", "DE"}[i%2]
		if err := in.Add(change.Change{Op: change.Insert, Table: customers(), After: row(fmt.Sprint(i), "a", country, "1", "x", "y")}); err != nil {
			t.Fatal(err)
		}
	}
	if !in.Spilled() {
		t.Fatal("not spilled")
	}
	out, err = s.Txn(in)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	n := 0
	out.Each(func(c *change.Change) error { //nolint:errcheck
		if c.After[2].String() != "NL" {
			t.Errorf("row %v passed the filter", c.After)
		}
		n++
		return nil
	})
	if n != 50 {
		t.Fatalf("%d rows passed, want 50", n)
	}
}

func TestNextError(t *testing.T) {
	s := mustCompile(t, config.Transform{Tables: []string{"public.customers"}, Columns: config.TransformColumns{Exclude: []string{"nope"}}})
	in := change.NewTxn(t.TempDir(), 0)
	closed := false
	in.OnClose(func() { closed = true })
	in.Add(change.Change{Op: change.Insert, Table: customers(), After: row("1", "a", "NL", "1", "x", "y")}) //nolint:errcheck
	_, err := Wrap(&fakeSource{next: func() (*change.Txn, error) { return in, nil }}, s).Next(context.Background())
	if err == nil || !strings.Contains(err.Error(), `transforms[0].columns.exclude: public.customers has no column "nope"`) || !closed {
		t.Fatalf("err = %v, closed %v", err, closed)
	}
	boom := errors.New("boom")
	_, err = Wrap(&fakeSource{next: func() (*change.Txn, error) { return nil, boom }}, s).Next(context.Background())
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v, want the source's", err)
	}
}

func TestForwarding(t *testing.T) {
	fs := &fakeSource{}
	w := Wrap(fs, mustCompile(t))
	w.DeliverParts()
	if !fs.parts {
		t.Error("DeliverParts not forwarded")
	}
	if p := w.Check(context.Background()); len(p) != 1 || !fs.checked {
		t.Error("Check not forwarded")
	}
	if err := w.Start(context.Background(), pos("p3")); err != nil || fs.startPos != pos("p3") {
		t.Error("Start not forwarded")
	}
	if w.Unwrap() != fs {
		t.Error("Unwrap")
	}
}

func TestSnapshot(t *testing.T) {
	cust := customers()
	other := &change.Table{ID: change.TableID{Schema: "public", Name: "orders"}, Columns: []change.Column{{Name: "id", Type: "integer"}}, Key: []int{0}}
	fsnap := &fakeSnapshot{tables: []*change.Table{cust, other}, rows: map[*change.Table][]change.Row{
		cust:  {row("1", "a", "NL", "1", "x", "y"), row("2", "b", "DE", "1", "x", "y"), row("3", "c", "NL", "1", "x", "y")},
		other: {row("10"), row("11")},
	}}
	s := mustCompile(t, config.Transform{Tables: []string{"public.customers"}, Where: "country == 'NL'",
		Columns: config.TransformColumns{Include: []string{"id", "name"}}, Target: config.TransformTarget{Table: "customer"}})
	snap, err := Wrap(&fakeSource{snap: fsnap}, s).Snapshot(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	tables := snap.Tables()
	if len(tables) != 2 || tables[0].ID.Name != "customer" || len(tables[0].Columns) != 2 || tables[1] != other {
		t.Fatalf("tables = %v %v", tables[0].ID, tables[1].ID)
	}
	chunks, err := snap.Chunks(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range chunks {
		if c.Where != "w" {
			t.Error("chunk's range lost")
		}
		err := snap.Read(context.Background(), c, func(r change.Row) error {
			got = append(got, c.Table.ID.Name+fmt.Sprint(r))
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if want := "customer[1 a] customer[3 c] orders[10] orders[11]"; strings.Join(got, " ") != want {
		t.Fatalf("rows = %s, want %s", strings.Join(got, " "), want)
	}
	if snap.Position() != pos("p1") || snap.Close() != nil || !fsnap.closed {
		t.Fatal("Position/Close not forwarded")
	}

	// A rule that does not fit a table fails the snapshot before any row.
	bad := mustCompile(t, config.Transform{Tables: []string{"public.customers"}, Where: "contry == 'NL'"})
	fsnap.closed = false
	_, err = Wrap(&fakeSource{snap: fsnap}, bad).Snapshot(context.Background())
	if err == nil || !strings.Contains(err.Error(), `transforms[0].where: public.customers has no column "contry"`) || !fsnap.closed {
		t.Fatalf("err = %v, closed %v", err, fsnap.closed)
	}
}
