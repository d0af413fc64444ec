package envelope

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluicecdc/sluice/pkg/change"
)

// Fuzz input: byte 0 chooses the dialect, the operation and the options;
// then values, each a length byte and that many bytes (lengths 253, 254
// and 255 stand for missing, unchanged and NULL), for the columns of the
// fixture tables in order, round-robin.
const (
	fuzzMissing   = 253
	fuzzUnchanged = 254
	fuzzNull      = 255
)

func fuzzInput(ctl byte, r change.Row) []byte {
	b := []byte{ctl}
	for _, v := range r {
		switch {
		case v.State == change.Null:
			b = append(b, fuzzNull)
		case v.State == change.Unchanged:
			b = append(b, fuzzUnchanged)
		case v.State == change.Missing:
			b = append(b, fuzzMissing)
		case len(v.Data) >= fuzzMissing:
			b = append(b, fuzzNull)
		default:
			b = append(b, byte(len(v.Data)))
			b = append(b, v.Data...)
		}
	}
	return b
}

func fuzzSeeds() [][]byte {
	var seeds [][]byte
	for i, r := range append(append([]change.Row{}, pgTypeRows...), pgNaN) {
		seeds = append(seeds, fuzzInput(byte(i*8), r)) // PostgreSQL, each op and option set in turn
	}
	for i, r := range myTypeRows {
		seeds = append(seeds, fuzzInput(byte(i*8+1), r))
	}
	seeds = append(seeds,
		fuzzInput(0x11, row("1", "⊘", "⊘")),
		fuzzInput(0x20, row("x", "tt", "70000", "1e999", "-", "1.5.5", "$", "", "\\x0", "2024-13-01")),
		fuzzInput(0x21, row("1", "999", "-1", "abc", "", "x", "1e400", "", "10", "", "", "", "", "", "", "", "", "", "2")),
		fuzzInput(0x40, row("1", "{", "{{1}}", "\"", "(1,", "99:99:99", "24:00:01", "5 fortnights")),
	)
	return seeds
}

// FuzzEncode feeds random texts to every column type of both dialects,
// through every operation and option set: the encoder must never panic;
// an error must be a *ValueError (or name the row's shape) and must not
// quote the value; success must be valid JSON.
func FuzzEncode(f *testing.F) {
	for _, s := range fuzzSeeds() {
		f.Add(s)
	}
	encoders := map[byte]*Encoder{}
	for ctl := byte(0); ctl < 8; ctl++ {
		e, err := New(Options{Prefix: "f", Version: "v", Database: "db", Now: func() time.Time { return fixedNow },
			Schemas: ctl&1 != 0, Decimal: DecimalMode(ctl >> 1 % 3), TransactionMetadata: ctl&4 != 0, BigintUnsigned: BigintUnsignedMode(ctl >> 2 & 1)})
		if err != nil {
			f.Fatal(err)
		}
		encoders[ctl] = e
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 {
			return
		}
		ctl := data[0]
		tb := pgTypes
		if ctl&1 != 0 {
			tb = myTypes
		}
		r := make(change.Row, len(tb.Columns))
		for i := range r {
			r[i] = change.NullValue
		}
		rest := data[1:]
		for i := 0; len(rest) > 0; i++ {
			n := int(rest[0])
			rest = rest[1:]
			var v change.Value
			switch n {
			case fuzzNull:
				v = change.NullValue
			case fuzzUnchanged:
				v = change.Value{State: change.Unchanged}
			case fuzzMissing:
				v = change.Value{State: change.Missing}
			default:
				n = min(n, len(rest))
				v = change.Value{State: change.Present, Data: rest[:n]}
				rest = rest[n:]
			}
			r[i%len(r)] = v
		}
		e := encoders[ctl>>1%8]
		var c change.Change
		switch (ctl >> 4) % 6 {
		case 0:
			c = change.Change{Op: change.Insert, Table: tb, After: r}
		case 1:
			c = change.Change{Op: change.Update, Table: tb, After: r}
		case 2:
			before := append(change.Row(nil), r...)
			before[0] = change.Text("999")
			c = change.Change{Op: change.Update, Table: tb, Before: before, After: r}
		case 3:
			c = change.Change{Op: change.Delete, Table: tb, Before: r}
		case 4:
			c = change.Change{Op: change.Truncate, Table: tb}
		case 5:
			c = change.Change{Op: change.Read, Table: tb, After: r}
		}
		var pos change.Position = pgPos(uint64(len(data)))
		if tb.Dialect == change.MySQL {
			pos = myPos{file: "binlog.000001", pos: uint32(len(data)), gtid: "0-1-1", server: 1}
		}
		tx := e.Begin(TxnInfo{ID: "1", Commit: fixedCommit, Position: pos})
		recs, err := tx.Change(nil, &c)
		if err != nil {
			checkFuzzError(t, err, tb, r)
			return
		}
		recs = tx.End(recs)
		if c.Op == change.Read {
			if recs, err = e.Read(recs, tb, r, Snapshot{Marker: SnapshotLast, Position: pos}); err != nil {
				t.Fatalf("Read failed where Change succeeded: %v", err)
			}
		}
		for _, rec := range recs {
			for _, b := range [][]byte{rec.Key, rec.Value} {
				if b != nil && !json.Valid(b) {
					t.Fatalf("invalid JSON: %q", b)
				}
			}
			for _, h := range rec.Headers {
				if !json.Valid(h.Value) {
					t.Fatalf("invalid header JSON: %q", h.Value)
				}
			}
		}
	})
}

func checkFuzzError(t *testing.T, err error, tb *change.Table, r change.Row) {
	var ve *ValueError
	if !errors.As(err, &ve) {
		t.Fatalf("not a *ValueError: %v", err)
	}
	i := tb.ColumnIndex(ve.Column)
	if i < 0 || ve.Table != tb.ID || ve.Type != tb.Columns[i].Type {
		t.Fatalf("error names %s %s (%s): %v", ve.Table, ve.Column, ve.Type, err)
	}
	if v := string(r[i].Data); len(v) >= 8 && strings.Contains(err.Error(), v) {
		t.Fatalf("the error quotes the value: %v", err)
	}
}

// TestFuzzSeeds writes the seed corpus under testdata/fuzz (with -update)
// and runs the target over it, so the corpus is exercised by go test.
func TestFuzzSeeds(t *testing.T) {
	dir := filepath.Join("testdata", "fuzz", "FuzzEncode")
	if *update {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for i, s := range fuzzSeeds() {
			body := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", s)
			if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("seed-%02d", i)), []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	files, err := os.ReadDir(dir)
	if err != nil || len(files) < len(fuzzSeeds()) {
		t.Fatalf("seed corpus %s: %d files, %v (go test -run FuzzSeeds -update writes it)", dir, len(files), err)
	}
}
