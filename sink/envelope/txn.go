package envelope

import (
	"fmt"
	"strconv"
	"time"

	"github.com/sluicecdc/sluice/pkg/change"
)

// TxnInfo is what the encoder needs of a source transaction.
type TxnInfo struct {
	ID       string          // change.Txn.ID: the PostgreSQL xid; the MySQL GTID (or file:pos without GTIDs)
	Commit   time.Time       // commit time: source.ts_ms
	Position change.Position // PostgresPosition or MySQLPosition; nil when unknown
}

// InfoOf takes a transaction's TxnInfo.
func InfoOf(t *change.Txn) TxnInfo {
	return TxnInfo{ID: t.ID, Commit: t.Commit, Position: t.Position}
}

// Txn encodes the changes of one transaction, in order, and its
// transaction metadata. Not safe for concurrent use.
type Txn struct {
	e     *Encoder
	src   sourcePos
	id    string // the transaction metadata id
	seq   int64  // events so far
	begun bool
	colls []collCount
	saved []collCount // colls before the current call, restored if it fails
}

type collCount struct {
	name string
	n    int64
}

// sourcePos is the source position fields of the events of a transaction
// (or of a snapshot).
type sourcePos struct {
	txID             int64
	hasTxID, hasLSN  bool
	lsn              uint64
	binlog           bool
	file, gtid       string // gtid: the transaction's GTID, "" for null
	pos, server      uint32
	tsMS, tsUS, tsNS int64
	snapshot         string
	streaming        bool // sequence and row count events

	segs [2]*sourceSegs // the formatted constant parts, PostgreSQL and MySQL layout
}

// sourceSegs are the parts of a source block that are the same for every
// event of a transaction (or snapshot): formatted once.
type sourceSegs struct {
	ms      []byte // ts_ms digits
	seqHead []byte // "sequence":..., up to the event index when hasSeq
	hasSeq  bool
	seqTail []byte // after the event index: ...,"ts_us":...,"ts_ns":...,
	tail    []byte // after "table": PostgreSQL all of it; MySQL up to "row":
	rowTail []byte // MySQL: after the row
}

func (p *sourcePos) segments(postgres bool) *sourceSegs {
	i := 1
	if postgres {
		i = 0
	}
	if s := p.segs[i]; s != nil {
		return s
	}
	s := &sourceSegs{ms: strconv.AppendInt(nil, p.tsMS, 10)}
	s.seqHead = []byte(`"sequence":`)
	switch {
	case postgres && p.hasLSN && p.streaming:
		// [commit LSN, event index]: see the package documentation.
		s.seqHead = append(s.seqHead, `"[\"`...)
		s.seqHead = strconv.AppendUint(s.seqHead, p.lsn, 10)
		s.seqHead = append(s.seqHead, `\",\"`...)
		s.hasSeq = true
		s.seqTail = append(s.seqTail, `\"]"`...)
	case postgres && p.hasLSN:
		s.seqHead = append(s.seqHead, `"[null,\"`...)
		s.seqHead = strconv.AppendUint(s.seqHead, p.lsn, 10)
		s.seqHead = append(s.seqHead, `\"]"`...)
	default:
		s.seqHead = append(s.seqHead, "null"...)
	}
	s.seqTail = append(s.seqTail, `,"ts_us":`...)
	s.seqTail = strconv.AppendInt(s.seqTail, p.tsUS, 10)
	s.seqTail = append(s.seqTail, `,"ts_ns":`...)
	s.seqTail = strconv.AppendInt(s.seqTail, p.tsNS, 10)
	s.seqTail = append(s.seqTail, ',')
	var t []byte
	if postgres {
		t = append(t, `"txId":`...)
		if p.hasTxID {
			t = strconv.AppendInt(t, p.txID, 10)
		} else {
			t = append(t, "null"...)
		}
		t = append(t, `,"lsn":`...)
		if p.hasLSN {
			t = strconv.AppendInt(t, int64(p.lsn), 10) // Java long: the same 64 bits
		} else {
			t = append(t, "null"...)
		}
		s.tail = append(t, `,"xmin":null,"origin":null,"origin_lsn":null}`...)
	} else {
		t = append(t, `"server_id":`...)
		t = strconv.AppendUint(t, uint64(p.server), 10)
		t = append(t, `,"gtid":`...)
		if p.gtid != "" {
			t = appendStr(t, p.gtid)
		} else {
			t = append(t, "null"...)
		}
		t = append(t, `,"file":`...)
		t = appendStr(t, p.file)
		t = append(t, `,"pos":`...)
		t = strconv.AppendUint(t, uint64(p.pos), 10)
		s.tail = append(t, `,"row":`...)
		s.rowTail = []byte(`,"thread":null,"query":null}`)
	}
	p.segs[i] = s
	return s
}

