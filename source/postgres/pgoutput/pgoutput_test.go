package pgoutput

import (
	"bytes"
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"
)

var (
	ts1 = time.Date(2024, 5, 17, 12, 34, 56, 123456000, time.UTC)
	ts0 = time.Date(1999, 12, 31, 23, 59, 59, 500000000, time.UTC) // before the PG epoch
)

type validCase struct {
	name     string
	inStream bool
	data     []byte
	want     Message
	// minLen is the shortest valid prefix (0 = len(data)); only StreamAbort,
	// whose v4 trailer is ignored, has shorter valid prefixes.
	minLen int
}

// rowTuple has one column of every kind, including an empty text value.
var rowTuple = Tuple{
	{Kind: 't', Data: []byte("42")},
	{Kind: 'n'},
	{Kind: 'u'},
	{Kind: 'b', Data: []byte{0, 1, 0xff}},
	{Kind: 't', Data: []byte{}},
}

var keyTuple = Tuple{{Kind: 't', Data: []byte("7")}}

// validCases builds each message type by hand in wire order, in and out of
// a stream where the message has a streamed form.
func validCases() []validCase {
	var cs []validCase
	add := func(c validCase) { cs = append(cs, c) }

	add(validCase{name: "begin",
		data: wire{'B'}.u64(0x0000_0001_0000_00A0).ts(ts1).u32(1234),
		want: &Begin{FinalLSN: 0x1_0000_00A0, CommitTime: ts1, Xid: 1234}})
	add(validCase{name: "begin/pre-epoch",
		data: wire{'B'}.u64(1).ts(ts0).u32(1),
		want: &Begin{FinalLSN: 1, CommitTime: ts0, Xid: 1}})
	add(validCase{name: "commit",
		data: wire{'C'}.u8(0).u64(100).u64(200).ts(ts1),
		want: &Commit{CommitLSN: 100, EndLSN: 200, CommitTime: ts1}})
	add(validCase{name: "origin",
		data: wire{'O'}.u64(99).str("node_a"),
		want: &Origin{CommitLSN: 99, Name: "node_a"}})
	add(validCase{name: "origin/empty name",
		data: wire{'O'}.u64(99).str(""),
		want: &Origin{CommitLSN: 99}})
	add(validCase{name: "stream start/first",
		data: wire{'S'}.u32(77).u8(1),
		want: &StreamStart{Xid: 77, FirstSegment: true}})
	add(validCase{name: "stream start/later",
		data: wire{'S'}.u32(77).u8(0),
		want: &StreamStart{Xid: 77}})
	add(validCase{name: "stream stop", data: wire{'E'}, want: &StreamStop{}})
	add(validCase{name: "stream commit",
		data: wire{'c'}.u32(77).u8(0).u64(300).u64(400).ts(ts1),
		want: &StreamCommit{Xid: 77, CommitLSN: 300, EndLSN: 400, CommitTime: ts1}})
	add(validCase{name: "stream abort",
		data: wire{'A'}.u32(77).u32(78),
		want: &StreamAbort{Xid: 77, SubXid: 78}})
	add(validCase{name: "stream abort/v4 trailer",
		data:   wire{'A'}.u32(77).u32(78).u64(500).ts(ts1),
		want:   &StreamAbort{Xid: 77, SubXid: 78},
		minLen: 9})

	// Messages that carry a leading xid inside a stream.
	for _, s := range []bool{false, true} {
		x := uint32(0)
		sfx := ""
		if s {
			x, sfx = 77, "/stream"
		}
		add(validCase{name: "relation" + sfx, inStream: s,
			data: wire{'R'}.xid(s, x).u32(16384).str("public").str("users").u8('d').u16(2).
				u8(1).str("id").u32(23).i32(-1).
				u8(0).str("name").u32(1043).i32(68),
			want: &Relation{Xid: x, RelationID: 16384, Namespace: "public", Name: "users",
				ReplicaIdentity: 'd', Columns: []RelationColumn{
					{Flags: 1, Name: "id", TypeOID: 23, TypeMod: -1},
					{Name: "name", TypeOID: 1043, TypeMod: 68},
				}}})
		add(validCase{name: "relation/no columns" + sfx, inStream: s,
			data: wire{'R'}.xid(s, x).u32(5).str("").str("t").u8('n').u16(0),
			want: &Relation{Xid: x, RelationID: 5, Name: "t", ReplicaIdentity: 'n'}})
		add(validCase{name: "type" + sfx, inStream: s,
			data: wire{'Y'}.xid(s, x).u32(90001).str("public").str("mood"),
			want: &TypeMsg{Xid: x, TypeOID: 90001, Namespace: "public", Name: "mood"}})
		add(validCase{name: "insert" + sfx, inStream: s,
			data: wire{'I'}.xid(s, x).u32(16384).u8('N').tuple(rowTuple),
			want: &Insert{Xid: x, RelationID: 16384, New: rowTuple}})
		add(validCase{name: "insert/zero columns" + sfx, inStream: s,
			data: wire{'I'}.xid(s, x).u32(1).u8('N').u16(0),
			want: &Insert{Xid: x, RelationID: 1, New: Tuple{}}})
		add(validCase{name: "update/no old" + sfx, inStream: s,
			data: wire{'U'}.xid(s, x).u32(16384).u8('N').tuple(rowTuple),
			want: &Update{Xid: x, RelationID: 16384, New: rowTuple}})
		add(validCase{name: "update/key" + sfx, inStream: s,
			data: wire{'U'}.xid(s, x).u32(16384).u8('K').tuple(keyTuple).u8('N').tuple(rowTuple),
			want: &Update{Xid: x, RelationID: 16384, OldKind: 'K', Old: keyTuple, New: rowTuple}})
		add(validCase{name: "update/old full" + sfx, inStream: s,
			data: wire{'U'}.xid(s, x).u32(16384).u8('O').tuple(rowTuple).u8('N').tuple(keyTuple),
			want: &Update{Xid: x, RelationID: 16384, OldKind: 'O', Old: rowTuple, New: keyTuple}})
		add(validCase{name: "delete/key" + sfx, inStream: s,
			data: wire{'D'}.xid(s, x).u32(16384).u8('K').tuple(keyTuple),
			want: &Delete{Xid: x, RelationID: 16384, OldKind: 'K', Old: keyTuple}})
		add(validCase{name: "delete/old full" + sfx, inStream: s,
			data: wire{'D'}.xid(s, x).u32(16384).u8('O').tuple(rowTuple),
			want: &Delete{Xid: x, RelationID: 16384, OldKind: 'O', Old: rowTuple}})
		add(validCase{name: "truncate" + sfx, inStream: s,
			data: wire{'T'}.xid(s, x).u32(3).u8(3).u32(10).u32(11).u32(12),
			want: &Truncate{Xid: x, Options: 3, RelationIDs: []uint32{10, 11, 12}}})
		add(validCase{name: "truncate/none" + sfx, inStream: s,
			data: wire{'T'}.xid(s, x).u32(0).u8(0),
			want: &Truncate{Xid: x}})
		add(validCase{name: "message" + sfx, inStream: s,
			data: wire{'M'}.xid(s, x).u8(1).u64(600).str("sluice").lenBytes([]byte("hello\x00world")),
			want: &LogicalMessage{Xid: x, Flags: 1, LSN: 600, Prefix: "sluice",
				Content: []byte("hello\x00world")}})
		add(validCase{name: "message/empty content" + sfx, inStream: s,
			data: wire{'M'}.xid(s, x).u8(0).u64(600).str("p").lenBytes(nil),
			want: &LogicalMessage{Xid: x, LSN: 600, Prefix: "p", Content: []byte{}}})
	}
	return cs
}

