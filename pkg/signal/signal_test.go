package signal

import (
	"context"
	"slices"
	"testing"

	"github.com/rs/zerolog"

	"github.com/sluicecdc/sluice/pkg/change"
)

// listSource yields its transactions in order.
type listSource struct{ txns []*change.Txn }

func (s *listSource) Start(context.Context, change.Position) error { return nil }
func (s *listSource) Next(context.Context) (*change.Txn, error) {
	t := s.txns[0]
	s.txns = s.txns[1:]
	return t, nil
}
func (s *listSource) Ack(context.Context, change.Position) error    { return nil }
func (s *listSource) ParsePosition(string) (change.Position, error) { return nil, nil }
func (s *listSource) Close() error                                  { return nil }

var (
	sigTable = &change.Table{ID: change.TableID{Schema: "public", Name: "sluice_signals"},
		Columns: []change.Column{{Name: "id"}, {Name: "table_name"}, {Name: "where_clause"}, {Name: "requested_at"}}}
	orders = &change.Table{ID: change.TableID{Schema: "public", Name: "orders"}, Columns: []change.Column{{Name: "id"}}}
)

func sigRow(id, table string, where *string) change.Change {
	w := change.Value{State: change.Null}
	if where != nil {
		w = change.Text(*where)
	}
	return change.Change{Op: change.Insert, Table: sigTable, After: change.Row{change.Text(id), change.Text(table), w, change.Text("now")}}
}

func mk(part change.Part, sub string, cs ...change.Change) *change.Txn {
	t := change.NewTxn("", 0)
	t.Part, t.Sub = part, sub
	for _, c := range cs {
		t.Add(c)
	}
	return t
}

func tablesOf(t *change.Txn) []string {
	var out []string
	t.Each(func(c *change.Change) error { out = append(out, c.Table.ID.Name); return nil })
	return out
}

func TestNextTakesSignalsOut(t *testing.T) {
	where := "id > 3"
	order := change.Change{Op: change.Insert, Table: orders, After: change.Row{change.Text("1")}}
	del := change.Change{Op: change.Delete, Table: sigTable, Before: change.Row{change.Text("1")}}
	inner := &listSource{txns: []*change.Txn{
		mk(change.Whole, "", order, sigRow("1", "public.orders", nil), sigRow("2", "public.orders", &where), del),
		mk(change.Whole, "", sigRow("3", "", nil)),
		// a transaction delivered in parts: the signal of the rolled-back subtransaction is void
		mk(change.Open, "", sigRow("4", "public.a", nil)),
		mk(change.Savepoint, "s1"),
		mk(change.Open, "", sigRow("5", "public.b", nil)),
		mk(change.RollbackSub, "s1"),
		mk(change.Open, "", sigRow("6", "public.c", nil)),
		mk(change.Done, ""),
		mk(change.Open, "", sigRow("7", "public.d", nil)),
		mk(change.Abort, ""),
		mk(change.Whole, "", order),
	}}
	s := Wrap(inner, sigTable.ID, "postgres", zerolog.Nop())
	next := func() *change.Txn {
		t.Helper()
		txn, err := s.Next(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return txn
	}
	first := next()
	if got := tablesOf(first); !slices.Equal(got, []string{"orders"}) {
		t.Errorf("changes left %v, want orders only", got)
	}
	want := []change.Signal{{ID: "1", Table: "public.orders"}, {ID: "2", Table: "public.orders", Where: "id > 3"}}
	if !slices.Equal(first.Signals, want) {
		t.Errorf("signals %+v, want %+v", first.Signals, want)
	}
	if bad := next().Signals; len(bad) != 1 || bad[0].ID != "3" || bad[0].Err == "" {
		t.Errorf("empty table_name: %+v, want an error signal", bad)
	}
	var ids []string
	for range 6 {
		txn := next()
		if len(tablesOf(txn)) != 0 {
			t.Errorf("part %d kept signal rows", txn.Part)
		}
		for _, sg := range txn.Signals {
			if txn.Part != change.Done {
				t.Errorf("signal %s handed on before the commit", sg.ID)
			}
			ids = append(ids, sg.ID)
		}
	}
	if !slices.Equal(ids, []string{"4", "6"}) {
		t.Errorf("signals of the running transaction %v, want 4 and 6", ids)
	}
	next() // the part with signal 7
	next() // its Abort
	if last := next(); len(last.Signals) != 0 {
		t.Errorf("the aborted transaction's signal came through: %+v", last.Signals)
	}
}
