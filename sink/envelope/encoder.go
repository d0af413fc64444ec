package envelope

import (
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/sluicecdc/sluice/pkg/change"
)

// Record is one Kafka record: a change event, a tombstone, or a
// transaction metadata event. Key and Value are JSON as Kafka Connect's
// JsonConverter writes them; they do not alias the encoder's buffers and
// may be kept.
type Record struct {
	// Table is the changed table (its topic is the sink's choice, see
	// Topic); zero for a transaction metadata event.
	Table change.TableID
	// Transaction marks a BEGIN or END event, for the
	// <prefix>.transaction topic.
	Transaction bool
	// Key is nil for a null key: a table without a primary key (or
	// replica identity index), a truncate.
	Key []byte
	// Value is nil for a tombstone.
	Value   []byte
	Headers []Header
}

// Header is a Kafka record header.
type Header struct {
	Key   string
	Value []byte
}

// The headers of the two events a primary-key update becomes. Their
// values are the other key's payload (JSON, without a schema).
const (
	HeaderNewKey = "__debezium.newkey" // on the delete of the old key (and its tombstone)
	HeaderOldKey = "__debezium.oldkey" // on the create of the new key
)

// PostgresPosition is a PostgreSQL source position
// (source/postgres.LSN): the end of the transaction's commit record.
type PostgresPosition interface{ LSN() uint64 }

// MySQLPosition is a MySQL or MariaDB source position
// (source/mysql.Position): the binlog file and the offset after the
// transaction's commit, the GTID set after it ("" without GTIDs), and the
// server the file belongs to (0 when unknown).
type MySQLPosition interface {
	Binlog() (file string, pos uint32, gtidSet string, serverID uint32)
}

// ValueError is a value the encoder cannot write: it names the table, the
// column and its type, never the value (values may be secret).
type ValueError struct {
	Table  change.TableID
	Column string
	Type   string
	Err    error
}

func (e *ValueError) Error() string {
	return fmt.Sprintf("envelope: table %s column %s (%s): %v", e.Table, e.Column, e.Type, e.Err)
}

func (e *ValueError) Unwrap() error { return e.Err }

// Encoder turns change records into Debezium change events. It keeps one
// encoding per table shape (*change.Table). Safe for concurrent use; the
// Txn values it makes are not.
type Encoder struct {
	opts Options

	mu     sync.RWMutex
	codecs map[*change.Table]*codec

	txnKeyPrefix, txnValuePrefix []byte // with Schemas: {"schema":...,"payload":
	pool                         sync.Pool
}

// maxCodecs bounds the shape cache; past it the cache starts over (shapes
// only change with DDL, so this is a leak guard, not a working-set size).
const maxCodecs = 4096

// New makes an encoder.
func New(opts Options) (*Encoder, error) {
	if err := opts.check(); err != nil {
		return nil, err
	}
	e := &Encoder{opts: opts, codecs: map[*change.Table]*codec{}}
	if opts.Schemas {
		e.txnKeyPrefix = txnKeySchema.appendJSON([]byte(`{"schema":`), "")
		e.txnKeyPrefix = append(e.txnKeyPrefix, `,"payload":`...)
		e.txnValuePrefix = txnValueSchema.appendJSON([]byte(`{"schema":`), "")
		e.txnValuePrefix = append(e.txnValuePrefix, `,"payload":`...)
	}
	e.pool.New = func() any { return &session{} }
	return e, nil
}

// codec is the encoding of one table shape.
type codec struct {
	table       *change.Table
	cols        []*column
	key         []int
	collection  string // schema.table, the transaction metadata's data_collection
	keyPrefix   []byte // with Schemas: {"schema":<key schema>,"payload":
	valuePrefix []byte // with Schemas: {"schema":<envelope schema>,"payload":
	sourceHead  []byte // {"version":...,"connector":...,"name":...,"ts_ms":
	sourceDB    []byte // "db":"...",
	sourceTable []byte // PostgreSQL: "schema":"...","table":"...",   MySQL: "table":"...",
}

func (e *Encoder) codec(t *change.Table) (*codec, error) {
	e.mu.RLock()
	cd := e.codecs[t]
	e.mu.RUnlock()
	if cd != nil {
		return cd, nil
	}
	cd, err := e.build(t)
	if err != nil {
		return nil, err
	}
	e.mu.Lock()
	if len(e.codecs) >= maxCodecs {
		e.codecs = map[*change.Table]*codec{}
	}
	e.codecs[t] = cd
	e.mu.Unlock()
	return cd, nil
}

