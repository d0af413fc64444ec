package change

import (
	"fmt"
	"testing"
)

func TestTxnSpillRoundTrip(t *testing.T) {
	tbl := &Table{ID: TableID{"public", "t"}, Columns: []Column{{Name: "id"}, {Name: "v"}}, Key: []int{0}}
	txn := NewTxn(t.TempDir(), 1024) // tiny limit: most changes spill
	defer txn.Close()
	var want []string
	for i := 0; i < 500; i++ {
		c := Change{Op: Insert, Table: tbl, After: Row{Text(fmt.Sprint(i)), {State: Null}}}
		switch i % 4 {
		case 1:
			c = Change{Op: Update, Table: tbl, Before: Row{Text(fmt.Sprint(i)), {State: Missing}}, After: Row{Text(fmt.Sprint(i)), {State: Unchanged}}}
		case 2:
			c = Change{Op: Delete, Table: tbl, Before: Row{Text(fmt.Sprint(i)), Text("")}}
		case 3:
			c = Change{Op: Insert, Table: tbl, After: Row{Text(fmt.Sprint(i)), Text("tab\there\nnew")}}
		}
		if err := txn.Add(c); err != nil {
			t.Fatal(err)
		}
		want = append(want, describe(&c))
	}
	if !txn.Spilled() || txn.Len() != 500 {
		t.Fatalf("spilled=%v len=%d", txn.Spilled(), txn.Len())
	}
	for round := 0; round < 2; round++ { // Each can run twice
		var got []string
		if err := txn.Each(func(c *Change) error { got = append(got, describe(c)); return nil }); err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("round %d: changes differ after spill:\n got %v\nwant %v", round, got[:5], want[:5])
		}
	}
}

func TestTxnRewind(t *testing.T) {
	tbl := &Table{ID: TableID{"public", "t"}, Columns: []Column{{Name: "id"}}}
	for _, limit := range []int{1 << 20, 200} { // in memory, and spilled
		txn := NewTxn(t.TempDir(), limit)
		add := func(i int) {
			if err := txn.Add(Change{Op: Insert, Table: tbl, After: Row{Text(fmt.Sprint(i))}}); err != nil {
				t.Fatal(err)
			}
		}
		for i := 0; i < 10; i++ {
			add(i)
		}
		m, err := txn.Mark()
		if err != nil {
			t.Fatal(err)
		}
		for i := 10; i < 20; i++ {
			add(i)
		}
		if err := txn.Rewind(m); err != nil {
			t.Fatal(err)
		}
		add(99)
		var got []string
		txn.Each(func(c *Change) error { got = append(got, c.After[0].String()); return nil })
		if fmt.Sprint(got) != "[0 1 2 3 4 5 6 7 8 9 99]" || txn.Len() != 11 {
			t.Fatalf("limit %d: after rewind got %v (len %d)", limit, got, txn.Len())
		}
		txn.Close()
	}
}

func describe(c *Change) string {
	return fmt.Sprintf("%s %s %v %v", c.Op, c.Table.ID, c.Before, c.After)
}

// Transactions sharing a budget keep at most its bytes in memory together:
// the one being added to when it is spent spills; closing gives bytes back.
func TestTxnBudget(t *testing.T) {
	tbl := &Table{ID: TableID{"public", "t"}, Columns: []Column{{Name: "v"}}}
	c := Change{Op: Insert, Table: tbl, After: Row{Text(string(make([]byte, 1000)))}}
	b := NewBudget(int64(10 * c.Size()))
	a, d := NewTxnIn(t.TempDir(), 0, b), NewTxnIn(t.TempDir(), 0, b)
	for _, x := range []*Txn{a, d} {
		for range 6 {
			if err := x.Add(c); err != nil {
				t.Fatal(err)
			}
		}
	}
	if a.Spilled() || !d.Spilled() || b.Used() != int64(10*c.Size()) {
		t.Fatalf("a spilled %v, d spilled %v, used %d of %d", a.Spilled(), d.Spilled(), b.Used(), 10*c.Size())
	}
	m, _ := a.Mark()
	a.Add(c) //nolint:errcheck
	if err := a.Rewind(m); err != nil || b.Used() != int64(10*c.Size()) {
		t.Fatalf("rewind: %v, used %d", err, b.Used())
	}
	a.Close()
	d.Close()
	if b.Used() != 0 {
		t.Fatalf("%d bytes still counted after both closed", b.Used())
	}
	for _, x := range []*Txn{a, d} {
		if err := x.Close(); err != nil || b.Used() != 0 { // a second Close gives nothing back twice
			t.Fatalf("second close: %v, used %d", err, b.Used())
		}
	}
}

// EachRange reads exactly the changes between two marks, across the point
// where the transaction began to spill.
func TestTxnEachRange(t *testing.T) {
	tbl := &Table{ID: TableID{"public", "t"}, Columns: []Column{{Name: "id"}}}
	txn := NewTxn(t.TempDir(), 1024)
	defer txn.Close()
	var marks []Mark
	for i := range 200 {
		if i%50 == 0 {
			m, err := txn.Mark()
			if err != nil {
				t.Fatal(err)
			}
			marks = append(marks, m)
		}
		txn.Add(Change{Op: Insert, Table: tbl, After: Row{Text(fmt.Sprint(i))}}) //nolint:errcheck
	}
	end, _ := txn.Mark()
	marks = append(marks, end)
	if !txn.Spilled() {
		t.Fatal("want a spilled transaction")
	}
	for i := 0; i+1 < len(marks); i++ {
		for j := i + 1; j < len(marks); j++ {
			var got []string
			err := txn.EachRange(marks[i], marks[j], func(c *Change) error { got = append(got, string(c.After[0].Data)); return nil })
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 50*(j-i) || got[0] != fmt.Sprint(50*i) || got[len(got)-1] != fmt.Sprint(50*j-1) {
				t.Fatalf("range %d..%d: got %d changes %v..%v", i, j, len(got), got[0], got[len(got)-1])
			}
		}
	}
}

func TestTxnTables(t *testing.T) {
	a, b, c := &Table{ID: TableID{"s", "a"}}, &Table{ID: TableID{"s", "b"}}, &Table{ID: TableID{"s", "c"}}
	txn := NewTxn(t.TempDir(), 200) // spills after a few changes
	defer txn.Close()
	for _, tb := range []*Table{a, a, b, a, c, c, b} {
		if err := txn.Add(Change{Op: Insert, Table: tb, After: Row{Text("0123456789012345678901234567890123456789")}}); err != nil {
			t.Fatal(err)
		}
	}
	if !txn.Spilled() {
		t.Fatal("the transaction should have spilled")
	}
	got := txn.Tables()
	if len(got) != 3 || got[0] != a || got[1] != b || got[2] != c {
		t.Errorf("Tables = %v, want a, b, c", got)
	}
}