func TestParseValid(t *testing.T) {
	for _, c := range validCases() {
		t.Run(c.name, func(t *testing.T) {
			got, err := Parse(c.data, c.inStream)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if !reflect.DeepEqual(got, c.want) {
				t.Fatalf("Parse =\n %#v\nwant\n %#v", got, c.want)
			}
			if got.Type() != MessageType(c.data[0]) {
				t.Errorf("Type() = %q, want %q", got.Type(), c.data[0])
			}
		})
	}
}

// TestEncodeMsgMatchesWire cross-checks the round-trip encoder used by the
// fuzz target against the hand-built layouts.
func TestEncodeMsgMatchesWire(t *testing.T) {
	for _, c := range validCases() {
		if c.minLen != 0 {
			continue // encodeMsg does not write the ignored v4 trailer
		}
		if got := encodeMsg(c.want, c.inStream); !bytes.Equal(got, c.data) {
			t.Errorf("%s: encodeMsg = %x, want %x", c.name, got, c.data)
		}
	}
}

// TestParseGolden pins a few layouts to literal bytes, so a mistake shared
// by the test encoder and the decoder (say, byte order) cannot hide.
func TestParseGolden(t *testing.T) {
	begin := []byte{'B',
		0, 0, 0, 1, 0, 0, 0, 0xA0, // final LSN 1/A0
		0, 0, 0, 0, 0, 0x0F, 0x42, 0x40, // 1,000,000 µs after 2000-01-01
		0, 0, 0x04, 0xD2, // xid 1234
	}
	got, err := Parse(begin, false)
	want := &Begin{FinalLSN: 0x1_0000_00A0, Xid: 1234,
		CommitTime: time.Date(2000, 1, 1, 0, 0, 1, 0, time.UTC)}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("begin: got %#v, %v; want %#v", got, err, want)
	}

	insert := []byte{'I', 0, 0, 0, 9, 0, 0, 0, 5, 'N', 0, 2, 'n', 't', 0, 0, 0, 2, 'h', 'i'}
	got, err = Parse(insert, true)
	wantIns := &Insert{Xid: 9, RelationID: 5, New: Tuple{{Kind: 'n'}, {Kind: 't', Data: []byte("hi")}}}
	if err != nil || !reflect.DeepEqual(got, wantIns) {
		t.Errorf("insert: got %#v, %v; want %#v", got, err, wantIns)
	}
}

