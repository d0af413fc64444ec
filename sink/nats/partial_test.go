package nats

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/sluicecdc/sluice/internal/natstest"
	"github.com/sluicecdc/sluice/pkg/change"
	"github.com/sluicecdc/sluice/sink/sinktest"
)

var itemsTable = &change.Table{ID: change.TableID{Schema: "public", Name: "items"}, Dialect: change.Postgres, Identity: change.IdentityKey,
	Columns: []change.Column{{Name: "id", Type: "integer", TypeOID: 23, NotNull: true}, {Name: "v", Type: "text", TypeOID: 25}}, Key: []int{0}}

// insertTxn is transaction pos inserting ids from..to-1 (v = "v<id>").
func insertTxn(t *testing.T, pos, from, to int) *change.Txn {
	t.Helper()
	txn := change.NewTxn("", 0)
	txn.ID, txn.Position, txn.Commit = strconv.Itoa(pos), sinktest.Pos(pos), time.Unix(1700000000+int64(pos), 0)
	for id := from; id < to; id++ {
		if err := txn.Add(change.Change{Op: change.Insert, Table: itemsTable,
			After: change.Row{change.Text(strconv.Itoa(id)), change.Text("v" + strconv.Itoa(id))}}); err != nil {
			t.Fatal(err)
		}
	}
	return txn
}

func apply(t *testing.T, s *Sink, txns ...*change.Txn) {
	t.Helper()
	for _, txn := range txns {
		if err := s.Apply(context.Background(), txn); err != nil {
			t.Fatal(err)
		}
		txn.Close()
	}
}

func flush(t *testing.T, s *Sink) {
	t.Helper()
	if err := s.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func appliedPosition(t *testing.T, s *Sink) string {
	t.Helper()
	pos, err := s.AppliedPosition(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return pos
}

// checkOnce checks that the stream holds ids 0..n-1 of items each once, in
// id order (every transaction inserts ascending ids).
func checkOnce(t *testing.T, url string, set Settings, n int) {
	t.Helper()
	msgs := readStream(t, url, set.streamName(), subject(set.SubjectPrefix, itemsTable.ID))
	if len(msgs) != n {
		t.Errorf("the stream holds %d messages for %d inserts", len(msgs), n)
	}
	for i, m := range msgs {
		if want := fmt.Sprintf(`{"id":%d}`, i); m.Header.Get(HeaderKey) != want {
			t.Fatalf("message %d (seq %d) has key %s, want %s: a change is missing, doubled or out of order", i, m.Seq, m.Header.Get(HeaderKey), want)
		}
	}
}

// TestPartialTransactionOutsideDuplicateWindow: the stream holds a whole
// transaction and half of the next after the last progress marker, as a
// kill -9 in the middle of publishing leaves it (the same ids, acknowledged), and the duplicate window
// (100ms) is long past: the sink resumes from the marker and the replay
// stores each change once, in order.
func TestPartialTransactionOutsideDuplicateWindow(t *testing.T) {
	srv := natstest.Start(t)
	set := testSettings(srv.URL())
	set.Schemas = false
	set.DuplicateWindow = 100 * time.Millisecond
	s := openSink(t, set, "partial")
	if pos := appliedPosition(t, s); pos != "" {
		t.Fatalf("a new stream says position %q", pos)
	}
	apply(t, s, insertTxn(t, 1, 0, 4), insertTxn(t, 2, 4, 8))
	flush(t, s)
	markerAfter2 := s.markerSeq
	// The crash: transaction 3 and the first half of transaction 4 are
	// stored (acknowledged), the rest and the marker never sent.
	apply(t, s, insertTxn(t, 3, 8, 12), insertTxn(t, 4, 12, 14))
	if err := s.waitAcks(context.Background(), s.futures); err != nil {
		t.Fatal(err)
	}
	s.Crash()
	time.Sleep(300 * time.Millisecond) // past the duplicate window

	s = openSink(t, set, "partial")
	if pos := appliedPosition(t, s); pos != "2" {
		t.Fatalf("resumes from %q, want 2 (the last marker at seq %d)", pos, markerAfter2)
	}
	if len(s.present) != 6 {
		t.Errorf("found %d stored records after the marker, want 6 (transaction 3, half of 4)", len(s.present))
	}
	apply(t, s, insertTxn(t, 3, 8, 12), insertTxn(t, 4, 12, 16), insertTxn(t, 5, 16, 20))
	flush(t, s)
	checkOnce(t, srv.URL(), set, 20)
	if pos := appliedPosition(t, openSink(t, set, "partial")); pos != "5" {
		t.Errorf("applied position %q after the replay, want 5", pos)
	}
}

// TestServerKilledMidFlush kills nats-server -9 while a large transaction
// is being published: part of it is stored, no marker. After the restart
// the transaction is published again and the stream holds it once.
func TestServerKilledMidFlush(t *testing.T) {
	srv := natstest.Start(t)
	set := testSettings(srv.URL())
	set.Schemas = false
	set.DuplicateWindow = 100 * time.Millisecond
	s := openSink(t, set, "killed")
	appliedPosition(t, s)
	const n = 30000
	done := make(chan error, 1)
	go func() {
		txn := insertTxn(t, 1, 0, n)
		defer txn.Close()
		if err := s.Apply(context.Background(), txn); err != nil {
			done <- err
			return
		}
		done <- s.Flush(context.Background())
	}()
	time.Sleep(150 * time.Millisecond)
	srv.Kill()
	if err := <-done; err == nil {
		t.Fatal("the flush succeeded with the server killed under it")
	} else {
		t.Logf("the flush failed as it must: %v", err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond) // past the duplicate window
	s = openSink(t, set, "killed")
	if pos := appliedPosition(t, s); pos != "" {
		t.Fatalf("resumes from %q, want none: the transaction has no marker", pos)
	}
	t.Logf("%d of %d records were stored before the kill", len(s.present), n)
	apply(t, s, insertTxn(t, 1, 0, n))
	flush(t, s)
	checkOnce(t, srv.URL(), set, n)
}

// TestNarrowStreamSubjects: a stream the user made with exactly the
// subjects needed (not <prefix>.>): resuming reads it all the same.
func TestNarrowStreamSubjects(t *testing.T) {
	srv := natstest.Start(t)
	set := testSettings(srv.URL())
	set.CreateStream, set.Schemas = false, false
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	nc, err := nats.Connect(srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "SLUICE",
		Subjects: []string{"sluice.public.items", "sluice._sluice.progress.*"}, Duplicates: 100 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	s := openSink(t, set, "narrow")
	appliedPosition(t, s)
	apply(t, s, insertTxn(t, 1, 0, 4))
	flush(t, s)
	apply(t, s, insertTxn(t, 2, 4, 6)) // half of transaction 2, acknowledged, then the crash
	if err := s.waitAcks(ctx, s.futures); err != nil {
		t.Fatal(err)
	}
	s.Crash()
	time.Sleep(300 * time.Millisecond)
	s = openSink(t, set, "narrow")
	if pos := appliedPosition(t, s); pos != "1" || len(s.present) != 2 {
		t.Fatalf("resumes from %q with %d records stored after it, want 1 and 2", pos, len(s.present))
	}
	apply(t, s, insertTxn(t, 2, 4, 8))
	flush(t, s)
	checkOnce(t, srv.URL(), set, 8)
}
