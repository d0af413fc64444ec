// Package envelope encodes Sluice's change records as Debezium change
// events, byte for byte as Kafka Connect's JsonConverter writes them: with
// schemas.enable=true ({"schema":...,"payload":...}, Options.Schemas) or
// without (the payload alone). Stream sinks (Kafka, NATS, JSON lines,
// webhooks) share it; it does no I/O.
//
//	enc, err := envelope.New(envelope.Options{Prefix: "crm", Version: version, Database: "crm"})
//	tx := enc.Begin(envelope.InfoOf(txn))
//	recs, err = tx.Change(recs[:0], c) // for each change, in order
//	recs = tx.End(recs)                 // the END event, with transaction metadata on
//	recs, err = enc.Read(recs[:0], table, row, envelope.Snapshot{Marker: envelope.SnapshotFirst, Position: pos})
//
// A Record carries its Table (or Transaction for BEGIN/END), Key (nil: a
// null key), Value (nil: a tombstone) and Headers; its bytes are its own.
// Topics are the sink's choice: Topic gives Debezium's <prefix>.<schema>.<table>
// (MySQL: <prefix>.<database>.<table>), TransactionTopic <prefix>.transaction,
// TopicTemplate renders templates such as "cdc.{schema}.{table}". Schema
// names always start with Debezium's default topic (<prefix>.<schema>.<table>.Key,
// .Value, .Envelope), sanitized as Debezium sanitizes topics.
//
// # Events
//
//   - insert → op "c"; update → "u"; snapshot row (Read, or a change with
//     op Read) → "r" with source.snapshot "true", "first", "last",
//     "first_in_data_collection", "last_in_data_collection" or
//     "incremental" as the caller says; streamed events have "false".
//   - delete → "d", then a tombstone (same key and headers, null value)
//     unless Options.OmitTombstones.
//   - update that changes the primary key → "d" of the old key (header
//     __debezium.newkey), its tombstone (same header), "c" of the new key
//     (header __debezium.oldkey). Header values are the other key's payload
//     as JSON, without a schema (Kafka Connect's default
//     SimpleHeaderConverter writes simple keys the same way).
//   - truncate → "t" with a null key, before and after null.
//   - The key is the primary-key (or replica-identity index) columns as a
//     struct. A table without one has a null key, in every event; its
//     deletes are still followed by a tombstone with a null key, as
//     Debezium does (a sink writing to a compacted topic must drop those).
//   - before holds what the source sent: the whole old row (REPLICA
//     IDENTITY FULL, MySQL full images), the key only (PostgreSQL DEFAULT:
//     the other columns null, NOT NULL ones their type's zero, Debezium's
//     fallback), or null when no old row came.
//   - envelope ts_ms, ts_us, ts_ns: when the event was encoded
//     (Options.Now); source.ts_*: the transaction's commit time (the read
//     time for snapshot rows).
//
// # Source block, ordering, transaction metadata
//
// PostgreSQL (io.debezium.connector.postgresql.Source): db is
// Options.Database; schema, table; txId the xid; xmin, origin and
// origin_lsn null. A change record knows its transaction's commit position,
// not its own WAL position, so:
//
//   - lsn is the transaction's commit LSN (the end of its commit record,
//     what Sluice acknowledges) for every event of the transaction;
//   - sequence is ["<commit lsn>","<event index>"], the index counting the
//     transaction's events from 0 (a key change is two events, tombstones
//     are not counted). Ordering and deduplicating by the pair (numbers)
//     is exact across and within transactions. Debezium's pair is [last
//     commit LSN, event LSN]: consumers comparing it as two numbers keep
//     working; the first element's meaning differs.
//   - snapshot rows: lsn is the snapshot's position when the caller gives
//     it, sequence [null,"<lsn>"], txId null.
//
// MySQL and MariaDB (io.debezium.connector.mysql.Source): db is the
// database; table; server_id, file and pos are those of the transaction's
// commit position (pos is the offset after the commit, where Debezium has
// the offset of each event); row is the event index within the
// transaction, so (file, pos, row) orders and deduplicates exactly; gtid
// is the transaction's GTID (source/mysql names a transaction by its
// GTID when the server has GTIDs), null without GTIDs; thread and query
// null (not known). Snapshot rows: the snapshot's binlog position, row 0.
//
// Positions come through two small interfaces, so this package imports no
// source: PostgresPosition (source/postgres.LSN) and MySQLPosition
// (source/mysql.Position).
//
// With Options.TransactionMetadata, every event has the transaction block
// {id, total_order, data_collection_order} (1-based, tombstones not
// counted, snapshot events none), and a transaction produces BEGIN before
// its first event and END (event_count, data_collections in first-seen
// order) on the transaction topic, keyed by {id}, ts_ms the commit time.
// The id is "<xid>:<commit lsn>" for PostgreSQL: the same in BEGIN, END and
// every event (Debezium puts the LSN of the last event seen, so its ids
// differ between BEGIN and END); the GTID for MySQL, or
// "file=<file>,pos=<pos>" (Debezium's form, with the commit offset) without
// GTIDs.
//
// # Type mapping
//
// As Debezium's defaults (time.precision.mode adaptive for PostgreSQL,
// adaptive_time_microseconds for MySQL; decimal.handling.mode precise;
// bigint.unsigned.handling.mode long; binary.handling.mode bytes;
// interval.handling.mode numeric). Connect types in JsonConverter's names;
// bytes are base64 in JSON; every field is optional unless the column is
// NOT NULL.
//
//	PostgreSQL                     Connect  semantic name (parameters)                  example
//	boolean, bit(1), varbit(1)     boolean                                               true
//	smallint / integer             int16 / int32                                         -32768
//	bigint, oid                    int64                                                 -9223372036854775808
//	real / double precision        float / double   (NaN, ±Infinity: strings)            1.1754944E-38, "NaN"
//	numeric(p,s)                   bytes    Decimal (scale, connect.decimal.precision)   "/w==" (-0.01)
//	numeric                        struct   VariableScaleDecimal {scale, value}          {"scale":2,"value":"MDk="}
//	money                          bytes    Decimal (scale 2, money.fraction.digits)     "AeJA" (1234.56)
//	text, varchar, char (padded)   string                                                "ab   "
//	bytea                          bytes                                                 "AP9cCgk="
//	date                           int32    io.debezium.time.Date (days)                 -2440550 (4713-01-01 BC)
//	time(0-3) / time, time(4-6)    int32 / int64  Time (ms) / MicroTime (µs)            86400000000 (24:00:00)
//	timestamp(0-3)                 int64    io.debezium.time.Timestamp (ms)              1709210096789
//	timestamp, timestamp(4-6)      int64    io.debezium.time.MicroTimestamp (µs)         1704103200123000
//	timestamptz(p)                 string   io.debezium.time.ZonedTimestamp (UTC)        "2024-06-30T18:14:59.123456Z"
//	timetz                         string   io.debezium.time.ZonedTime (UTC)             "14:58:59.999999Z"
//	interval                       int64    io.debezium.time.MicroDuration               93600000000 (1 day 02:00)
//	json, jsonb                    string   io.debezium.data.Json                        "{\"a\": 1}"
//	xml / uuid / tsvector          string   io.debezium.data.Xml / Uuid / Tsvector
//	enum                           string   io.debezium.data.Enum (allowed)              "happy"
//	bit(n>1), bit varying(n)       bytes    io.debezium.data.Bits (length)               "VQ==" (1010101)
//	point                          struct   io.debezium.data.geometry.Point {x,y,wkb,srid}
//	inet, cidr, macaddr, ranges    string                                                "[1,10)"
//	arrays (one dimension)         array    of the element's schema                      [1,null,-3]
//	other types (domains, ...)     string   PostgreSQL's text
//
//	MySQL / MariaDB                Connect  semantic name (parameters)                  example
//	tinyint (bool) / unsigned      int8 / int16                                          -128
//	smallint / unsigned            int16 / int32
//	mediumint (±), int             int32
//	int unsigned, bigint           int64
//	bigint unsigned                int64 (long: the 64 bits) or Decimal (precise)       -1 (18446744073709551615)
//	decimal(p,s)                   bytes    Decimal (scale, connect.decimal.precision)
//	float / double                 float / double                                        3.1415927
//	bit(1) / bit(n>1)              boolean / bytes Bits (length; n/8 bytes, little end)  "qgI=" (1010101010)
//	char, varchar, *text           string
//	binary, varbinary, *blob       bytes
//	enum / set                     string   io.debezium.data.Enum / EnumSet (allowed)    "x,z"
//	date                           int32    io.debezium.time.Date
//	datetime(0-3) / (4-6)          int64    Timestamp (ms) / MicroTimestamp (µs)
//	timestamp(fsp)                 string   ZonedTimestamp (fsp fraction digits)         "2024-06-01T10:00:00.500000Z"
//	time(fsp)                      int64    io.debezium.time.MicroTime (negative, >24h)  -3020399000000 (-838:59:59)
//	year                           int32    io.debezium.time.Year                        2024
//	json                           string   io.debezium.data.Json (MariaDB's json is longtext: string)
//	point / other geometry         struct   geometry.Point / Geometry {wkb,srid,...}
//
// Special values, as Debezium writes them: PostgreSQL timestamp ±infinity
// 9223372036825200000 / -9223372036832400000 µs (÷1000 for ms columns);
// date infinity -2147472692 and -infinity -2147472691 (PostgreSQL's
// internal infinities rebased to 1970; infinity really is the smaller);
// timestamptz "infinity" / "-infinity"; BC dates and years past 9999
// proleptic Gregorian ("-4712-01-01", "+21016-..."); numeric NaN/±Infinity
// fail in precise mode (as in Debezium), are "NAN", "POSITIVE_INFINITY",
// "NEGATIVE_INFINITY" in string mode and NaN/Infinity in double mode;
// MySQL zero and partly zero dates (0000-00-00, 2024-00-10) are null in a
// nullable column and the epoch in a NOT NULL one; an invalid enum value
// is "". An unchanged TOASTed value is Options.UnavailableValue
// ("__debezium_unavailable_value"): the text in string columns, its bytes
// in bytea, [text] in text arrays, its bytes as numbers in int arrays, its
// name-based UUID in uuid arrays; other types have no placeholder in
// Debezium and fail (set REPLICA IDENTITY FULL).
//
// Numbers follow Jackson: Java's Double.toString / Float.toString (shortest
// digits, "1.0", "1.0E7", "4.9E-324") and non-finite numbers as strings.
//
// # Errors
//
// A value the encoder cannot write (not the type's text, out of the
// Connect type's range, invalid UTF-8 in a string, a PostgreSQL timestamp
// past int64 microseconds such as 294276-12-31) is a *ValueError naming
// table, column and type, never the value. Nothing panics on any input
// (FuzzEncode).
//
// # Differences from Debezium
//
//   - lsn, sequence, pos, row and the transaction id as described above
//     (commit position plus event index instead of per-event positions).
//   - Column default values are not in the schemas (the change record has
//     none); no extended context headers (__debezium.context.*).
//   - Types Debezium leaves out unless include.unknown.datatypes (domains,
//     box, circle, line, lseg, path, polygon, tsquery, arrays of money,
//     interval, bit varying, xml, point) are strings, or arrays of their
//     element's encoding; multi-dimensional arrays are an error.
//   - Floats: a MySQL float(m,d) is float (Sluice's type text has no
//     (m,d)); Debezium makes it double.
//   - MicroDuration is exact where Debezium's double arithmetic can be a
//     microsecond off (it saturates the same way beyond int64).
//   - A PostgreSQL timestamp past the int64 microsecond range is an error
//     (Debezium writes an overflowed number).
//   - The connector is always "mysql" for MySQL and MariaDB alike.
package envelope
