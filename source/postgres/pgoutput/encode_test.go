package pgoutput

import (
	"encoding/binary"
	"fmt"
	"time"
)

// Test-only encoders: a byte-level builder for writing wire layouts by hand,
// and encodeMsg, which re-encodes a decoded Message for round-trip checks.

type wire []byte

func (w wire) u8(v uint8) wire   { return append(w, v) }
func (w wire) u16(v uint16) wire { return binary.BigEndian.AppendUint16(w, v) }
func (w wire) u32(v uint32) wire { return binary.BigEndian.AppendUint32(w, v) }
func (w wire) i32(v int32) wire  { return w.u32(uint32(v)) }
func (w wire) u64(v uint64) wire { return binary.BigEndian.AppendUint64(w, v) }
func (w wire) str(s string) wire { return append(append(w, s...), 0) }
func (w wire) raw(b []byte) wire { return append(w, b...) }

// ts writes t as microseconds since the PostgreSQL epoch.
func (w wire) ts(t time.Time) wire { return w.u64(uint64(pgMicros(t))) }

// lenBytes writes an Int32 length and the bytes.
func (w wire) lenBytes(b []byte) wire { return w.i32(int32(len(b))).raw(b) }

// tuple writes TupleData.
func (w wire) tuple(t Tuple) wire {
	w = w.u16(uint16(len(t)))
	for _, c := range t {
		w = w.u8(c.Kind)
		if c.Kind == 't' || c.Kind == 'b' {
			w = w.lenBytes(c.Data)
		}
	}
	return w
}

// xid writes the streamed-transaction xid only when inStream.
func (w wire) xid(inStream bool, x uint32) wire {
	if inStream {
		return w.u32(x)
	}
	return w
}

// pgMicros inverts decoder.timestamp. The multiplication may wrap for
// extreme values; the final sum is still exact because int64 arithmetic is
// modular and the true result fits.
func pgMicros(t time.Time) int64 {
	return (t.Unix()-pgEpochUnix)*1e6 + int64(t.Nanosecond()/1e3)
}

// pgTime builds the time.Time Parse returns for us microseconds.
func pgTime(us int64) time.Time {
	return time.Unix(pgEpochUnix+us/1e6, (us%1e6)*1e3).UTC()
}

// encodeMsg encodes m as pgoutput would.
func encodeMsg(m Message, inStream bool) []byte {
	w := wire{byte(m.Type())}
	switch m := m.(type) {
	case *Begin:
		w = w.u64(m.FinalLSN).ts(m.CommitTime).u32(m.Xid)
	case *Commit:
		w = w.u8(m.Flags).u64(m.CommitLSN).u64(m.EndLSN).ts(m.CommitTime)
	case *Origin:
		w = w.u64(m.CommitLSN).str(m.Name)
	case *Relation:
		w = w.xid(inStream, m.Xid).u32(m.RelationID).str(m.Namespace).str(m.Name).
			u8(m.ReplicaIdentity).u16(uint16(len(m.Columns)))
		for _, c := range m.Columns {
			w = w.u8(c.Flags).str(c.Name).u32(c.TypeOID).i32(c.TypeMod)
		}
	case *TypeMsg:
		w = w.xid(inStream, m.Xid).u32(m.TypeOID).str(m.Namespace).str(m.Name)
	case *Insert:
		w = w.xid(inStream, m.Xid).u32(m.RelationID).u8('N').tuple(m.New)
	case *Update:
		w = w.xid(inStream, m.Xid).u32(m.RelationID)
		if m.OldKind != 0 {
			w = w.u8(m.OldKind).tuple(m.Old)
		}
		w = w.u8('N').tuple(m.New)
	case *Delete:
		w = w.xid(inStream, m.Xid).u32(m.RelationID).u8(m.OldKind).tuple(m.Old)
	case *Truncate:
		w = w.xid(inStream, m.Xid).u32(uint32(len(m.RelationIDs))).u8(m.Options)
		for _, id := range m.RelationIDs {
			w = w.u32(id)
		}
	case *LogicalMessage:
		w = w.xid(inStream, m.Xid).u8(m.Flags).u64(m.LSN).str(m.Prefix).lenBytes(m.Content)
	case *StreamStart:
		first := uint8(0)
		if m.FirstSegment {
			first = 1
		}
		w = w.u32(m.Xid).u8(first)
	case *StreamStop:
	case *StreamCommit:
		w = w.u32(m.Xid).u8(m.Flags).u64(m.CommitLSN).u64(m.EndLSN).ts(m.CommitTime)
	case *StreamAbort:
		w = w.u32(m.Xid).u32(m.SubXid)
	default:
		panic(fmt.Sprintf("encodeMsg: unhandled %T", m))
	}
	return w
}
