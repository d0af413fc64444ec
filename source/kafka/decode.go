package kafka

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/sluicecdc/sluice/pkg/change"
)

// Event is one decoded Debezium change event.
type Event struct {
	Change change.Change
	Commit time.Time // source.ts_ms: when the source transaction committed
	TxID   string    // source.txId (PostgreSQL) or source.gtid (MySQL), "" when absent
}

// ErrSkip says a message carries no change to apply: a tombstone (null
// value), or an event Sluice does not apply (op "m", a logical decoding
// message).
var ErrSkip = errors.New("no change to apply")

// Columns returns the columns of the target table a topic's rows go to
// (nil when it does not exist), used to type the values of PostgreSQL
// events without a schema.
type Columns func(id change.TableID) ([]change.Column, error)

// Decoder turns Debezium change events (JSON, with or without schemas)
// into change records. It keeps the tables it has seen, so that every
// event of one shape shares one *change.Table. Not safe for concurrent use.
type Decoder struct {
	// Target, when set, types the values of events without a schema by
	// the target table's columns; without it they are text.
	Target Columns
	shapes map[string]*shape // by topic + "\x00" + the value schema's text (or the column names)
}

// shape is a table as decoded from one schema.
type shape struct {
	table *change.Table
	cols  []*connectSchema // per column; nil entries: no schema (text)
	// schemaless: cols come from the target's types, not from the event,
	// so a value in another encoding is taken as text
	schemaless bool
}

// wrapped is JsonConverter's form with schemas.enable=true.
type wrapped struct {
	Schema  json.RawMessage `json:"schema"`
	Payload json.RawMessage `json:"payload"`
}

type payload struct {
	Before json.RawMessage `json:"before"`
	After  json.RawMessage `json:"after"`
	Source json.RawMessage `json:"source"`
	Op     string          `json:"op"`
}

type sourceBlock struct {
	Connector string          `json:"connector"`
	Db        string          `json:"db"`
	Schema    string          `json:"schema"`
	Table     string          `json:"table"`
	TsMs      int64           `json:"ts_ms"`
	TxID      json.RawMessage `json:"txId"`
	GTID      *string         `json:"gtid"`
}

// split returns the schema (nil without) and payload of a converter's
// JSON: wrapped when the object has exactly the keys schema and payload.
func split(b []byte) (schema, pl json.RawMessage, err error) {
	b = bytes.TrimSpace(b)
	if len(b) == 0 || b[0] != '{' {
		return nil, nil, fmt.Errorf("want a JSON object, got %.40q", b)
	}
	keys, err := objectKeys(b)
	if err != nil {
		return nil, nil, err
	}
	if len(keys) == 2 && (keys[0] == "schema" && keys[1] == "payload" || keys[0] == "payload" && keys[1] == "schema") {
		var w wrapped
		if err := json.Unmarshal(b, &w); err != nil {
			return nil, nil, err
		}
		if string(w.Schema) == "null" {
			w.Schema = nil
		}
		return w.Schema, w.Payload, nil
	}
	return nil, b, nil
}

// field is one member of a JSON object, in document order.
type field struct {
	name string
	raw  json.RawMessage
}

// objectFields reads a JSON object's members in order (Go maps lose it,
// and a schemaless row's column order is only in the text).
func objectFields(b []byte) ([]field, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, fmt.Errorf("want a JSON object, got %.40q", b)
	}
	var out []field
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		name, _ := tok.(string)
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, err
		}
		out = append(out, field{name, raw})
	}
	return out, nil
}

func objectKeys(b []byte) ([]string, error) {
	fs, err := objectFields(b)
	if err != nil {
		return nil, err
	}
	keys := make([]string, len(fs))
	for i, f := range fs {
		keys[i] = f.name
	}
	return keys, nil
}

