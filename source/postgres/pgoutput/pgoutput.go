// Package pgoutput decodes the messages of PostgreSQL's built-in logical
// replication output plugin, pgoutput, protocol versions 1 and 2 (version 2
// adds streaming of in-progress transactions).
//
// The decoder is pure and defensive: it never panics, checks every length
// before using it, and never allocates from an untrusted count without first
// checking that the remaining input could hold that many items. Every decode
// error wraps ErrMalformed and names the message type and the offending field.
//
// Wire format reference: PostgreSQL documentation, "Logical Replication
// Message Formats".
package pgoutput

import (
	"errors"
	"time"
)

// ErrMalformed is wrapped by every error Parse returns.
var ErrMalformed = errors.New("malformed pgoutput message")

// MessageType is the first byte of a pgoutput message:
// 'B','C','O','R','Y','I','U','D','T','M','S','E','c','A'.
type MessageType byte

// Message is one decoded pgoutput message. Parse returns pointers (*Begin,
// *Commit, ...); only the pointer types implement Message, so a type switch on
// a value type is a compile error rather than a silent miss.
type Message interface{ Type() MessageType }

// Begin starts a (non-streamed) transaction.
type Begin struct {
	FinalLSN   uint64
	CommitTime time.Time
	Xid        uint32
}

// Commit ends a (non-streamed) transaction.
type Commit struct {
	Flags      uint8
	CommitLSN  uint64
	EndLSN     uint64
	CommitTime time.Time
}

// Origin names the replication origin a transaction came from.
type Origin struct {
	CommitLSN uint64
	Name      string
}

// RelationColumn describes one column of a Relation.
type RelationColumn struct {
	Flags   uint8 // 1 = part of the replica identity (key)
	Name    string
	TypeOID uint32
	TypeMod int32
}

// Relation describes a table; it precedes the first change to that table
// (and is re-sent when the table's definition changes).
type Relation struct {
	Xid             uint32 // 0 unless inside a stream
	RelationID      uint32
	Namespace       string
	Name            string
	ReplicaIdentity uint8 // 'd' default, 'n' nothing, 'f' full, 'i' index
	Columns         []RelationColumn
}

// TypeMsg describes a non-built-in data type used by a later Relation.
type TypeMsg struct {
	Xid       uint32
	TypeOID   uint32
	Namespace string
	Name      string
}

// TupleColumn is one column value of a Tuple.
// Data is nil for 'n' and 'u', and non-nil (possibly empty) for 't' and 'b',
// so an empty string is distinguishable from NULL.
type TupleColumn struct {
	Kind byte // 'n' null, 'u' unchanged TOASTed value, 't' text, 'b' binary
	Data []byte
}

// Tuple is one row as sent by pgoutput. A decoded Tuple is non-nil even with
// zero columns, so "no old tuple" (nil) differs from "empty old tuple".
type Tuple []TupleColumn

// Insert is one inserted row.
type Insert struct {
	Xid        uint32
	RelationID uint32
	New        Tuple
}

// Update is one updated row. Old is present only when OldKind is 'K' (the
// old key changed) or 'O' (REPLICA IDENTITY FULL).
type Update struct {
	Xid        uint32
	RelationID uint32
	OldKind    byte // 0 none, 'K' key, 'O' old full row
	Old        Tuple
	New        Tuple
}

// Delete is one deleted row; Old holds the key ('K') or the full row ('O').
type Delete struct {
	Xid        uint32
	RelationID uint32
	OldKind    byte // 'K' or 'O'
	Old        Tuple
}

// Truncate lists the truncated relations.
type Truncate struct {
	Xid         uint32
	Options     uint8 // 1 cascade, 2 restart identity
	RelationIDs []uint32
}

// LogicalMessage is a pg_logical_emit_message() payload.
type LogicalMessage struct {
	Xid     uint32
	Flags   uint8 // 1 transactional
	LSN     uint64
	Prefix  string
	Content []byte
}

// StreamStart opens a block of changes of an in-progress transaction (v2).
type StreamStart struct {
	Xid          uint32
	FirstSegment bool
}

// StreamStop closes a block opened by StreamStart (v2).
type StreamStop struct{}

// StreamCommit commits a streamed transaction (v2).
type StreamCommit struct {
	Xid        uint32
	Flags      uint8
	CommitLSN  uint64
	EndLSN     uint64
	CommitTime time.Time
}

// StreamAbort aborts a streamed (sub)transaction (v2).
type StreamAbort struct {
	Xid    uint32
	SubXid uint32
}

func (*Begin) Type() MessageType          { return 'B' }
func (*Commit) Type() MessageType         { return 'C' }
func (*Origin) Type() MessageType         { return 'O' }
func (*Relation) Type() MessageType       { return 'R' }
func (*TypeMsg) Type() MessageType        { return 'Y' }
func (*Insert) Type() MessageType         { return 'I' }
func (*Update) Type() MessageType         { return 'U' }
func (*Delete) Type() MessageType         { return 'D' }
func (*Truncate) Type() MessageType       { return 'T' }
func (*LogicalMessage) Type() MessageType { return 'M' }
func (*StreamStart) Type() MessageType    { return 'S' }
func (*StreamStop) Type() MessageType     { return 'E' }
func (*StreamCommit) Type() MessageType   { return 'c' }
func (*StreamAbort) Type() MessageType    { return 'A' }

// Parse decodes one pgoutput message (the payload of an XLogData message).
// inStream tells whether we are between StreamStart and StreamStop: then
// Relation, Type, Insert, Update, Delete, Truncate and Message carry a leading Xid.
// Parse may keep sub-slices of data (no copying); the caller passes a buffer it owns.
//
// The returned Message is a pointer (*Begin, *Insert, ...). Trailing bytes
// after a complete message are malformed, except after StreamAbort, where
// protocol v4 appends the abort LSN and time.
func Parse(data []byte, inStream bool) (Message, error) {
	if len(data) == 0 {
		return nil, errorf("empty message")
	}
	d := &decoder{data: data, off: 1, typ: MessageType(data[0])}
	var m Message
	switch d.typ {
	case 'B':
		m = d.begin()
	case 'C':
		m = d.commit()
	case 'O':
		m = d.origin()
	case 'R':
		m = d.relation(inStream)
	case 'Y':
		m = d.typeMsg(inStream)
	case 'I':
		m = d.insert(inStream)
	case 'U':
		m = d.update(inStream)
	case 'D':
		m = d.delete(inStream)
	case 'T':
		m = d.truncate(inStream)
	case 'M':
		m = d.message(inStream)
	case 'S':
		m = d.streamStart()
	case 'E':
		m = &StreamStop{}
	case 'c':
		m = d.streamCommit()
	case 'A':
		m = d.streamAbort()
		d.off = len(d.data) // v4 trailer (abort LSN, abort time) is ignored
	default:
		return nil, errorf("unknown message type %s", typeName(d.typ))
	}
	if err := d.finish(); err != nil {
		return nil, err
	}
	return m, nil
}
