package mysql

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/sluicecdc/sluice/internal/mytest"
	"github.com/sluicecdc/sluice/pkg/change"
)

// partsReader reads what the source delivers and keeps the changes a
// pipeline would end up applying: parts are held until Done, dropped on
// Abort.
type partsReader struct {
	t      *testing.T
	src    *Source
	open   []int // ids in the parts of the running transaction
	opens  int   // Open parts seen
	aborts int
}

// next returns the ids of the next transaction that ends (Whole or Done),
// whether it came in parts, and its position.
func (r *partsReader) next() (ids []int, parted bool, pos change.Position) {
	r.t.Helper()
	for {
		txn, cs := nextTxn(r.t, r.src, 60*time.Second)
		var got []int
		for _, c := range cs {
			var id int
			fmt.Sscan(value(c.table, c.after, "id"), &id)
			got = append(got, id)
		}
		switch txn.Part {
		case change.Whole:
			if r.open != nil {
				r.t.Fatalf("whole transaction %s while %d changes of a running one are open", txn.ID, len(r.open))
			}
			return got, false, txn.Position
		case change.Open:
			if txn.ID == "" || txn.Position != nil {
				r.t.Fatalf("open part with ID %q and position %v", txn.ID, txn.Position)
			}
			r.opens++
			r.open = append(r.open, got...)
		case change.Abort:
			r.aborts++
			r.open = nil
		case change.Done:
			if len(cs) != 0 || txn.Position == nil {
				r.t.Fatalf("done with %d changes and position %v", len(cs), txn.Position)
			}
			ids, r.open = r.open, nil
			return ids, true, txn.Position
		default:
			r.t.Fatalf("unexpected part %d", txn.Part)
		}
	}
}

func wantSeq(t *testing.T, ids []int, from, n int) {
	t.Helper()
	if len(ids) != n {
		t.Fatalf("%d changes, want %d", len(ids), n)
	}
	for i, id := range ids {
		if id != from+i {
			t.Fatalf("change %d has id %d, want %d", i, id, from+i)
		}
	}
}

// TestParts: with DeliverParts, a large transaction arrives in parts that
// hold its changes in order and end with Done at its commit position; small
// ones stay whole. A connection cut in the middle of a transaction voids
// the parts sent (Abort), and the transaction is read again from its start.
func TestParts(t *testing.T) {
	t.Parallel()
	srv := startServer(t, mytest.Options{})
	exec(t, srv, "CREATE DATABASE d; CREATE TABLE d.t (id int PRIMARY KEY, pad varchar(1000))")
	src := newSource(t, srv, Options{})
	src.DeliverParts()
	src.partRows = 100
	if err := src.Start(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	big := func(from, n int) string {
		return fmt.Sprintf("INSERT INTO d.t SELECT seq, REPEAT('x', 1000) FROM d.seq_%d_to_%d", from, from+n-1)
	}
	r := &partsReader{t: t, src: src}

	exec(t, srv, big(1, 2000)+"; INSERT INTO d.t VALUES (2001, 'small')")
	ids, parted, pos := r.next()
	if !parted || r.opens < 5 {
		t.Fatalf("parted %v in %d parts", parted, r.opens)
	}
	wantSeq(t, ids, 1, 2000)
	ids, parted, pos2 := r.next()
	if parted {
		t.Fatal("a one-row transaction came in parts")
	}
	wantSeq(t, ids, 2001, 1)
	if pos2.Compare(pos) <= 0 {
		t.Fatalf("positions %s then %s", pos, pos2)
	}

	// Cut the binlog connection after the first part of a large transaction.
	exec(t, srv, big(3001, 8000))
	txn, cs := nextTxn(t, src, 60*time.Second)
	if txn.Part != change.Open {
		t.Fatalf("first delivery is part %d", txn.Part)
	}
	killed, err := srv.QueryValue(context.Background(), "SELECT GROUP_CONCAT(ID) FROM information_schema.PROCESSLIST WHERE COMMAND LIKE 'Binlog Dump%'")
	if err != nil || killed == "" {
		t.Fatalf("binlog dump thread: %q %v", killed, err)
	}
	exec(t, srv, "KILL CONNECTION "+killed)
	r.open = nil
	for _, c := range cs {
		var id int
		fmt.Sscan(value(c.table, c.after, "id"), &id)
		r.open = append(r.open, id)
	}
	ids, parted, _ = r.next()
	if !parted || r.aborts != 1 {
		t.Fatalf("parted %v, %d aborts, want 1", parted, r.aborts)
	}
	wantSeq(t, ids, 3001, 8000)

	// Nothing follows: the transaction was delivered once.
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	if txn, err := src.Next(ctx); err == nil {
		t.Fatalf("unexpected delivery %s part %d", txn.ID, txn.Part)
	}
}
