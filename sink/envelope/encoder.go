package envelope

import (
	"errors"
	"fmt"
	"sync"

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
