package envelope

import "strconv"

// cschema is a Kafka Connect schema, written as JsonConverter writes one
// (its asJsonSchema): type, then items / keys and values / fields, then
// optional, name, version, doc, parameters, default; a struct field adds
// "field" last.
type cschema struct {
	typ      string // int8 int16 int32 int64 float double boolean string bytes array map struct
	optional bool
	name     string
	version  int // 0: none
	doc      string
	params   [][2]string // in order
	def      string      // the default value as JSON; "" for none
	fields   []cfield
	items    *cschema // array
	keys     *cschema // map
	values   *cschema // map
}

type cfield struct {
	name   string
	schema *cschema
}

// Connect type names as JsonConverter writes them.
const (
	tInt8    = "int8"
	tInt16   = "int16"
	tInt32   = "int32"
	tInt64   = "int64"
	tFloat32 = "float"
	tFloat64 = "double"
	tBool    = "boolean"
	tString  = "string"
	tBytes   = "bytes"
	tArray   = "array"
	tMap     = "map"
	tStruct  = "struct"
)

func (s *cschema) appendJSON(dst []byte, field string) []byte {
	dst = append(dst, `{"type":`...)
	dst = appendStr(dst, s.typ)
	switch s.typ {
	case tArray:
		dst = append(dst, `,"items":`...)
		dst = s.items.appendJSON(dst, "")
	case tMap:
		dst = append(dst, `,"keys":`...)
		dst = s.keys.appendJSON(dst, "")
		dst = append(dst, `,"values":`...)
		dst = s.values.appendJSON(dst, "")
	case tStruct:
		dst = append(dst, `,"fields":[`...)
		for i, f := range s.fields {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = f.schema.appendJSON(dst, f.name)
		}
		dst = append(dst, ']')
	}
	if s.optional {
		dst = append(dst, `,"optional":true`...)
	} else {
		dst = append(dst, `,"optional":false`...)
	}
	if s.name != "" {
		dst = append(dst, `,"name":`...)
		dst = appendStr(dst, s.name)
	}
	if s.version != 0 {
		dst = append(dst, `,"version":`...)
		dst = strconv.AppendInt(dst, int64(s.version), 10)
	}
	if s.doc != "" {
		dst = append(dst, `,"doc":`...)
		dst = appendStr(dst, s.doc)
	}
	if len(s.params) > 0 {
		dst = append(dst, `,"parameters":{`...)
		for i, p := range s.params {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendStr(dst, p[0])
			dst = append(dst, ':')
			dst = appendStr(dst, p[1])
		}
		dst = append(dst, '}')
	}
	if s.def != "" {
		dst = append(dst, `,"default":`...)
		dst = append(dst, s.def...)
	}
	if field != "" {
		dst = append(dst, `,"field":`...)
		dst = appendStr(dst, field)
	}
	return append(dst, '}')
}

// opt returns a copy of s with optional set.
func (s cschema) opt(optional bool) *cschema {
	s.optional = optional
	return &s
}

func prim(typ string) *cschema { return &cschema{typ: typ} }

func named(typ, name string) *cschema { return &cschema{typ: typ, name: name, version: 1} }

// The fixed schemas of the envelope.

// snapshotSchema is source.snapshot: an io.debezium.data.Enum of the
// snapshot markers, "false" by default (streamed changes).
var snapshotSchema = &cschema{typ: tString, optional: true, name: "io.debezium.data.Enum", version: 1,
	params: [][2]string{{"allowed", "true,first,first_in_data_collection,last_in_data_collection,last,false,incremental"}},
	def:    `"false"`}

// commonSourceFields are the fields every Debezium connector's source
// block starts with, in Debezium's order.
func commonSourceFields() []cfield {
	return []cfield{
		{"version", prim(tString)},
		{"connector", prim(tString)},
		{"name", prim(tString)},
		{"ts_ms", prim(tInt64)},
		{"snapshot", snapshotSchema},
		{"db", prim(tString)},
		{"sequence", prim(tString).opt(true)},
		{"ts_us", prim(tInt64).opt(true)},
		{"ts_ns", prim(tInt64).opt(true)},
	}
}

// postgresSourceSchema is io.debezium.connector.postgresql.Source.
var postgresSourceSchema = &cschema{typ: tStruct, name: "io.debezium.connector.postgresql.Source", version: 1,
	fields: append(commonSourceFields(),
		cfield{"schema", prim(tString)},
		cfield{"table", prim(tString)},
		cfield{"txId", prim(tInt64).opt(true)},
		cfield{"lsn", prim(tInt64).opt(true)},
		cfield{"xmin", prim(tInt64).opt(true)},
		cfield{"origin", prim(tString).opt(true)},
		cfield{"origin_lsn", prim(tInt64).opt(true)},
	)}

// mysqlSourceSchema is io.debezium.connector.mysql.Source.
var mysqlSourceSchema = &cschema{typ: tStruct, name: "io.debezium.connector.mysql.Source", version: 1,
	fields: append(commonSourceFields(),
		cfield{"table", prim(tString).opt(true)},
		cfield{"server_id", prim(tInt64)},
		cfield{"gtid", prim(tString).opt(true)},
		cfield{"file", prim(tString)},
		cfield{"pos", prim(tInt64)},
		cfield{"row", prim(tInt32)},
		cfield{"thread", prim(tInt64).opt(true)},
		cfield{"query", prim(tString).opt(true)},
	)}

// transactionBlockSchema is the envelope's optional transaction field.
var transactionBlockSchema = &cschema{typ: tStruct, optional: true, name: "event.block", version: 1,
	fields: []cfield{
		{"id", prim(tString)},
		{"total_order", prim(tInt64)},
		{"data_collection_order", prim(tInt64)},
	}}

// The transaction metadata topic's key and value.
var (
	txnKeySchema = &cschema{typ: tStruct, name: "io.debezium.connector.common.TransactionMetadataKey", version: 1,
		fields: []cfield{{"id", prim(tString)}}}
	txnValueSchema = &cschema{typ: tStruct, name: "io.debezium.connector.common.TransactionMetadataValue", version: 1,
		fields: []cfield{
			{"status", prim(tString)},
			{"id", prim(tString)},
			{"event_count", prim(tInt64).opt(true)},
			{"data_collections", &cschema{typ: tArray, optional: true, items: &cschema{typ: tStruct, optional: true,
				name: "event.collection", version: 1,
				fields: []cfield{{"data_collection", prim(tString)}, {"event_count", prim(tInt64)}}}}},
			{"ts_ms", prim(tInt64)},
		}}
)

// envelopeVersion is the version of Debezium's Envelope schema (2 since
// the ts_us and ts_ns fields).
const envelopeVersion = 2