// TableOfTopic names the table of a Debezium topic <prefix>.<schema>.<table>
// (the last two dot-separated parts).
func TableOfTopic(topic string) (change.TableID, bool) {
	i := strings.LastIndexByte(topic, '.')
	if i <= 0 || i == len(topic)-1 {
		return change.TableID{}, false
	}
	j := strings.LastIndexByte(topic[:i], '.')
	if j <= 0 || j == i-1 {
		return change.TableID{}, false
	}
	return change.TableID{Schema: topic[j+1 : i], Name: topic[i+1:]}, true
}

// Decode reads one message of topic. It returns ErrSkip for tombstones and
// events without a row change; any other error names the reason (the
// caller adds topic, partition and offset).
func (d *Decoder) Decode(topic string, key, value []byte) (Event, error) {
	if len(bytes.TrimSpace(value)) == 0 || string(bytes.TrimSpace(value)) == "null" {
		return Event{}, ErrSkip
	}
	vschema, vpayload, err := split(value)
	if err != nil {
		return Event{}, fmt.Errorf("read the value: %w", err)
	}
	if len(bytes.TrimSpace(vpayload)) == 0 || string(bytes.TrimSpace(vpayload)) == "null" {
		return Event{}, ErrSkip
	}
	var p payload
	if err := json.Unmarshal(vpayload, &p); err != nil {
		return Event{}, fmt.Errorf("read the value's payload: %w", err)
	}
	var src sourceBlock
	if len(p.Source) > 0 && string(p.Source) != "null" {
		if err := json.Unmarshal(p.Source, &src); err != nil {
			return Event{}, fmt.Errorf("read the source block: %w", err)
		}
	}
	ev := Event{TxID: txID(src)}
	if src.TsMs != 0 {
		ev.Commit = time.UnixMilli(src.TsMs).UTC()
	}
	dialect := change.Postgres
	if src.Connector == "mysql" || src.Connector == "mariadb" {
		dialect = change.MySQL
	}
	var op change.Op
	switch p.Op {
	case "c":
		op = change.Insert
	case "u":
		op = change.Update
	case "d":
		op = change.Delete
	case "r":
		op = change.Read
	case "t":
		op = change.Truncate
	case "m":
		return Event{}, ErrSkip
	case "":
		return Event{}, fmt.Errorf("the event has no op: not a Debezium change event")
	default:
		return Event{}, fmt.Errorf("unknown op %q (want c, u, d, r or t)", p.Op)
	}
	id, ok := TableOfTopic(topic)
	if !ok {
		switch {
		case src.Schema != "" && src.Table != "":
			id = change.TableID{Schema: src.Schema, Name: src.Table}
		case src.Db != "" && src.Table != "":
			id = change.TableID{Schema: src.Db, Name: src.Table}
		default:
			return Event{}, fmt.Errorf("cannot tell the table: the topic is not <prefix>.<schema>.<table> and the event's source block names none")
		}
	}
	keyNames, keyPayload, err := keyColumns(key)
	if err != nil {
		return Event{}, fmt.Errorf("read the key: %w", err)
	}
	rowJSON := p.After
	if op == change.Delete || isNull(rowJSON) {
		rowJSON = p.Before
	}
	sh, err := d.shape(topic, id, dialect, vschema, rowJSON, keyNames)
	if err != nil {
		return Event{}, err
	}
	ev.Change = change.Change{Op: op, Table: sh.table}
	if op == change.Truncate {
		return ev, nil
	}
	if !isNull(p.Before) {
		if ev.Change.Before, err = d.row(sh, p.Before); err != nil {
			return Event{}, fmt.Errorf("before: %w", err)
		}
	}
	if op != change.Delete {
		if isNull(p.After) {
			return Event{}, fmt.Errorf("op %q without after", p.Op)
		}
		if ev.Change.After, err = d.row(sh, p.After); err != nil {
			return Event{}, fmt.Errorf("after: %w", err)
		}
	} else if ev.Change.Before == nil {
		if keyPayload == nil {
			return Event{}, fmt.Errorf("a delete without before and without key: nothing identifies the row")
		}
		if ev.Change.Before, err = d.keyRow(sh, keyPayload); err != nil {
			return Event{}, fmt.Errorf("key: %w", err)
		}
	}
	if op == change.Update && ev.Change.Before != nil && sh.table.HasKey() {
		// A before with REPLICA IDENTITY DEFAULT holds the key only; the
		// update matches on it, and the key does not change (Debezium
		// turns a key change into a delete and a create).
		ev.Change.Before = nil
	}
	return ev, nil
}

