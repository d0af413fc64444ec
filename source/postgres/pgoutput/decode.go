package pgoutput

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"time"
)

// pgEpochUnix is 2000-01-01 00:00:00 UTC, the PostgreSQL timestamp epoch, in
// Unix seconds.
const pgEpochUnix = 946684800

// decoder reads big-endian fields from one message. Errors are sticky: after
// the first failure every read returns a zero value, so the per-message code
// reads straight through and checks d.err once (finish). Zero values also
// make any count read after a failure 0, so nothing is allocated from it.
type decoder struct {
	data []byte
	off  int
	typ  MessageType
	err  error

	// item and idx name the repeated element being read (e.g. "new tuple
	// column", 3) so errors point at it without formatting on the hot path.
	item string
	idx  int
}

func errorf(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrMalformed}, args...)...)
}

var typeNames = map[MessageType]string{
	'B': "Begin", 'C': "Commit", 'O': "Origin", 'R': "Relation",
	'Y': "Type", 'I': "Insert", 'U': "Update", 'D': "Delete",
	'T': "Truncate", 'M': "Message", 'S': "StreamStart", 'E': "StreamStop",
	'c': "StreamCommit", 'A': "StreamAbort",
}

// typeName renders a type byte for errors, e.g. `Insert ('I')`.
func typeName(t MessageType) string {
	if n, ok := typeNames[t]; ok {
		return fmt.Sprintf("%s (%q)", n, byte(t))
	}
	return fmt.Sprintf("%q (0x%02x)", byte(t), byte(t))
}

// failf records the first error, prefixed with the message type and, inside
// a loop, the element being read.
func (d *decoder) failf(format string, args ...any) {
	if d.err != nil {
		return
	}
	where := typeName(d.typ)
	if d.item != "" {
		where = fmt.Sprintf("%s: %s %d", where, d.item, d.idx)
	}
	d.err = fmt.Errorf("%w: %s: %s", ErrMalformed, where, fmt.Sprintf(format, args...))
}

func (d *decoder) remaining() int { return len(d.data) - d.off }

// need reports whether n more bytes are available, recording an error if not.
func (d *decoder) need(n int, field string) bool {
	if d.err != nil {
		return false
	}
	if n < 0 || d.remaining() < n {
		d.failf("%s: need %d bytes, have %d", field, n, d.remaining())
		return false
	}
	return true
}

func (d *decoder) u8(field string) uint8 {
	if !d.need(1, field) {
		return 0
	}
	v := d.data[d.off]
	d.off++
	return v
}

func (d *decoder) u16(field string) uint16 {
	if !d.need(2, field) {
		return 0
	}
	v := binary.BigEndian.Uint16(d.data[d.off:])
	d.off += 2
	return v
}

func (d *decoder) u32(field string) uint32 {
	if !d.need(4, field) {
		return 0
	}
	v := binary.BigEndian.Uint32(d.data[d.off:])
	d.off += 4
	return v
}

func (d *decoder) u64(field string) uint64 {
	if !d.need(8, field) {
		return 0
	}
	v := binary.BigEndian.Uint64(d.data[d.off:])
	d.off += 8
	return v
}

// timestamp reads Int64 microseconds since 2000-01-01 UTC. Splitting into
// seconds and nanoseconds avoids the int64 overflow that converting the whole
// value to a time.Duration would hit for extreme (corrupt) values.
func (d *decoder) timestamp(field string) time.Time {
	if !d.need(8, field) {
		return time.Time{}
	}
	us := int64(d.u64(field))
	return time.Unix(pgEpochUnix+us/1e6, (us%1e6)*1e3).UTC()
}

// cstring reads a NUL-terminated string; a missing terminator is malformed.
func (d *decoder) cstring(field string) string {
	if !d.need(1, field) {
		return ""
	}
	i := bytes.IndexByte(d.data[d.off:], 0)
	if i < 0 {
		d.failf("%s: missing NUL terminator", field)
		return ""
	}
	s := string(d.data[d.off : d.off+i])
	d.off += i + 1
	return s
}

// lenBytes reads an Int32 length and that many bytes. The result aliases
// data, with its capacity capped so a caller's append cannot overwrite the
// bytes that follow it. It is non-nil (possibly empty) on success.
func (d *decoder) lenBytes(lenField, field string) []byte {
	n := int32(d.u32(lenField))
	if d.err != nil {
		return nil
	}
	if n < 0 {
		d.failf("%s: negative length %d", field, n)
		return nil
	}
	if !d.need(int(n), field) {
		return nil
	}
	end := d.off + int(n)
	b := d.data[d.off:end:end]
	d.off = end
	return b
}

// fits reports whether count items of at least minSize bytes each could fit
// in the rest of the message; it guards every allocation sized by a count
// read off the wire.
func (d *decoder) fits(count uint64, minSize int, field string) bool {
	if d.err != nil {
		return false
	}
	if count > uint64(d.remaining()/minSize) {
		d.failf("%s %d exceeds what the remaining %d bytes can hold", field, count, d.remaining())
		return false
	}
	return true
}

// finish returns the first error, or an error if bytes are left over (a
// sign the message was framed or typed wrong).
func (d *decoder) finish() error {
	d.item = ""
	if d.err == nil && d.remaining() != 0 {
		d.failf("%d unexpected trailing bytes", d.remaining())
	}
	return d.err
}
