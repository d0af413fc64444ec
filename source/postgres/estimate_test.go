package postgres

import (
	"context"
	"testing"

	"github.com/rs/zerolog"

	"github.com/sluicecdc/sluice/internal/pgtest"
	"github.com/sluicecdc/sluice/pkg/pipeline"
)

// TestEstimateAndLogStatus checks the row estimates of a plain and a
// partitioned table, and what LogStatus tells about the slot and the WAL
// beyond a position, before and while the slot is in use.
func TestEstimateAndLogStatus(t *testing.T) {
	ctx := context.Background()
	c := pgtest.Start(t, pgtest.Options{})
	if err := c.Exec(ctx, "postgres", `CREATE TABLE a (id int PRIMARY KEY); INSERT INTO a SELECT generate_series(1, 5000); ANALYZE a;
		CREATE TABLE p (id int, k int, PRIMARY KEY (id, k)) PARTITION BY RANGE (k);
		CREATE TABLE p1 PARTITION OF p FOR VALUES FROM (0) TO (10); CREATE TABLE p2 PARTITION OF p FOR VALUES FROM (10) TO (20);
		INSERT INTO p SELECT g, g % 20 FROM generate_series(1, 1000) g; ANALYZE p;`); err != nil {
		t.Fatal(err)
	}
	src, err := New(ctx, Options{DSN: c.DSN("postgres"), Tables: []string{"public.*"}, Slot: "est_test", Publication: "est_test", Log: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	ls, err := src.LogStatus(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if ls.SlotStatus != "missing" || ls.Reading != pipeline.ReadingIdle || ls.Head == "" || ls.BehindBytes != -1 {
		t.Fatalf("before the slot exists: %+v", ls)
	}
	snap, err := src.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	est := map[string]int64{}
	for _, tbl := range snap.Tables() {
		n, err := snap.(pipeline.Estimator).Estimate(ctx, tbl)
		if err != nil {
			t.Fatal(err)
		}
		est[tbl.ID.Name] = n
	}
	if est["a"] != 5000 || est["p"] != 1000 {
		t.Fatalf("estimates %v, want a=5000 p=1000", est)
	}
	start := snap.Position()
	snap.Close()
	if err := c.Exec(ctx, "postgres", `INSERT INTO a SELECT generate_series(5001, 6000)`); err != nil {
		t.Fatal(err)
	}
	ls, err = src.LogStatus(ctx, start)
	if err != nil {
		t.Fatal(err)
	}
	if ls.SlotStatus != "reserved" || ls.BehindBytes <= 0 || ls.RetainedBytes < ls.BehindBytes || ls.Restart == "" || ls.Confirmed == "" {
		t.Fatalf("with 1000 rows written after the slot's start: %+v", ls)
	}
}