// TestParseTruncated feeds every strict prefix of every valid message.
func TestParseTruncated(t *testing.T) {
	for _, c := range validCases() {
		minLen := c.minLen
		if minLen == 0 {
			minLen = len(c.data)
		}
		for n := 0; n < minLen; n++ {
			m, err := Parse(c.data[:n], c.inStream)
			if !errors.Is(err, ErrMalformed) || m != nil {
				t.Errorf("%s: Parse(prefix %d/%d) = %#v, %v; want nil, ErrMalformed",
					c.name, n, len(c.data), m, err)
			}
		}
		for n := minLen; n <= len(c.data); n++ {
			if _, err := Parse(c.data[:n], c.inStream); err != nil {
				t.Errorf("%s: Parse(prefix %d/%d): %v", c.name, n, len(c.data), err)
			}
		}
	}
}

// TestParseTrailing: a byte past the end is malformed, except for
// StreamAbort, which ignores the v4 trailer.
func TestParseTrailing(t *testing.T) {
	for _, c := range validCases() {
		data := append(append([]byte(nil), c.data...), 0)
		_, err := Parse(data, c.inStream)
		if c.data[0] == 'A' {
			if err != nil {
				t.Errorf("%s: %v", c.name, err)
			}
			continue
		}
		if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), "trailing") {
			t.Errorf("%s: err = %v, want trailing-bytes ErrMalformed", c.name, err)
		}
	}
}

// TestParseStreamMismatch: parsing with the wrong inStream shifts every
// field by four bytes; the result may or may not be an error, but must not
// panic.
func TestParseStreamMismatch(t *testing.T) {
	for _, c := range validCases() {
		_, _ = Parse(c.data, !c.inStream)
	}
}

