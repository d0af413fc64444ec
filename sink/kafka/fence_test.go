package kafka

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicecdc/sluice/internal/kafkatest"
	"github.com/sluicecdc/sluice/pkg/change"
	"github.com/sluicecdc/sluice/pkg/pipeline"
	"github.com/sluicecdc/sluice/sink/envelope"
	"github.com/sluicecdc/sluice/sink/sinktest"
)

var items = &change.Table{ID: change.TableID{Schema: "app", Name: "items"}, Dialect: change.Postgres, Identity: change.IdentityKey,
	Columns: []change.Column{{Name: "id", Type: "integer", TypeOID: 23, NotNull: true}, {Name: "v", Type: "text", TypeOID: 25}}, Key: []int{0}}

// txnAt is source transaction pos: n inserts of keys pos*1000+i.
func txnAt(pos, n int) *change.Txn {
	t := change.NewTxn("", 0)
	t.ID, t.Position, t.Commit = strconv.Itoa(pos), sinktest.Pos(pos), time.Date(2024, 1, 1, 0, 0, pos, 0, time.UTC)
	for i := range n {
		k := strconv.Itoa(pos*1000 + i)
		t.Add(change.Change{Op: change.Insert, Table: items, After: change.Row{change.Text(k), change.Text("v" + k)}}) //nolint:errcheck // in memory
	}
	return t
}