func (p *sourcePos) setTime(t time.Time) {
	p.tsMS, p.tsUS, p.tsNS = t.UnixMilli(), t.UnixMicro(), t.UnixNano()
}

func (p *sourcePos) setPosition(pos change.Position) {
	switch v := pos.(type) {
	case PostgresPosition:
		p.lsn, p.hasLSN = v.LSN(), true
	case MySQLPosition:
		p.file, p.pos, _, p.server = v.Binlog()
		p.binlog = true
	}
}

// Begin starts encoding a transaction.
func (e *Encoder) Begin(info TxnInfo) *Txn {
	t := &Txn{e: e}
	commit := info.Commit
	if commit.IsZero() {
		commit = e.opts.Now()
	}
	t.src.setTime(commit)
	t.src.setPosition(info.Position)
	t.src.snapshot, t.src.streaming = "false", true
	if n, err := strconv.ParseInt(info.ID, 10, 64); err == nil {
		t.src.txID, t.src.hasTxID = n, true
	}
	t.id = info.ID
	switch {
	case t.src.hasLSN:
		// Debezium's PostgreSQL transaction id: txId:LSN.
		t.id = info.ID + ":" + strconv.FormatUint(t.src.lsn, 10)
	case t.src.binlog:
		if _, _, gtidSet, _ := info.Position.(MySQLPosition).Binlog(); gtidSet != "" && info.ID != "" {
			t.src.gtid = info.ID // source/mysql names a transaction by its GTID when the server has GTIDs
		} else {
			t.id = "file=" + t.src.file + ",pos=" + strconv.FormatUint(uint64(t.src.pos), 10)
		}
	}
	return t
}

// Change appends the records of one change to dst: one event, a delete
// and its tombstone, a delete (and tombstone) and a create for a
// primary-key update; preceded by the BEGIN event before the first change
// when transaction metadata is on. On error dst comes back unchanged.
func (t *Txn) Change(dst []Record, c *change.Change) ([]Record, error) {
	if c.Op == change.Rename {
		return dst, nil // events carry their columns by name: the next ones carry the new names
	}
	e := t.e
	cd, err := e.codec(c.Table)
	if err != nil {
		return dst, err
	}
	s := e.session()
	now := e.opts.Now()
	ev := event{cd: cd, src: &t.src, now: now}
	// a failed call leaves the transaction as it was
	seq, begun := t.seq, t.begun
	t.saved = append(t.saved[:0], t.colls...)
	if e.opts.TransactionMetadata && !t.begun {
		e.appendTxnEvent(s, t, "BEGIN")
		t.begun = true
	}
	keyBefore, keyAfter := c.KeyRow(), c.After
	emit := func(op byte, before, after, keyRow change.Row, hdr string, hdrRow change.Row) error {
		ev.op, ev.before, ev.after, ev.keyRow = op, before, after, keyRow
		ev.hdr, ev.hdrRow = hdr, hdrRow
		if e.opts.TransactionMetadata {
			t.countEvent(cd.collection, &ev)
		}
		ev.seq = t.seq
		t.seq++
		return e.appendEvent(s, &ev)
	}
	switch c.Op {
	case change.Insert, change.Read:
		op := byte('c')
		if c.Op == change.Read {
			op = 'r'
		}
		err = emit(op, nil, c.After, c.After, "", nil)
	case change.Update:
		if len(cd.key) > 0 && c.Before != nil && !sameKey(cd.key, keyBefore, keyAfter) {
			if err = emit('d', c.Before, nil, keyBefore, HeaderNewKey, keyAfter); err == nil {
				e.appendTombstone(s, &ev)
				err = emit('c', nil, c.After, keyAfter, HeaderOldKey, keyBefore)
			}
		} else {
			err = emit('u', c.Before, c.After, keyAfter, "", nil)
		}
	case change.Delete:
		if err = emit('d', c.Before, nil, keyBefore, "", nil); err == nil {
			e.appendTombstone(s, &ev)
		}
	case change.Truncate:
		err = emit('t', nil, nil, nil, "", nil)
	default:
		err = fmt.Errorf("envelope: table %s: unknown operation %s", c.Table.ID, c.Op)
	}
	if err != nil {
		e.release(s)
		t.seq, t.begun = seq, begun
		t.colls = append(t.colls[:0], t.saved...)
		return dst, err
	}
	return e.finish(s, dst), nil
}

