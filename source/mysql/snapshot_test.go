package mysql

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/sluicecdc/sluice/internal/mytest"
	"github.com/sluicecdc/sluice/pkg/change"
)

// TestSnapshotUnderWrites copies a table in many parallel chunks while
// writers insert, update and delete; the copy plus the changes streamed
// from the snapshot position must reproduce the final table exactly.
func TestSnapshotUnderWrites(t *testing.T) {
	t.Parallel()
	srv := startServer(t, mytest.Options{})
	src := newSource(t, srv, Options{SnapshotWorkers: 4})
	snapshotUnderWrites(t, srv, src, 20000, 10)
}

// TestSnapshotWithoutReload: a MariaDB user without RELOAD cannot take
// FLUSH TABLES WITH READ LOCK; the snapshot falls back to one worker in the
// lock-free consistent snapshot and is just as exact.
func TestSnapshotWithoutReload(t *testing.T) {
	t.Parallel()
	srv := startServer(t, mytest.Options{})
	exec(t, srv, "CREATE USER 'snap'@'%' IDENTIFIED BY 's3cret'; GRANT SELECT, REPLICATION SLAVE, BINLOG MONITOR ON *.* TO 'snap'@'%'")
	src := newSource(t, srv, Options{DSN: fmt.Sprintf("mysql://snap:s3cret@127.0.0.1:%d/", srv.Port), SnapshotWorkers: 4})
	snapshotUnderWrites(t, srv, src, 3000, 1)
}

func snapshotUnderWrites(t *testing.T, srv *mytest.Server, src *Source, rows, minChunks int) {
	ctx := context.Background()
	exec(t, srv, fmt.Sprintf(`CREATE DATABASE d; CREATE TABLE d.h (id int PRIMARY KEY, v int NOT NULL, pad varchar(100));
		INSERT INTO d.h SELECT seq, 0, repeat('x', 50) FROM d.seq_1_to_%d; ANALYZE TABLE d.h`, rows))
	src.chunkRows = 1000

	var ops atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := 0; w < 3; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(w), 7))
			next := rows + 1 + w*1_000_000
			for {
				select {
				case <-stop:
					return
				default:
				}
				id := 1 + r.IntN(rows)
				var q string
				switch r.IntN(4) {
				case 0:
					q = fmt.Sprintf("INSERT INTO d.h VALUES (%d, 1, 'new')", next)
					next++
				case 1:
					q = fmt.Sprintf("DELETE FROM d.h WHERE id = %d", id)
				case 2:
					q = fmt.Sprintf("UPDATE d.h SET id = id + 5000000, v = v + 1 WHERE id = %d", id) // key change
				default:
					q = fmt.Sprintf("START TRANSACTION; UPDATE d.h SET v = v + 1 WHERE id = %d; UPDATE d.h SET v = v + 1 WHERE id = %d; COMMIT", id, 1+r.IntN(rows))
				}
				if err := srv.Exec(ctx, q); err == nil {
					ops.Add(1)
				}
			}
		}(w)
	}
	stopWriters := func() {
		select {
		case <-stop:
		default:
			close(stop)
			wg.Wait()
		}
	}
	defer stopWriters()
	waitOps := func(n int64) {
		t.Helper()
		for deadline := time.Now().Add(30 * time.Second); ops.Load() < n; time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("writers managed only %d of %d writes", ops.Load(), n)
			}
		}
	}
	waitOps(100)
	snap, err := src.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer snap.Close()
	atStart := ops.Load()
	chunks, err := snap.Chunks(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(chunks) < minChunks {
		t.Fatalf("%d chunks, want at least %d", len(chunks), minChunks)
	}
	var mu sync.Mutex
	copied := map[string]string{}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(4)
	for _, c := range chunks {
		g.Go(func() error {
			return snap.Read(gctx, c, func(r change.Row) error {
				mu.Lock()
				defer mu.Unlock()
				if _, dup := copied[r[0].String()]; dup {
					return fmt.Errorf("row %s copied twice", r[0])
				}
				copied[r[0].String()] = r[1].String()
				return nil
			})
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
	waitOps(atStart + 100) // writes went on during the copy
	stopWriters()
	final := current(t, src)
	pos := snap.Position()
	snap.Close()

	if err := src.Start(ctx, pos); err != nil {
		t.Fatal(err)
	}
	for reached := false; !reached; {
		txn, cs := nextTxn(t, src, 20*time.Second)
		if txn.Position.Compare(pos) <= 0 {
			t.Fatalf("streamed a transaction at %s, not after the snapshot's %s", txn.Position, pos)
		}
		for _, c := range cs {
			switch c.op {
			case change.Insert:
				copied[c.after[0].String()] = c.after[1].String()
			case change.Update:
				delete(copied, c.before[0].String())
				copied[c.after[0].String()] = c.after[1].String()
			case change.Delete:
				delete(copied, c.before[0].String())
			}
		}
		reached = txn.Position.Compare(final) >= 0
	}

	table := map[string]string{}
	dbRows, err := srv.DB().QueryContext(ctx, "SELECT id, v FROM d.h")
	if err != nil {
		t.Fatal(err)
	}
	defer dbRows.Close()
	for dbRows.Next() {
		var id, v int
		if err := dbRows.Scan(&id, &v); err != nil {
			t.Fatal(err)
		}
		table[strconv.Itoa(id)] = strconv.Itoa(v)
	}
	if len(table) != len(copied) {
		t.Errorf("snapshot + stream has %d rows, the table %d", len(copied), len(table))
	}
	for id, v := range table {
		if copied[id] != v {
			t.Errorf("row %s: snapshot + stream say v=%q, the table %q", id, copied[id], v)
		}
	}
	t.Logf("%d chunks, %d writes, %d rows", len(chunks), ops.Load(), len(table))
}
