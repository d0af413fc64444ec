package pipeline

import (
	"errors"
	"strings"
	"testing"

	"github.com/sluicecdc/sluice/checkpoint"
	"github.com/sluicecdc/sluice/pkg/change"
)

// signalled is a transaction at position p that carries signals.
func signalled(p int, sigs ...change.Signal) *change.Txn {
	t := txn(p)
	t.Signals = sigs
	return t
}

// A signal's back-fill is in the checkpoint saved at the signal's
// transaction, before the source hears of it; a bad signal asks nothing
// and the pipeline goes on.
func TestSignalRecordedWithItsTransaction(t *testing.T) {
	ev, fsrc, sink, store := setup(streaming("10"))
	src := &backfillSource{fakeSource: fsrc, asked: make(chan []checkpoint.Backfill, 4), check: func(b checkpoint.Backfill) error {
		if b.Table == "s.bad" {
			return errors.New("table s.bad is not replicated")
		}
		return nil
	}}
	fsrc.txns <- signalled(11, change.Signal{ID: "1", Table: "s.bad"}, change.Signal{ID: "2", Err: "the row names no table"})
	fsrc.txns <- signalled(12, change.Signal{ID: "3", Table: "s.t", Where: "id > 1"})
	fsrc.txns <- txn(13)
	if err := runUntil(t, New(src, sink, store, quiet), ev, "ack(13)"); err != nil {
		t.Fatal(err)
	}
	asked := <-src.asked
	if len(asked) != 1 || asked[0].ID != "signal-3" || asked[0].Where != "id > 1" {
		t.Fatalf("source asked %+v, want the good signal only", asked)
	}
	if got := ev.String(); !strings.Contains(got, "apply(12) flush save(streaming,12)") {
		t.Fatalf("events %q: want the signal's transaction flushed and saved with the request", got)
	}
	if bs := store.cp.Backfills; len(bs) != 1 || bs[0].ID != "signal-3" {
		t.Fatalf("checkpoint back-fills %+v", bs)
	}
}

// A signal read again after a crash (the checkpoint lists its request
// already) starts no second back-fill.
func TestSignalReadAgainStartsNothing(t *testing.T) {
	ev, fsrc, sink, store := setup(streaming("10"))
	store.cp.Backfills = []checkpoint.Backfill{{Table: "s.t", ID: "signal-3"}}
	src := &backfillSource{fakeSource: fsrc, asked: make(chan []checkpoint.Backfill, 4)}
	fsrc.txns <- signalled(12, change.Signal{ID: "3", Table: "s.t"})
	fsrc.txns <- txn(13)
	if err := runUntil(t, New(src, sink, store, quiet), ev, "ack(13)"); err != nil {
		t.Fatal(err)
	}
	if resumed := <-src.asked; len(resumed) != 1 || resumed[0].ID != "signal-3" {
		t.Fatalf("resumed %+v", resumed)
	}
	select {
	case again := <-src.asked:
		t.Fatalf("the signal read again started a back-fill: %+v", again)
	default:
	}
}