// End appends the END event of the transaction (transaction metadata on,
// and at least one change encoded).
func (t *Txn) End(dst []Record) []Record {
	if !t.e.opts.TransactionMetadata || !t.begun {
		return dst
	}
	s := t.e.session()
	t.e.appendTxnEvent(s, t, "END")
	return t.e.finish(s, dst)
}

func (t *Txn) countEvent(coll string, ev *event) {
	i := 0
	for i < len(t.colls) && t.colls[i].name != coll {
		i++
	}
	if i == len(t.colls) {
		t.colls = append(t.colls, collCount{name: coll})
	}
	t.colls[i].n++
	ev.txn = t
	ev.total, ev.collOrder = t.seq+1, t.colls[i].n
}

func sameKey(key []int, a, b change.Row) bool {
	if a == nil || b == nil {
		return true
	}
	for _, k := range key {
		if k >= len(a) || k >= len(b) {
			return false
		}
		if a[k].State != b[k].State || string(a[k].Data) != string(b[k].Data) {
			return false
		}
	}
	return true
}

// SnapshotMarker is source.snapshot of a snapshot row.
type SnapshotMarker string

const (
	SnapshotTrue                  SnapshotMarker = "true"
	SnapshotFirst                 SnapshotMarker = "first"
	SnapshotFirstInDataCollection SnapshotMarker = "first_in_data_collection"
	SnapshotLastInDataCollection  SnapshotMarker = "last_in_data_collection"
	SnapshotLast                  SnapshotMarker = "last"
	SnapshotIncremental           SnapshotMarker = "incremental"
)

// Snapshot describes a row read by the initial snapshot.
type Snapshot struct {
	Marker   SnapshotMarker  // "" is SnapshotTrue
	Time     time.Time       // when the row was read (source.ts_ms); zero: now
	Position change.Position // the position the snapshot is consistent with, if known
}

// Read appends the event of a snapshot row (op r). Snapshot events carry
// no transaction block, as in Debezium.
func (e *Encoder) Read(dst []Record, t *change.Table, row change.Row, snap Snapshot) ([]Record, error) {
	cd, err := e.codec(t)
	if err != nil {
		return dst, err
	}
	marker := snap.Marker
	switch marker {
	case "":
		marker = SnapshotTrue
	case SnapshotTrue, SnapshotFirst, SnapshotFirstInDataCollection, SnapshotLastInDataCollection, SnapshotLast, SnapshotIncremental:
	default:
		return dst, fmt.Errorf("envelope: snapshot marker %q: want true, first, first_in_data_collection, last_in_data_collection, last or incremental", marker)
	}
	now := e.opts.Now()
	src := sourcePos{snapshot: string(marker)}
	read := snap.Time
	if read.IsZero() {
		read = now
	}
	src.setTime(read)
	src.setPosition(snap.Position)
	s := e.session()
	cached := s.snap
	cached.segs = src.segs // compare the fields, not their formatted parts
	if cached != src {
		s.snap = src // another snapshot, marker or time: format its parts anew
	}
	ev := event{cd: cd, src: &s.snap, now: now, op: 'r', after: row, keyRow: row}
	if err := e.appendEvent(s, &ev); err != nil {
		e.release(s)
		return dst, err
	}
	return e.finish(s, dst), nil
}