func (e *Encoder) build(t *change.Table) (*codec, error) {
	if t == nil {
		return nil, errors.New("envelope: change without a table")
	}
	if t.Dialect != change.Postgres && t.Dialect != change.MySQL {
		return nil, fmt.Errorf("envelope: table %s: unknown dialect %s", t.ID, t.Dialect)
	}
	if t.Dialect == change.Postgres && e.opts.Database == "" {
		return nil, fmt.Errorf("envelope: table %s: Options.Database (source.db) is required for PostgreSQL sources", t.ID)
	}
	topic := Topic(e.opts.Prefix, t.ID)
	cd := &codec{table: t, key: t.Key, collection: t.ID.Schema + "." + t.ID.Name}
	value := &cschema{typ: tStruct, optional: true, name: topic + ".Value"}
	for _, col := range t.Columns {
		var c *column
		if t.Dialect == change.Postgres {
			c = e.pgColumn(col, !col.NotNull)
		} else {
			c = e.mysqlColumn(col, !col.NotNull)
		}
		c.field = append(appendStr(nil, col.Name), ':')
		cd.cols = append(cd.cols, c)
		value.fields = append(value.fields, cfield{col.Name, c.schema})
	}
	for _, k := range t.Key {
		if k < 0 || k >= len(cd.cols) {
			return nil, fmt.Errorf("envelope: table %s: key column index %d is out of range", t.ID, k)
		}
	}
	if e.opts.Schemas {
		if len(t.Key) > 0 {
			key := &cschema{typ: tStruct, name: topic + ".Key"}
			for _, k := range t.Key {
				key.fields = append(key.fields, cfield{t.Columns[k].Name, cd.cols[k].schema})
			}
			cd.keyPrefix = key.appendJSON([]byte(`{"schema":`), "")
			cd.keyPrefix = append(cd.keyPrefix, `,"payload":`...)
		}
		source := mysqlSourceSchema
		if t.Dialect == change.Postgres {
			source = postgresSourceSchema
		}
		env := &cschema{typ: tStruct, name: topic + ".Envelope", version: envelopeVersion, fields: []cfield{
			{"before", value}, {"after", value}, {"source", source}, {"transaction", transactionBlockSchema},
			{"op", prim(tString)}, {"ts_ms", prim(tInt64).opt(true)}, {"ts_us", prim(tInt64).opt(true)}, {"ts_ns", prim(tInt64).opt(true)},
		}}
		cd.valuePrefix = env.appendJSON([]byte(`{"schema":`), "")
		cd.valuePrefix = append(cd.valuePrefix, `,"payload":`...)
	}
	connector, db := "mysql", t.ID.Schema
	if t.Dialect == change.Postgres {
		connector, db = "postgresql", e.opts.Database
	}
	h := append([]byte(`{"version":`), appendStr(nil, e.opts.Version)...)
	h = append(h, `,"connector":`...)
	h = appendStr(h, connector)
	h = append(h, `,"name":`...)
	h = appendStr(h, e.opts.Prefix)
	cd.sourceHead = append(h, `,"ts_ms":`...)
	cd.sourceDB = append(appendStr([]byte(`"db":`), db), ',')
	if t.Dialect == change.Postgres {
		cd.sourceTable = appendStr([]byte(`"schema":`), t.ID.Schema)
		cd.sourceTable = append(cd.sourceTable, ',')
	}
	cd.sourceTable = append(appendStr(append(cd.sourceTable, `"table":`...), t.ID.Name), ',')
	return cd, nil
}

// session is the scratch state of one encoding call.
type session struct {
	w     writer
	buf   []byte
	spans []span
	snap  sourcePos // the last snapshot's source fields, formatted parts kept
}

// span is a record whose bytes lie in session.buf until the call ends.
type span struct {
	rec                  Record
	key0, key1, v0, v1   int
	h0, h1               int // header value
	hasKey, hasValue, hd bool
}

func (e *Encoder) session() *session {
	s := e.pool.Get().(*session)
	s.buf, s.spans = s.buf[:0], s.spans[:0]
	return s
}

// finish copies the records' bytes out of the session into one new array
// and appends the records to dst.
func (e *Encoder) finish(s *session, dst []Record) []Record {
	out := make([]byte, len(s.buf))
	copy(out, s.buf)
	for i := range s.spans {
		sp := &s.spans[i]
		r := sp.rec
		if sp.hasKey {
			r.Key = out[sp.key0:sp.key1:sp.key1]
		}
		if sp.hasValue {
			r.Value = out[sp.v0:sp.v1:sp.v1]
		}
		if sp.hd {
			r.Headers[0].Value = out[sp.h0:sp.h1:sp.h1]
		}
		dst = append(dst, r)
	}
	if cap(s.buf) <= 1<<20 {
		e.pool.Put(s)
	}
	return dst
}

func (e *Encoder) release(s *session) {
	if cap(s.buf) <= 1<<20 {
		e.pool.Put(s)
	}
}

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
	info  TxnInfo
	src   sourcePos
	id    string // the transaction metadata id
	seq   int64  // events so far
	begun bool
	colls []collCount
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
	t := &Txn{e: e, info: info}
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
	e := t.e
	cd, err := e.codec(c.Table)
	if err != nil {
		return dst, err
	}
	s := e.session()
	now := e.opts.Now()
	ev := event{cd: cd, src: &t.src, now: now}
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
		dst = append(dst, "true"...) // a snapshot row inside a transaction
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
