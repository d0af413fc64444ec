package mysql

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/sluicecdc/sluice/pkg/change"
)

// BenchmarkApply measures batched merges the way the pipeline sends them:
// transactions of 10 changes, a Flush every 50,000 changes. Each iteration
// inserts 100,000 new rows, then updates all of them, then deletes them.
func BenchmarkApply(b *testing.B) {
	ctx := context.Background()
	tbl := table("bench", "t", []int{0}, loadCols...)
	s := newSink(b, shared, Options{})
	const n, perTxn, perFlush = 100000, 10, 50000
	run := func(op change.Op, round int) time.Duration {
		start := time.Now()
		for i := 0; i < n; i += perTxn {
			txn := change.NewTxn("", 0)
			for j := i; j < i+perTxn; j++ {
				v := loadValues(j)
				v[1] = fmt.Sprint(v[1], op, round)
				switch op {
				case change.Delete:
					txn.Add(del(tbl, v[0], missing, missing, missing, missing))
				default:
					txn.Add(change.Change{Op: op, Table: tbl, After: row(v...)})
				}
			}
			txn.Position = pos(i + 1)
			if err := s.Apply(ctx, txn); err != nil {
				b.Fatal(err)
			}
			if (i+perTxn)%perFlush == 0 {
				if err := s.Flush(ctx); err != nil {
					b.Fatal(err)
				}
			}
		}
		return time.Since(start)
	}
	var ins, upd, dels time.Duration
	for round := 0; round < b.N; round++ {
		ins += run(change.Insert, round)
		upd += run(change.Update, round)
		dels += run(change.Delete, round)
	}
	b.ReportMetric(float64(n*b.N)/ins.Seconds(), "inserts/s")
	b.ReportMetric(float64(n*b.N)/upd.Seconds(), "updates/s")
	b.ReportMetric(float64(n*b.N)/dels.Seconds(), "deletes/s")
}

// BenchmarkLoad measures snapshot loading into one table, with LOAD DATA
// LOCAL INFILE and with INSERTs.
func BenchmarkLoad(b *testing.B) {
	b.Run("infile", func(b *testing.B) { benchLoad(b, true) })
	b.Run("insert", func(b *testing.B) { benchLoad(b, false) })
}

func benchLoad(b *testing.B, infile bool) {
	ctx := context.Background()
	tbl := table("benchload", "t", []int{0}, loadCols...)
	s := newSink(b, shared, Options{})
	if !infile {
		s.infileOnce.Do(func() {})
	}
	const n = 200000
	var took time.Duration
	for range b.N {
		if err := s.PrepareSnapshot(ctx, []*change.Table{tbl}); err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		if err := s.Load(ctx, tbl, loadRows(0, n)); err != nil {
			b.Fatal(err)
		}
		took += time.Since(start)
	}
	b.ReportMetric(float64(n*b.N)/took.Seconds(), "rows/s")
}
