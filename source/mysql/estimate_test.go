package mysql

import (
	"context"
	"testing"

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
}
