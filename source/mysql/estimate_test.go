package mysql

import (
	"context"
	"testing"
	"time"

	"github.com/sluicecdc/sluice/internal/mytest"
	"github.com/sluicecdc/sluice/pkg/pipeline"
)

// TestEstimateAndLogStatus checks the snapshot's row estimates and the
// binlog distance LogStatus reports from a position.
func TestEstimateAndLogStatus(t *testing.T) {
	ctx := context.Background()
	srv := startServer(t, mytest.Options{})
	exec(t, srv, `CREATE DATABASE d`)
	exec(t, srv, `CREATE TABLE d.a (id int PRIMARY KEY)`)
	exec(t, srv, `INSERT INTO d.a SELECT seq FROM d.seq_1_to_2000`) // MariaDB's sequence engine
	exec(t, srv, `ANALYZE TABLE d.a`)
	src := newSource(t, srv, Options{ServerID: 4242})
	snap, err := src.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	n, err := snap.(pipeline.Estimator).Estimate(ctx, snap.Tables()[0])
	if err != nil {
		t.Fatal(err)
	}
	if n < 1000 || n > 4000 { // InnoDB samples: close, not exact
		t.Fatalf("estimate %d for 2000 rows", n)
	}
	from := snap.Position()
	snap.Close()
	ls, err := src.LogStatus(ctx, from)
	if err != nil {
		t.Fatal(err)
	}
	if ls.Head == "" || ls.BehindBytes != 0 || ls.Reading != pipeline.ReadingUnknown {
		t.Fatalf("right after the snapshot: %+v", ls)
	}
	exec(t, srv, `INSERT INTO d.a VALUES (5000)`)
	if ls, err = src.LogStatus(ctx, from); err != nil || ls.BehindBytes <= 0 {
		t.Fatalf("after a write: %+v, %v", ls, err)
	}
	if ls, err = src.LogStatus(ctx, nil); err != nil || ls.BehindBytes != -1 {
		t.Fatalf("without a position: %+v, %v", ls, err)
	}

	// Across binlog files: the distance counts the rest of the applied
	// file, the files between and the head file up to its position.
	one, err := src.LogStatus(ctx, from)
	if err != nil {
		t.Fatal(err)
	}
	exec(t, srv, `FLUSH BINARY LOGS`)
	exec(t, srv, `INSERT INTO d.a VALUES (5001)`)
	exec(t, srv, `FLUSH BINARY LOGS`)
	exec(t, srv, `INSERT INTO d.a VALUES (5002)`)
	ls, err = src.LogStatus(ctx, from)
	if err != nil {
		t.Fatal(err)
	}
	head, err := src.currentPosition(ctx, src.db)
	if err != nil {
		t.Fatal(err)
	}
	logs, err := src.binaryLogs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var want int64
	started := false
	for _, l := range logs {
		switch {
		case l.name == from.(Position).File:
			want, started = l.size-int64(from.(Position).Pos), true
		case l.name == head.File:
			want += int64(head.Pos)
		case started:
			want += l.size
		}
	}
	if head.File == from.(Position).File || ls.BehindBytes != want || ls.BehindBytes <= one.BehindBytes || ls.Purged || ls.Restart != logs[0].name {
		t.Fatalf("across files (from %v, head %v, files %+v): %+v, want behind %d", from, head, logs, ls, want)
	}

	// The applied file purged: the pipeline could not resume from it.
	// MariaDB keeps a file until its binlog checkpoint has passed; retry.
	for i := 0; ; i++ {
		exec(t, srv, `PURGE BINARY LOGS TO '`+head.File+`'`)
		if logs, err = src.binaryLogs(ctx); err != nil || len(logs) == 1 || i == 100 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if ls, err = src.LogStatus(ctx, from); err != nil || !ls.Purged || ls.Restart != head.File || ls.BehindBytes != -1 {
		t.Fatalf("after PURGE BINARY LOGS TO %s: %+v, %v", head.File, ls, err)
	}
}
