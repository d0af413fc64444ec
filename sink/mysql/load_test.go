package mysql

import (
	"context"
	"encoding/hex"
	"fmt"
	"hash/crc32"
	"strings"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/sluicecdc/sluice/pkg/change"
)

var loadCols = []string{"id", "bigint!", "name", "varchar(64)", "amount", "decimal(12,2)", "at", "datetime(6)", "data", "varbinary(64)"}

// loadRows yields rows from to to-1 through one reused row, as a snapshot
// reader may: the sink must copy what it keeps.
func loadRows(from, to int) func(yield func(change.Row) error) error {
	return func(yield func(change.Row) error) error {
		r := make(change.Row, 5)
		for i := from; i < to; i++ {
			for c, v := range loadValues(i) {
				r[c] = change.Value{State: change.Present, Data: append(r[c].Data[:0], v...)}
			}
			if i%7 == 0 {
				r[2] = change.NullValue
			}
			if err := yield(r); err != nil {
				return err
			}
		}
		return nil
	}
}

func loadValues(i int) []string {
	return []string{fmt.Sprint(i), fmt.Sprintf("name %d 'é' \\", i), fmt.Sprintf("%d.%02d", i*3, i%100),
		fmt.Sprintf("2024-01-%02d 12:00:00.%06d", 1+i%28, i), fmt.Sprintf("\x00%d\x00'", i)}
}

// loadSum is what checksum should return for rows from to to-1.
func loadSum(from, to int) string {
	var sum uint64
	for i := from; i < to; i++ {
		v := loadValues(i)
		if i%7 == 0 {
			v = append(v[:2], v[3:]...) // CONCAT_WS skips NULL
		}
		v[len(v)-1] = strings.ToUpper(hex.EncodeToString([]byte(v[len(v)-1])))
		sum += uint64(crc32.ChecksumIEEE([]byte(strings.Join(v, "|"))))
	}
	return fmt.Sprintf("[[%d %d]]", to-from, sum)
}

func checksum(t *testing.T, tbl string) string {
	t.Helper()
	return fmt.Sprint(rows(t, reader(t, shared),
		"SELECT COUNT(*), COALESCE(SUM(CRC32(CONCAT_WS('|', id, name, amount, at, HEX(data)))), 0) FROM "+tbl))
}

// TestLoadConcurrent loads two tables (one keyed, one keyless) at once, then
// does it all again as after a crash (PrepareSnapshot empties the tables),
// this time one table in two concurrent chunks.
func TestLoadConcurrent(t *testing.T) {
	ctx := context.Background()
	const n = 50000
	a := table("load", "a", []int{0}, loadCols...)
	b := table("load", "b", nil, loadCols...)
	s := newSink(t, shared, Options{})
	// A stale position of this pipeline must go: the snapshot starts over.
	apply(t, s, txnOf(9, ins(a, "1", "x", "1.00", "2024-01-01 00:00:00.000000", "")))
	for round := range 2 {
		must(t, s.PrepareSnapshot(ctx, []*change.Table{a, b}))
		p, err := s.AppliedPosition(ctx)
		must(t, err)
		want(t, p, "")
		start := time.Now()
		var g errgroup.Group
		if round == 0 {
			g.Go(func() error { return s.Load(ctx, a, loadRows(0, n)) })
		} else {
			g.Go(func() error { return s.Load(ctx, a, loadRows(0, n/2)) })
			g.Go(func() error { return s.Load(ctx, a, loadRows(n/2, n)) })
		}
		g.Go(func() error { return s.Load(ctx, b, loadRows(0, n)) })
		must(t, g.Wait())
		took := time.Since(start)
		t.Logf("round %d: loaded %d rows in %v (%.0f rows/s)", round, 2*n, took, 2*n/took.Seconds())
		sum := loadSum(0, n)
		want(t, checksum(t, "load.a"), sum)
		want(t, checksum(t, "load.b"), sum)
	}
}

// TestLoadRefusesInexact: a value the target would change, or a duplicate
// key, fails the load and leaves none of its batch behind, with LOAD DATA
// (where LOCAL makes such errors mere warnings) and with INSERTs.
func TestLoadRefusesInexact(t *testing.T) {
	ctx := context.Background()
	tbl := table("loadbad", "t", []int{0}, "id", "int!", "s", "varchar(5)")
	for _, path := range []string{"infile", "insert"} {
		for _, bad := range [][]string{{"2", "too long"}, {"1", "dup"}} {
			s := newSink(t, shared, Options{})
			if path == "insert" {
				s.infileOnce.Do(func() {})
			}
			must(t, s.PrepareSnapshot(ctx, []*change.Table{tbl}))
			err := s.Load(ctx, tbl, func(yield func(change.Row) error) error {
				if err := yield(row("1", "ok")); err != nil {
					return err
				}
				return yield(row(bad...))
			})
			if err == nil || !strings.Contains(err.Error(), "loadbad.t") {
				t.Fatalf("%s %v: want an error naming the table, got %v", path, bad, err)
			}
			want(t, rows(t, reader(t, shared), "SELECT COUNT(*) FROM loadbad.t"), "[[0]]")
		}
	}
}

// TestLoadWithoutLocalInfile: a server that refuses LOAD DATA LOCAL gets
// INSERTs.
func TestLoadWithoutLocalInfile(t *testing.T) {
	ctx := context.Background()
	must(t, shared.Exec(ctx, "SET GLOBAL local_infile = 0"))
	defer shared.Exec(ctx, "SET GLOBAL local_infile = 1")
	tbl := table("loadnoinfile", "t", []int{0}, loadCols...)
	s := newSink(t, shared, Options{})
	must(t, s.PrepareSnapshot(ctx, []*change.Table{tbl}))
	must(t, s.Load(ctx, tbl, loadRows(0, 1000)))
	want(t, checksum(t, "loadnoinfile.t"), loadSum(0, 1000))
	if s.infileOK {
		t.Fatal("LOAD DATA LOCAL was used although the server refuses it")
	}
}
