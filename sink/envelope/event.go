package envelope

import (
	"fmt"
	"strconv"
	"time"

	"github.com/sluicecdc/sluice/pkg/change"
)

// event is one change event being written.
type event struct {
	cd                    *codec
	src                   *sourcePos
	now                   time.Time
	op                    byte
	before, after, keyRow change.Row
	hdr                   string
	hdrRow                change.Row
	seq                   int64
	txn                   *Txn
	total, collOrder      int64
}

func (e *Encoder) valueError(cd *codec, col int, err error) error {
	c := cd.cols[col]
	return &ValueError{Table: cd.table.ID, Column: c.name, Type: c.typ, Err: err}
}

// appendRow writes a row as the table's Value struct (or null).
func (e *Encoder) appendRow(s *session, cd *codec, row change.Row) error {
	if row == nil {
		s.buf = append(s.buf, "null"...)
		return nil
	}
	if len(row) != len(cd.cols) {
		return fmt.Errorf("envelope: table %s: row has %d values, the table has %d columns", cd.table.ID, len(row), len(cd.cols))
	}
	s.buf = append(s.buf, '{')
	for i, c := range cd.cols {
		if i > 0 {
			s.buf = append(s.buf, ',')
		}
		s.buf = append(s.buf, c.field...)
		var err error
		if s.buf, err = s.w.appendValue(s.buf, c, row[i], e.opts.UnavailableValue); err != nil {
			return e.valueError(cd, i, err)
		}
	}
	s.buf = append(s.buf, '}')
	return nil
}

// appendKeyPayload writes the key struct of a row.
func (e *Encoder) appendKeyPayload(s *session, cd *codec, row change.Row) error {
	if len(row) != len(cd.cols) {
		return fmt.Errorf("envelope: table %s: row has %d values, the table has %d columns", cd.table.ID, len(row), len(cd.cols))
	}
	s.buf = append(s.buf, '{')
	for i, k := range cd.key {
		if i > 0 {
			s.buf = append(s.buf, ',')
		}
		c := cd.cols[k]
		s.buf = append(s.buf, c.field...)
		var err error
		if s.buf, err = s.w.appendValue(s.buf, c, row[k], e.opts.UnavailableValue); err != nil {
			return e.valueError(cd, k, err)
		}
	}
	s.buf = append(s.buf, '}')
	return nil
}

func (e *Encoder) appendEvent(s *session, ev *event) error {
	cd := ev.cd
	sp := span{rec: Record{Table: cd.table.ID}}
	// header: the other key's payload
	if ev.hdr != "" {
		sp.h0 = len(s.buf)
		if err := e.appendKeyPayload(s, cd, ev.hdrRow); err != nil {
			return err
		}
		sp.h1, sp.hd = len(s.buf), true
		sp.rec.Headers = []Header{{Key: ev.hdr}}
	}
	// key
	if len(cd.key) > 0 && ev.keyRow != nil {
		sp.key0 = len(s.buf)
		s.buf = append(s.buf, cd.keyPrefix...)
		if err := e.appendKeyPayload(s, cd, ev.keyRow); err != nil {
			return err
		}
		if cd.keyPrefix != nil {
			s.buf = append(s.buf, '}')
		}
		sp.key1, sp.hasKey = len(s.buf), true
	}
	// value
	sp.v0, sp.hasValue = len(s.buf), true
	s.buf = append(s.buf, cd.valuePrefix...)
	s.buf = append(s.buf, `{"before":`...)
	if err := e.appendRow(s, cd, ev.before); err != nil {
		return err
	}
	s.buf = append(s.buf, `,"after":`...)
	if err := e.appendRow(s, cd, ev.after); err != nil {
		return err
	}
	s.buf = append(s.buf, `,"source":`...)
	s.buf = e.appendSource(s.buf, cd, ev)
	s.buf = append(s.buf, `,"transaction":`...)
	if ev.txn != nil {
		s.buf = append(s.buf, `{"id":`...)
		s.buf = appendStr(s.buf, ev.txn.id)
		s.buf = append(s.buf, `,"total_order":`...)
		s.buf = strconv.AppendInt(s.buf, ev.total, 10)
		s.buf = append(s.buf, `,"data_collection_order":`...)
		s.buf = strconv.AppendInt(s.buf, ev.collOrder, 10)
		s.buf = append(s.buf, '}')
	} else {
		s.buf = append(s.buf, "null"...)
	}
	s.buf = append(s.buf, `,"op":"`...)
	s.buf = append(s.buf, ev.op)
	s.buf = appendTimes(s.buf, ev.now)
	s.buf = append(s.buf, '}')
	if cd.valuePrefix != nil {
		s.buf = append(s.buf, '}')
	}
	sp.v1 = len(s.buf)
	s.spans = append(s.spans, sp)
	return nil
}

