package kafka

import (
	"testing"
	"time"

	"github.com/sluicecdc/sluice/pkg/change"
	"github.com/sluicecdc/sluice/sink/envelope"
)

// TestSchemaless: events without schemas take their types from the target
// table's columns when it exists, and are text otherwise.
func TestSchemaless(t *testing.T) {
	cols := []change.Column{
		{Name: "id", Type: "integer"}, {Name: "due", Type: "date"}, {Name: "at", Type: "timestamp(3) without time zone"},
		{Name: "at6", Type: "timestamp(6) without time zone"}, {Name: "atz", Type: "timestamp with time zone"},
		{Name: "amount", Type: "numeric(10,2)"}, {Name: "raw", Type: "bytea"}, {Name: "ok", Type: "boolean"},
		{Name: "doc", Type: "jsonb"}, {Name: "n", Type: "numeric"},
	}
	vals := []string{"7", "2024-02-29", "2024-01-31 13:45:00.5", "1999-12-31 23:59:59.123456", "2024-06-30 18:14:59.123456+00",
		"-12.34", `\x00ff`, "t", `{"a": 1}`, "3.25"}
	tbl := &change.Table{ID: change.TableID{Schema: "app", Name: "t"}, Dialect: change.Postgres, Columns: cols, Key: []int{0}}
	row := change.Row{}
	for _, v := range vals {
		row = append(row, change.Text(v))
	}
	enc, err := envelope.New(envelope.Options{Prefix: "crm", Version: "test", Database: "crm"})
	if err != nil {
		t.Fatal(err)
	}
	recs, err := enc.Begin(envelope.TxnInfo{ID: "1", Commit: time.Unix(1, 0)}).Change(nil, &change.Change{Op: change.Insert, Table: tbl, After: row})
	if err != nil {
		t.Fatal(err)
	}
	typed := Decoder{Target: func(id change.TableID) ([]change.Column, error) {
		if id != tbl.ID {
			t.Errorf("looked up %v", id)
		}
		return cols, nil
	}}
	ev, err := typed.Decode("crm.app.t", recs[0].Key, recs[0].Value)
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range vals {
		if got := ev.Change.After[i].String(); got != v {
			t.Errorf("%s %s: got %q, want %q", cols[i].Name, cols[i].Type, got, v)
		}
		if ev.Change.Table.Columns[i].Type != cols[i].Type {
			t.Errorf("%s: type %q", cols[i].Name, ev.Change.Table.Columns[i].Type)
		}
	}
	var plain Decoder
	ev, err = plain.Decode("crm.app.t", recs[0].Key, recs[0].Value)
	if err != nil {
		t.Fatal(err)
	}
	if got := ev.Change.After[1].String(); got != "19782" || ev.Change.Table.Columns[1].Type != "text" {
		t.Errorf("without a target the date is %q (%s), want its JSON text 19782 (text)", got, ev.Change.Table.Columns[1].Type)
	}
}
