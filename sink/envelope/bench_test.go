package envelope

import (
	"testing"

	"github.com/sluicecdc/sluice/pkg/change"
)

// benchTable is a typical row: a bigint key, a name, a price, a quantity,
// a timestamp with time zone and a status.
var benchTable = table(change.Postgres, "public", "orders", []int{0},
	col{"id", "bigint", true, nil}, col{"customer", "character varying(100)", false, nil},
	col{"price", "numeric(12,2)", false, nil}, col{"qty", "integer", true, nil},
	col{"created_at", "timestamp with time zone", false, nil}, col{"status", "text", false, nil})

var benchRow = row("1234567", "Anne Kretchmar", "1234.56", "3", "2024-06-30 18:14:59.123456+00", "shipped")

func benchEncode(b *testing.B, f func(*Options)) {
	o := Options{Prefix: "sluice", Version: "1.0.0", Database: "shop"}
	if f != nil {
		f(&o)
	}
	e, err := New(o)
	if err != nil {
		b.Fatal(err)
	}
	c := &change.Change{Op: change.Insert, Table: benchTable, After: benchRow}
	tx := e.Begin(TxnInfo{ID: "771", Commit: fixedCommit, Position: pgPos(0x16B374D848)})
	var recs []Record
	b.ReportAllocs()
	b.ResetTimer()
	n := 0
	for i := 0; i < b.N; i++ {
		if recs, err = tx.Change(recs[:0], c); err != nil {
			b.Fatal(err)
		}
		n += len(recs[0].Key) + len(recs[0].Value)
	}
	b.SetBytes(int64(n / max(b.N, 1)))
}

// BenchmarkEncodeInsert: one insert of a typical 6-column row, schemaless
// (the common Kafka setup with a schema registry or none).
func BenchmarkEncodeInsert(b *testing.B) { benchEncode(b, nil) }

// BenchmarkEncodeInsertSchemas: the same with schemas.enable=true (the
// schema is ~4 KB of every value).
func BenchmarkEncodeInsertSchemas(b *testing.B) {
	benchEncode(b, func(o *Options) { o.Schemas = true })
}

// BenchmarkEncodeInsertTxnMetadata: with the transaction block.
func BenchmarkEncodeInsertTxnMetadata(b *testing.B) {
	benchEncode(b, func(o *Options) { o.TransactionMetadata = true })
}

// BenchmarkEncodeRead: a snapshot row of the same table.
func BenchmarkEncodeRead(b *testing.B) {
	e, err := New(Options{Prefix: "sluice", Version: "1.0.0", Database: "shop"})
	if err != nil {
		b.Fatal(err)
	}
	snap := Snapshot{Time: fixedCommit, Position: pgPos(0x16B374D848)}
	var recs []Record
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if recs, err = e.Read(recs[:0], benchTable, benchRow, snap); err != nil {
			b.Fatal(err)
		}
	}
}
