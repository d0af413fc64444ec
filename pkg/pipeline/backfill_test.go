package pipeline

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sluicecdc/sluice/checkpoint"
	"github.com/sluicecdc/sluice/pkg/change"
)

// backfillSource is a fakeSource that can back-fill: it records what it is
// asked to back-fill.
type backfillSource struct {
	*fakeSource
	asked chan []checkpoint.Backfill
	check func(checkpoint.Backfill) error
}

func (s *backfillSource) CheckBackfill(_ context.Context, b checkpoint.Backfill) error {
	if s.check != nil {
		return s.check(b)
	}
	return nil
}
func (s *backfillSource) Backfill(bs []checkpoint.Backfill) { s.asked <- bs }

// chunk is a back-fill chunk of table s.t at position p.
func chunk(p int, after string, rows int64, done bool) *change.Txn {
	t := txn(p)
	t.Backfill = &change.Backfill{Source: change.TableID{Schema: "s", Name: "t"}, ID: "r1", After: []string{after}, Rows: rows, Done: done}
	return t
}

// A chunk is applied even at a position the target already holds (it
// shares the position of the transaction before it), its progress is
// checkpointed right after its flush, and the finished back-fill leaves
// the checkpoint.
func TestBackfillProgressCheckpointed(t *testing.T) {
	ev, fsrc, sink, store := setup(streaming("10"))
	src := &backfillSource{fakeSource: fsrc, asked: make(chan []checkpoint.Backfill, 4)}
	store.cp.Backfills = []checkpoint.Backfill{{Table: "s.t", ID: "r1", After: []string{"5"}, Rows: 5}}
	fsrc.txns <- chunk(10, "9", 9, false) // at the target's position: not a replay
	p := New(src, sink, store, quiet)
	if err := runUntil(t, p, ev, "save(streaming,10)"); err != nil {
		t.Fatal(err)
	}
	resumed := <-src.asked
	if len(resumed) != 1 || !slices.Equal(resumed[0].After, []string{"5"}) {
		t.Fatalf("resumed %+v, want the checkpoint's back-fill after key 5", resumed)
	}
	if got := ev.String(); !strings.Contains(got, "apply(10) flush save(streaming,10)") {
		t.Fatalf("events %q: want the chunk applied, flushed, then saved", got)
	}
	if bs := store.cp.Backfills; len(bs) != 1 || !slices.Equal(bs[0].After, []string{"9"}) || bs[0].Rows != 9 {
		t.Fatalf("checkpoint back-fills %+v, want progress after key 9", bs)
	}

	ev2 := &events{}
	fsrc.ev, sink.ev, store.ev = ev2, ev2, ev2
	fsrc.txns <- chunk(10, "12", 12, true)
	if err := runUntil(t, New(src, sink, store, quiet), ev2, "save(streaming,10)"); err != nil {
		t.Fatal(err)
	}
	<-src.asked
	if len(store.cp.Backfills) != 0 {
		t.Fatalf("checkpoint back-fills %+v after the last chunk, want none", store.cp.Backfills)
	}
}

// A request is checked by the source, refused while the pipeline does not
// stream, and once streaming recorded in the checkpoint before the source
// hears of it.
func TestRequestBackfill(t *testing.T) {
	ev, fsrc, sink, store := setup(streaming("10"))
	src := &backfillSource{fakeSource: fsrc, asked: make(chan []checkpoint.Backfill, 4), check: func(b checkpoint.Backfill) error {
		if b.Table == "s.nokey" {
			return errors.New("table s.nokey has no primary key")
		}
		return nil
	}}
	p := New(src, sink, store, quiet)
	ctx := context.Background()
	if err := p.RequestBackfill(ctx, []string{"s.t"}, ""); !errors.Is(err, ErrNotStreaming) {
		t.Fatalf("request before Run: %v, want ErrNotStreaming", err)
	}
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- p.Run(rctx) }()
	deadline := time.Now().Add(5 * time.Second)
	var err error
	for err = p.RequestBackfill(ctx, []string{"s.t"}, "id > 3"); errors.Is(err, ErrNotStreaming) && time.Now().Before(deadline); err = p.RequestBackfill(ctx, []string{"s.t"}, "id > 3") {
		time.Sleep(time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	asked := <-src.asked
	if len(asked) != 1 || asked[0].Table != "s.t" || asked[0].Where != "id > 3" || asked[0].ID == "" {
		t.Fatalf("source asked %+v", asked)
	}
	if bs := store.cp.Backfills; len(bs) != 1 || bs[0].Table != "s.t" {
		t.Fatalf("checkpoint back-fills %+v, want the request recorded before the source starts it", bs)
	}
	if err := p.RequestBackfill(ctx, []string{"s.nokey"}, ""); err == nil || !strings.Contains(err.Error(), "primary key") {
		t.Fatalf("request of a keyless table: %v", err)
	}
	if err := p.RequestBackfill(ctx, []string{"nodot"}, ""); err == nil {
		t.Fatal("request of a table without schema accepted")
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	_ = ev
}