func applyTxns(t *testing.T, s pipeline.Sink, from, to, n int) error {
	t.Helper()
	for p := from; p <= to; p++ {
		txn := txnAt(p, n)
		err := s.Apply(context.Background(), txn)
		txn.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

func applied(t *testing.T, s pipeline.Sink) string {
	t.Helper()
	pos, err := s.(pipeline.PositionKeeper).AppliedPosition(context.Background())
	if err != nil {
		t.Fatalf("applied position: %v", err)
	}
	return pos
}

// checkOnce fails unless the topic holds exactly the inserts of
// transactions 1..upTo (n each), each once.
func checkOnce(t *testing.T, b *kafkatest.Broker, upTo, n int) {
	t.Helper()
	msgs := readTopic(t, b, envelope.Topic("sluice", items.ID))
	seen := map[string]int{}
	for _, m := range msgs {
		if m.Key != nil && m.Value != nil {
			seen[*m.Key]++
		}
	}
	if len(msgs) != upTo*n || len(seen) != upTo*n {
		t.Errorf("the topic holds %d records of %d keys, want %d, each once", len(msgs), len(seen), upTo*n)
	}
	for k, c := range seen {
		if c != 1 {
			t.Errorf("key %s: %d events, want 1", k, c)
		}
	}
}

// A second process with the pipeline's name fences the first: the first
// stops with a permanent error naming the pipeline; its transaction is
// never visible; the second resumes from the last commit.
func TestFencing(t *testing.T) {
	b := kafkatest.Start(t)
	st := testSettings(b, 3)
	first := openSink(t, st, "fenced")
	defer first.Close()
	if err := applyTxns(t, first, 1, 2, 10); err != nil {
		t.Fatal(err)
	}
	if err := first.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	second := openSink(t, st, "fenced")
	defer second.Close()

	err := applyTxns(t, first, 3, 3, 10)
	if err == nil {
		err = first.Flush(context.Background())
	}
	if !errors.Is(err, ErrFenced) {
		t.Fatalf("the fenced sink's flush returned %v, want ErrFenced", err)
	}
	var ke *Error
	if !errors.As(err, &ke) || ke.Transient() {
		t.Fatalf("fencing must be a permanent *Error: %#v", err)
	}
	for _, want := range []string{"another sluice with pipeline name fenced took over the transactional id sluice-fenced"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if err := first.Flush(context.Background()); !errors.Is(err, ErrFenced) {
		t.Errorf("a fenced sink went on: %v", err)
	}

	if got := applied(t, second); got != "2" {
		t.Fatalf("the new owner resumes after %q, want 2", got)
	}
	if err := applyTxns(t, second, 3, 4, 10); err != nil {
		t.Fatal(err)
	}
	if err := second.Flush(context.Background()); err != nil {
		t.Fatalf("the new owner cannot commit (fenced back?): %v", err)
	}
	checkOnce(t, b, 4, 10)
	third := openSink(t, st, "fenced")
	defer third.Close()
	if got := applied(t, third); got != "4" {
		t.Fatalf("applied position %q, want 4", got)
	}
}

// The broker goes away with a transaction's records produced but not
// committed: the flush fails (transient), read_committed consumers see
// nothing of it, and a new sink resumes after the last commit, so every
// transaction is in the topic once.
//
// "stop" is a clean broker shutdown (SIGTERM). "kill" is SIGKILL: kfake
// then recovers the open transaction as aborted without writing an abort
// marker, so read_committed clients (kcat, kgo) go on skipping that
// producer id's later records, the new transactions included — a kfake
// bug (a real broker writes the marker), so after a kill the test checks
// what the sink controls: nothing half visible, the resume position.
func TestBrokerDiesMidTransaction(t *testing.T) {
	for _, mode := range []string{"stop", "kill"} {
		t.Run(mode, func(t *testing.T) { brokerDiesMidTransaction(t, mode) })
	}
}

func brokerDiesMidTransaction(t *testing.T, mode string) {
	b := kafkatest.Start(t)
	st := testSettings(b, 3)
	s := openSink(t, st, "midflush")
	if err := applyTxns(t, s, 1, 5, 20); err != nil {
		t.Fatal(err)
	}
	if err := s.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := applyTxns(t, s, 6, 10, 200); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond) // let some of them reach the broker
	if mode == "kill" {
		b.Kill()
	} else if err := b.Stop(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	began := time.Now()
	err := s.Flush(ctx)
	cancel()
	t.Logf("flush failed after %s: %v", time.Since(began).Round(time.Millisecond), err)
	var ke *Error
	if !errors.As(err, &ke) || !ke.Transient() {
		t.Fatalf("flush with the broker gone returned %v, want a transient *Error", err)
	}
	s.Close()
	if err := b.Start(); err != nil {
		t.Fatal(err)
	}
	checkOnce(t, b, 5, 20) // nothing of the failed transaction

	s = openSink(t, st, "midflush")
	defer s.Close()
	if got := applied(t, s); got != "5" {
		t.Fatalf("resumes after %q, want 5", got)
	}
	if err := applyTxns(t, s, 6, 10, 20); err != nil {
		t.Fatal(err)
	}
	if err := s.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if mode == "stop" {
		checkOnce(t, b, 10, 20)
	}
	s2 := openSink(t, st, "midflush")
	defer s2.Close()
	if got := applied(t, s2); got != "10" && mode == "stop" {
		t.Fatalf("applied position %q after the resumed commit, want 10", got)
	}
}

// Another pipeline's transaction open in the progress topic hides what
// follows it from read_committed readers: a restarting pipeline whose
// newer progress record is behind it waits for it to end instead of
// resuming from an older position.
func TestProgressBehindAnOpenTransaction(t *testing.T) {
	ctx := context.Background()
	b := kafkatest.Start(t)
	st := testSettings(b, 1)
	a := openSink(t, st, "a")
	if err := applyTxns(t, a, 1, 1, 1); err != nil {
		t.Fatal(err)
	}
	if err := a.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	other, err := kgo.NewClient(kgo.SeedBrokers(b.Addr()), kgo.TransactionalID(TransactionalID("b")))
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if err := other.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := other.ProduceSync(ctx, &kgo.Record{Topic: st.ProgressTopic, Key: []byte("b"), Value: []byte("7")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	if err := applyTxns(t, a, 2, 2, 1); err != nil {
		t.Fatal(err)
	}
	if err := a.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	a.Close()
	ended := make(chan error, 1)
	go func() {
		time.Sleep(2 * time.Second)
		ended <- other.EndTransaction(ctx, kgo.TryCommit)
	}()
	began := time.Now()
	if got := applied(t, openSinkClosed(t, st, "a")); got != "2" {
		t.Fatalf("pipeline a resumes after %q, want 2", got)
	}
	if err := <-ended; err != nil {
		t.Fatal(err)
	}
	t.Logf("read the position after waiting %s for the other transaction", time.Since(began).Round(time.Millisecond))
}

// A transaction larger than produceChunk is produced in chunks while it is
// encoded, all inside one Kafka transaction: every event once, and none of
// them visible before the flush commits.
func TestLargeTransactionInChunks(t *testing.T) {
	b := kafkatest.Start(t)
	s := openSink(t, testSettings(b, 3), "big")
	defer s.Close()
	n := 3*produceChunk + 17
	if err := applyTxns(t, s, 1, 1, n); err != nil {
		t.Fatal(err)
	}
	if msgs := readTopic(t, b, envelope.Topic("sluice", items.ID)); len(msgs) != 0 {
		t.Fatalf("%d events visible to read_committed before the flush", len(msgs))
	}
	if err := s.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	checkOnce(t, b, 1, n)
}
