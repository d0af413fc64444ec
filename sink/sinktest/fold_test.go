package sinktest

import (
	"slices"
	"testing"

	"github.com/sluicecdc/sluice/sink/envelope"
)

// Fold replays what the envelope encoder writes into the rows the changes
// make, with and without schemas and transaction metadata.
func TestFoldEnvelope(t *testing.T) {
	k, n := keyed("fold"), keyless("foldnokey")
	sc := script{
		{op(k, "+1=a"), op(k, "+2=b"), op(n, "+1|x"), op(n, "+1|x")},
		{op(k, "1>3=a3"), op(k, "-2"), op(n, "~1|x>2|y"), op(n, "+5|∅")},
		{op(k, "!"), op(k, "+4=d")},
	}
	for _, schemas := range []bool{false, true} {
		enc, err := envelope.New(envelope.Options{Prefix: "p", Version: "test", Database: "db", Schemas: schemas, TransactionMetadata: schemas})
		if err != nil {
			t.Fatal(err)
		}
		var events []Event
		for i := range sc {
			txn := sc.txn(i)
			tx := enc.Begin(envelope.InfoOf(txn))
			var recs []envelope.Record
			for _, c := range sc[i] {
				if recs, err = tx.Change(recs, &c); err != nil {
					t.Fatal(err)
				}
			}
			recs = tx.End(recs)
			for _, r := range recs {
				events = append(events, Event{Key: r.Key, Value: r.Value})
			}
		}
		s, err := Fold(events)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := s.Rows(k.ID), []string{"4|d"}; !slices.Equal(got, want) {
			t.Errorf("schemas %v: %s = %q, want %q", schemas, k.ID, got, want)
		}
		if got, want := s.Rows(n.ID), []string{"1|x", "2|y", "5|∅"}; !slices.Equal(got, want) {
			t.Errorf("schemas %v: %s = %q, want %q", schemas, n.ID, got, want)
		}
		// key change = delete + create: 2+3+2 events on the keyed table
		if got := s.Changes(k.ID); got != 7 {
			t.Errorf("schemas %v: %d change events on %s, want 7", schemas, got, k.ID)
		}
	}
}