func TestParseMalformed(t *testing.T) {
	rel := wire{'R'}.u32(1).str("s").str("t").u8('d')
	cases := []struct {
		name     string
		data     []byte
		inStream bool
		wantIn   string // substring of the error
	}{
		{"empty", nil, false, "empty"},
		{"unknown type", []byte{'Z', 1, 2}, false, "unknown message type 'Z'"},
		{"origin no NUL", wire{'O'}.u64(1).raw([]byte("abc")), false, "Origin ('O'): origin name: missing NUL"},
		{"relation ncols too big", rel.u16(0xFFFF).raw(make([]byte, 100)), false, "column count 65535 exceeds"},
		{"relation column name no NUL", rel.u16(1).u8(0).raw([]byte("abcdefghijkl")), false, "column 0: name: missing NUL"},
		{"relation second column short", rel.u16(2).u8(0).str("abc").u32(1).i32(1).u8(0).str("b").u32(1), false, "column 1: type modifier"},
		{"insert bad marker", wire{'I'}.u32(1).u8('K').tuple(keyTuple), false, "new tuple marker: got 'K'"},
		{"insert ncols too big", wire{'I'}.u32(1).u8('N').u16(1000).u8('n'), false, "new tuple column count 1000 exceeds"},
		{"insert bad kind", wire{'I'}.u32(1).u8('N').u16(2).u8('n').u8('x'), false, "Insert ('I'): new tuple column 1: unknown kind 'x'"},
		{"insert negative length", wire{'I'}.u32(1).u8('N').u16(1).u8('t').i32(-1), false, "negative length -1"},
		{"insert length past end", wire{'I'}.u32(1).u8('N').u16(1).u8('b').i32(10).raw([]byte("abc")), false, "data: need 10 bytes, have 3"},
		{"insert huge length", wire{'I'}.u32(1).u8('N').u16(1).u8('t').i32(math.MaxInt32), false, "need 2147483647 bytes"},
		{"update bad marker", wire{'U'}.u32(1).u8('X'), false, "Update ('U'): tuple marker: got 'X'"},
		{"update old then no N", wire{'U'}.u32(1).u8('K').tuple(keyTuple).u8('K').tuple(keyTuple), false, "new tuple marker: got 'K'"},
		{"update old tuple bad", wire{'U'}.u32(1).u8('O').u16(1).u8('?'), false, "old tuple column 0: unknown kind"},
		{"delete N marker", wire{'D'}.u32(1).u8('N').tuple(keyTuple), false, "Delete ('D'): old tuple marker: got 'N'"},
		{"truncate nrels too big", wire{'T'}.u32(math.MaxInt32).u8(0).u32(1), false, "relation count 2147483647 exceeds"},
		{"truncate negative nrels", wire{'T'}.i32(-1).u8(0).u32(1), false, "relation count 4294967295 exceeds"},
		{"truncate stream nrels too big", wire{'T'}.u32(7).u32(5).u8(0).u32(1), true, "relation count 5 exceeds"},
		{"message negative length", wire{'M'}.u8(0).u64(1).str("p").i32(-5), false, "Message ('M'): content: negative length -5"},
		{"message prefix no NUL", wire{'M'}.u8(0).u64(1).raw([]byte("pfx")), false, "prefix: missing NUL"},
		{"stream stop trailing", wire{'E'}.u8(0), false, "1 unexpected trailing bytes"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m, err := Parse(c.data, c.inStream)
			if m != nil {
				t.Errorf("message = %#v, want nil", m)
			}
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("err = %v, want ErrMalformed", err)
			}
			if !strings.Contains(err.Error(), c.wantIn) {
				t.Errorf("err = %q, want it to contain %q", err, c.wantIn)
			}
		})
	}
}

// TestParseAliasing: Data and Content alias the input (no copy), but with
// capacity capped so appending to one cannot overwrite the next field.
func TestParseAliasing(t *testing.T) {
	data := wire{'I'}.u32(1).u8('N').tuple(Tuple{
		{Kind: 't', Data: []byte("ab")},
		{Kind: 't', Data: []byte("cd")},
	})
	m, err := Parse(data, false)
	if err != nil {
		t.Fatal(err)
	}
	ins := m.(*Insert)
	ins.New[0].Data[0] = 'X'
	if !bytes.Contains(data, []byte("Xb")) {
		t.Error("Data does not alias the input buffer")
	}
	_ = append(ins.New[0].Data, 'Z', 'Z', 'Z', 'Z', 'Z', 'Z')
	if string(ins.New[1].Data) != "cd" {
		t.Errorf("append to column 0 clobbered column 1: %q", ins.New[1].Data)
	}
}

func TestTimestampExtremes(t *testing.T) {
	for _, us := range []int64{0, 1, -1, -999999, -1000001, math.MaxInt64, math.MinInt64} {
		data := wire{'B'}.u64(0).u64(uint64(us)).u32(0)
		m, err := Parse(data, false)
		if err != nil {
			t.Fatalf("%d: %v", us, err)
		}
		ct := m.(*Begin).CommitTime
		if got := pgMicros(ct); got != us {
			t.Errorf("%d µs decoded to %v, which encodes back to %d", us, ct, got)
		}
		if ct.Location() != time.UTC {
			t.Errorf("%d: location %v, want UTC", us, ct.Location())
		}
	}
	want := time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC).Add(-1500 * time.Millisecond)
	if got := pgTime(-1_500_000); !got.Equal(want) {
		t.Errorf("pgTime(-1.5s) = %v, want %v", got, want)
	}
}
