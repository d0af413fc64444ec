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