// appendTombstone adds the tombstone of the last event: its key (and
// headers), a null value.
func (e *Encoder) appendTombstone(s *session, ev *event) {
	if e.opts.OmitTombstones {
		return
	}
	last := s.spans[len(s.spans)-1]
	last.hasValue = false
	last.rec.Value = nil
	if last.hd {
		last.rec.Headers = []Header{{Key: last.rec.Headers[0].Key}}
	}
	s.spans = append(s.spans, last)
}

// appendSource writes the source block of an event.
func (e *Encoder) appendSource(dst []byte, cd *codec, ev *event) []byte {
	p := ev.src
	postgres := cd.table.Dialect == change.Postgres
	sg := p.segments(postgres)
	dst = append(dst, cd.sourceHead...)
	dst = append(dst, sg.ms...)
	dst = append(dst, `,"snapshot":"`...)
	if ev.op == 'r' && p.snapshot == "false" {
		dst = append(dst, "incremental"...) // a row of an online back-fill chunk, as Debezium marks incremental snapshots
	} else {
		dst = append(dst, p.snapshot...)
	}
	dst = append(dst, `",`...)
	dst = append(dst, cd.sourceDB...)
	dst = append(dst, sg.seqHead...)
	if sg.hasSeq {
		dst = strconv.AppendInt(dst, ev.seq, 10)
	}
	dst = append(dst, sg.seqTail...)
	dst = append(dst, cd.sourceTable...)
	dst = append(dst, sg.tail...)
	if postgres {
		return dst
	}
	if p.streaming {
		dst = strconv.AppendInt(dst, ev.seq, 10)
	} else {
		dst = append(dst, '0')
	}
	return append(dst, sg.rowTail...)
}

// appendTxnEvent writes a BEGIN or END event for the transaction topic.
func (e *Encoder) appendTxnEvent(s *session, t *Txn, status string) {
	sp := span{rec: Record{Transaction: true}}
	sp.key0 = len(s.buf)
	s.buf = append(s.buf, e.txnKeyPrefix...)
	s.buf = append(s.buf, `{"id":`...)
	s.buf = appendStr(s.buf, t.id)
	s.buf = append(s.buf, '}')
	if e.txnKeyPrefix != nil {
		s.buf = append(s.buf, '}')
	}
	sp.key1, sp.hasKey = len(s.buf), true
	sp.v0, sp.hasValue = len(s.buf), true
	s.buf = append(s.buf, e.txnValuePrefix...)
	s.buf = append(s.buf, `{"status":"`...)
	s.buf = append(s.buf, status...)
	s.buf = append(s.buf, `","id":`...)
	s.buf = appendStr(s.buf, t.id)
	if status == "BEGIN" {
		s.buf = append(s.buf, `,"event_count":null,"data_collections":null`...)
	} else {
		s.buf = append(s.buf, `,"event_count":`...)
		s.buf = strconv.AppendInt(s.buf, t.seq, 10)
		s.buf = append(s.buf, `,"data_collections":[`...)
		for i, c := range t.colls {
			if i > 0 {
				s.buf = append(s.buf, ',')
			}
			s.buf = append(s.buf, `{"data_collection":`...)
			s.buf = appendStr(s.buf, c.name)
			s.buf = append(s.buf, `,"event_count":`...)
			s.buf = strconv.AppendInt(s.buf, c.n, 10)
			s.buf = append(s.buf, '}')
		}
		s.buf = append(s.buf, ']')
	}
	s.buf = append(s.buf, `,"ts_ms":`...)
	s.buf = strconv.AppendInt(s.buf, t.src.tsMS, 10)
	s.buf = append(s.buf, '}')
	if e.txnValuePrefix != nil {
		s.buf = append(s.buf, '}')
	}
	sp.v1 = len(s.buf)
	s.spans = append(s.spans, sp)
}

// appendTimes writes the envelope's ts_ms, ts_us and ts_ns: the
// nanoseconds formatted once, the others its leading digits (for any time
// after 1970-01-01T00:00:00.01, floor division is cutting digits).
func appendTimes(dst []byte, now time.Time) []byte {
	ns := now.UnixNano()
	if ns < 10_000_000 {
		dst = append(dst, `","ts_ms":`...)
		dst = strconv.AppendInt(dst, now.UnixMilli(), 10)
		dst = append(dst, `,"ts_us":`...)
		dst = strconv.AppendInt(dst, now.UnixMicro(), 10)
		dst = append(dst, `,"ts_ns":`...)
		return strconv.AppendInt(dst, ns, 10)
	}
	var b [20]byte
	d := strconv.AppendInt(b[:0], ns, 10)
	dst = append(dst, `","ts_ms":`...)
	dst = append(dst, d[:len(d)-6]...)
	dst = append(dst, `,"ts_us":`...)
	dst = append(dst, d[:len(d)-3]...)
	dst = append(dst, `,"ts_ns":`...)
	return append(dst, d...)
}