func isNull(raw json.RawMessage) bool {
	raw = bytes.TrimSpace(raw)
	return len(raw) == 0 || string(raw) == "null"
}

func txID(src sourceBlock) string {
	if src.GTID != nil {
		return *src.GTID
	}
	if !isNull(src.TxID) {
		return strings.Trim(string(src.TxID), `"`)
	}
	return ""
}

// keyColumns returns the key's column names in order and its payload (nil
// for a null key).
func keyColumns(key []byte) ([]string, json.RawMessage, error) {
	if isNull(key) {
		return nil, nil, nil
	}
	_, pl, err := split(key)
	if err != nil {
		return nil, nil, err
	}
	if isNull(pl) {
		return nil, nil, nil
	}
	names, err := objectKeys(pl)
	return names, pl, err
}

// shape finds or makes the table of an event.
func (d *Decoder) shape(topic string, id change.TableID, dialect change.Dialect, vschema, rowJSON json.RawMessage, key []string) (*shape, error) {
	if d.shapes == nil {
		d.shapes = map[string]*shape{}
	}
	var sig string
	if vschema != nil {
		sig = topic + "\x00s" + string(vschema) + "\x00" + strings.Join(key, "\x00")
	} else {
		if isNull(rowJSON) {
			sig = topic + "\x00t"
		} else {
			names, err := objectKeys(rowJSON)
			if err != nil {
				return nil, fmt.Errorf("read the row: %w", err)
			}
			sig = topic + "\x00n" + strings.Join(names, "\x00") + "\x01" + strings.Join(key, "\x00")
		}
	}
	if sh, ok := d.shapes[sig]; ok {
		return sh, nil
	}
	sh, err := d.newShape(id, dialect, vschema, rowJSON, key)
	if err != nil {
		return nil, err
	}
	if len(d.shapes) > 10000 { // schemas changing without end: do not grow forever
		clear(d.shapes)
	}
	d.shapes[sig] = sh
	return sh, nil
}

func (d *Decoder) newShape(id change.TableID, dialect change.Dialect, vschema, rowJSON json.RawMessage, key []string) (*shape, error) {
	if vschema != nil {
		s, err := parseSchema(vschema)
		if err != nil {
			return nil, err
		}
		row := s.field("after")
		if row == nil {
			row = s.field("before")
		}
		if row == nil {
			return nil, fmt.Errorf("the value schema has no before or after field: not a Debezium envelope")
		}
		t, cols, err := tableOf(id, dialect, row, key)
		if err != nil {
			return nil, fmt.Errorf("table %s: %w", id, err)
		}
		return &shape{table: t, cols: cols}, nil
	}
	t := &change.Table{ID: id, Dialect: dialect, Identity: change.IdentityKey}
	if isNull(rowJSON) { // a truncate: no row
		return &shape{table: t}, nil
	}
	fields, err := objectFields(rowJSON)
	if err != nil {
		return nil, fmt.Errorf("read the row: %w", err)
	}
	var target []change.Column
	if d.Target != nil && dialect == change.Postgres {
		if target, err = d.Target(id); err != nil {
			return nil, err
		}
	}
	sh := &shape{table: t, cols: make([]*connectSchema, len(fields)), schemaless: true}
	for i, f := range fields {
		c := change.Column{Name: f.name, Type: "text"}
		if dialect == change.MySQL {
			c.Type = "longtext"
		}
		for _, tc := range target {
			if tc.Name == f.name {
				c.Type, sh.cols[i] = tc.Type, schemaForType(tc.Type)
				break
			}
		}
		t.Columns = append(t.Columns, c)
	}
	if err := setKey(t, key); err != nil {
		return nil, fmt.Errorf("table %s: %w", id, err)
	}
	return sh, nil
}

