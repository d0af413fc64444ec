package mysql

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"testing"
	"time"

	"github.com/go-mysql-org/go-mysql/replication"
	"github.com/rs/zerolog"

	"github.com/sluicecdc/sluice/pkg/change"
)

// fdeHex is the format description event of a MariaDB 10.11 binlog (CRC32
// checksums): the parser needs it before it reads table maps and rows.
const fdeHex = "0f4d116b0f07000000fc000000000100000000040031302e31312e31392d4d6172696144" +
	"422d302b646562313275312d6c6f6700000000000000000000000000000000000000000f" +
	"4d116b13380d000800120004040404120000e400041a08000000080808020000000a0a0a" +
	"0000000000000a0a0a000000000000000000000000000000000000000000000000000000" +
	"000000000000000000000000000000000000000000000000000000000000000000000000" +
	"000000000000000000000000000000000000000000000000000000000000000000000000" +
	"0000000000000000000000000000000000000000041304000d0808080a0a0a01ddc0edf9"

// fuzzRowsTypes are the rows events a table map may be followed by.
var fuzzRowsTypes = []replication.EventType{
	replication.WRITE_ROWS_EVENTv1, replication.UPDATE_ROWS_EVENTv1, replication.DELETE_ROWS_EVENTv1,
	replication.WRITE_ROWS_EVENTv2, replication.UPDATE_ROWS_EVENTv2, replication.DELETE_ROWS_EVENTv2,
}

// fuzzEvent wraps an event body in a header of the right size and a
// checksum (not verified).
func fuzzEvent(typ replication.EventType, body []byte) []byte {
	ev := make([]byte, replication.EventHeaderSize, replication.EventHeaderSize+len(body)+4)
	binary.LittleEndian.PutUint32(ev[0:], 1)
	ev[4] = byte(typ)
	binary.LittleEndian.PutUint32(ev[5:], 1)
	binary.LittleEndian.PutUint32(ev[9:], uint32(cap(ev)))
	ev = append(ev, body...)
	return append(ev, 0, 0, 0, 0)
}

// fuzzCharsets are a few of a server's collations, without a server.
var fuzzCharsets = &charsets{
	byID:   map[uint64]string{8: "latin1", 28: "gbk", 33: "utf8mb3", 45: "utf8mb4", 46: "utf8mb4", 83: "utf8mb3", 224: "utf8mb4", 13: "sjis", 54: "utf16"},
	maxLen: map[string]int{"latin1": 1, "gbk": 2, "utf8mb3": 3, "utf8mb4": 4, "sjis": 2, "utf16": 4},
}

// parse runs go-mysql's parser on one event. Its own panics (its decoders
// index without checking) are an error here, as the binlog reader's
// recover makes them in production; Sluice's code runs outside it.
func parse(p *replication.BinlogParser, ev []byte) (e *replication.BinlogEvent, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("go-mysql: %v", r)
		}
	}()
	return p.Parse(ev)
}

// FuzzTableMapRows: a table map event body and a rows event body, read
// through go-mysql's parser and then Sluice's own decoding (the shape from
// the table map, the row images to change values), never panic, whatever
// the bytes. The seed corpus (testdata/fuzz) holds a real MariaDB table map
// of every column type with its insert, update and delete.
func FuzzTableMapRows(f *testing.F) {
	fde, err := hex.DecodeString(fdeHex)
	if err != nil {
		f.Fatal(err)
	}
	f.Add([]byte{}, []byte{}, uint8(0))
	f.Fuzz(func(t *testing.T, tableMap, rows []byte, kind uint8) {
		src := &Source{opts: Options{Tables: []string{"*.*"}, Log: zerolog.Nop()}, cs: fuzzCharsets, known: map[change.TableID]*change.Table{}}
		st := &stream{s: src, byID: map[uint64]*shape{}, last: map[change.TableID]*shape{}}
		p := replication.NewBinlogParser()
		p.SetFlavor("mariadb")
		p.SetVerifyChecksum(false)
		p.SetParseTime(true)
		p.SetTimestampStringLocation(time.UTC)
		p.SetRenderJSONAsMySQLText(true)
		p.SetRowsEventDecodeFunc(st.decodeRows)
		if _, err := p.Parse(fde); err != nil {
			t.Fatalf("format description: %v", err)
		}
		ev, err := parse(p, fuzzEvent(replication.TABLE_MAP_EVENT, tableMap))
		if err != nil {
			return
		}
		tm, ok := ev.Event.(*replication.TableMapEvent)
		if !ok {
			t.Fatalf("table map parsed as %T", ev.Event)
		}
		if err := st.tableMap(tm); err != nil {
			return
		}
		typ := fuzzRowsTypes[int(kind)%len(fuzzRowsTypes)]
		if ev, err = parse(p, fuzzEvent(typ, rows)); err != nil {
			return
		}
		re, ok := ev.Event.(*replication.RowsEvent)
		if !ok {
			t.Fatalf("rows event parsed as %T", ev.Event)
		}
		if err := st.rows(ev.Header, re); err != nil || st.cur == nil {
			return
		}
		defer st.cur.Close()
		n := 0
		if err := st.cur.Each(func(c *change.Change) error {
			n++
			for _, r := range []change.Row{c.Before, c.After} {
				if r != nil && len(r) != len(c.Table.Columns) {
					t.Fatalf("row of %d values for %d columns", len(r), len(c.Table.Columns))
				}
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if n != st.cur.Len() {
			t.Fatalf("%d changes read back of %d", n, st.cur.Len())
		}
	})
}