// row reads a row object: by the schema's fields when there is one, else
// by name.
func (d *Decoder) row(sh *shape, raw json.RawMessage) (change.Row, error) {
	fields, err := objectFields(raw)
	if err != nil {
		return nil, err
	}
	t := sh.table
	row := make(change.Row, len(t.Columns))
	for i := range row {
		row[i] = change.Value{State: change.Missing}
	}
	for _, f := range fields {
		i := t.ColumnIndex(f.name)
		if i < 0 {
			return nil, fmt.Errorf("column %s is not in the schema", f.name)
		}
		v, err := d.colValue(sh, i, f.raw)
		if err != nil {
			return nil, fmt.Errorf("column %s (%s): %w", f.name, t.Columns[i].Type, err)
		}
		row[i] = v
	}
	return row, nil
}

// keyRow makes an old row from the key alone: other columns Missing.
func (d *Decoder) keyRow(sh *shape, raw json.RawMessage) (change.Row, error) {
	return d.row(sh, raw)
}

func (d *Decoder) colValue(sh *shape, i int, raw json.RawMessage) (change.Value, error) {
	s := sh.cols[i]
	if s == nil {
		return textValue(raw)
	}
	v, err := value(sh.table.Dialect, s, raw)
	if err != nil && sh.schemaless {
		// not in the encoding the target's type suggests (a number
		// for a numeric column, a string for a date): take its text
		return textValue(raw)
	}
	return v, err
}

// textValue renders a value without a schema: a string as its content,
// anything else (numbers, booleans, objects) as its JSON text.
func textValue(raw json.RawMessage) (change.Value, error) {
	raw = bytes.TrimSpace(raw)
	if isNull(raw) {
		return change.NullValue, nil
	}
	if raw[0] == '"' {
		s, err := jsonString(raw)
		if err != nil {
			return change.Value{}, err
		}
		if s == UnavailableValue {
			return change.Value{State: change.Unchanged}, nil
		}
		return change.Text(s), nil
	}
	return change.Value{State: change.Present, Data: append([]byte(nil), raw...)}, nil
}

// schemaForType is the Connect schema Debezium writes a column of a
// PostgreSQL type with (its default modes), for events without schemas;
// nil when the value's own JSON text is right (numbers, text, json).
func schemaForType(typ string) *connectSchema {
	name, args, _ := strings.Cut(typ, "(")
	prec := -1
	if args != "" {
		fmt.Sscanf(args, "%d", &prec)
	}
	rest := typ
	if i := strings.IndexByte(typ, ')'); i >= 0 {
		rest = name + typ[i+1:]
	}
	switch {
	case rest == "date":
		return &connectSchema{Type: "int32", Name: nDate}
	case rest == "bytea":
		return &connectSchema{Type: "bytes"}
	case rest == "boolean":
		return &connectSchema{Type: "boolean"}
	case rest == "timestamp with time zone":
		return &connectSchema{Type: "string", Name: nZonedTimestamp}
	case rest == "time with time zone":
		return &connectSchema{Type: "string", Name: nZonedTime}
	case rest == "timestamp without time zone":
		if prec >= 0 && prec <= 3 {
			return &connectSchema{Type: "int64", Name: nTimestamp}
		}
		return &connectSchema{Type: "int64", Name: nMicroTimestamp}
	case rest == "time without time zone":
		if prec >= 0 && prec <= 3 {
			return &connectSchema{Type: "int32", Name: nTime}
		}
		return &connectSchema{Type: "int64", Name: nMicroTime}
	case strings.HasPrefix(rest, "interval"):
		return &connectSchema{Type: "int64", Name: nMicroDuration}
	case name == "numeric" && prec >= 0:
		scale := 0
		if _, s, ok := strings.Cut(args, ","); ok {
			fmt.Sscanf(s, "%d", &scale)
		}
		return &connectSchema{Type: "bytes", Name: nDecimal, Parameters: map[string]string{"scale": fmt.Sprint(scale)}}
	case rest == "numeric":
		return &connectSchema{Type: "struct", Name: nVarDecimal}
	}
	return nil
}
