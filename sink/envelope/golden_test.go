package envelope

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluicecdc/sluice/pkg/change"
)

var update = flag.Bool("update", false, "rewrite testdata/golden/*.json from the encoder's output")

// produced is one encoder call's records and what went in.
type produced struct {
	change *change.Change // nil for a snapshot read or a transaction end
	read   change.Row     // snapshot row
	table  *change.Table
	recs   []Record
}

// scenario is a golden test: options and a script of calls.
type scenario struct {
	name string
	opts Options
	run  func(t *testing.T, e *Encoder) []produced
}

func txnChanges(t *testing.T, e *Encoder, info TxnInfo, changes ...*change.Change) []produced {
	t.Helper()
	tx := e.Begin(info)
	var out []produced
	for _, c := range changes {
		recs, err := tx.Change(nil, c)
		if err != nil {
			t.Fatalf("%s %s: %v", c.Op, c.Table.ID, err)
		}
		out = append(out, produced{change: c, table: c.Table, recs: recs})
	}
	return append(out, produced{recs: tx.End(nil)})
}

func inserts(tb *change.Table, rows ...change.Row) []*change.Change {
	var cs []*change.Change
	for _, r := range rows {
		cs = append(cs, &change.Change{Op: change.Insert, Table: tb, After: r})
	}
	return cs
}

func reads(t *testing.T, e *Encoder, tb *change.Table, pos change.Position, rows ...change.Row) []produced {
	t.Helper()
	var out []produced
	for i, r := range rows {
		m := SnapshotTrue
		switch {
		case i == 0:
			m = SnapshotFirst
		case i == len(rows)-1:
			m = SnapshotLast
		}
		recs, err := e.Read(nil, tb, r, Snapshot{Marker: m, Time: fixedCommit.Add(-time.Hour), Position: pos})
		if err != nil {
			t.Fatalf("read %s: %v", tb.ID, err)
		}
		out = append(out, produced{read: r, table: tb, recs: recs})
	}
	return out
}

var keylessPG = table(change.Postgres, "public", "log", nil, col{"at", "integer", false, nil}, col{"msg", "text", false, nil})

func pgOps(t *testing.T, e *Encoder) []produced {
	tb := opsTable(change.Postgres)
	out := reads(t, e, tb, pgPos(0x16B3748),
		row("1", "first", "1", "9.99", `\x01`, "{a}", "{1}", "{}"),
		row("2", "second", "2", "∅", "∅", "∅", "∅", "∅"),
		row("3", "third", "3", "0.10", `\x`, "{}", "{}", "{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}"))
	full := row("10", "ten", "1", "10.00", `\xcafe`, `{x,"y z"}`, "{1,2}", "{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}")
	return append(out, txnChanges(t, e, TxnInfo{ID: "571", Commit: fixedCommit, Position: pgPos(53195832)},
		&change.Change{Op: change.Insert, Table: tb, After: full},
		// REPLICA IDENTITY DEFAULT, key unchanged: no old row
		&change.Change{Op: change.Update, Table: tb, After: row("10", "ten!", "2", "10.00", `\xcafe`, `{x,"y z"}`, "{1,2}", "{}")},
		// unchanged TOAST values: Debezium's placeholder in every kind of column that can hold one
		&change.Change{Op: change.Update, Table: tb, After: row("10", "⊘", "3", "10.00", "⊘", "⊘", "⊘", "⊘")},
		// the key changes: delete (+ tombstone) of the old key, create of the new, with headers
		&change.Change{Op: change.Update, Table: tb, Before: row("10", "·", "·", "·", "·", "·", "·", "·"),
			After: row("11", "eleven", "4", "11.00", "∅", "∅", "∅", "∅")},
		// delete with a key-only old row: NOT NULL qty gets the zero fallback, the rest null
		&change.Change{Op: change.Delete, Table: tb, Before: row("11", "·", "·", "·", "·", "·", "·", "·")},
		&change.Change{Op: change.Insert, Table: keylessPG, After: row("1", "dup")},
		&change.Change{Op: change.Delete, Table: keylessPG, Before: row("1", "dup")},
		&change.Change{Op: change.Truncate, Table: tb},
	)...)
}

func myOps(t *testing.T, e *Encoder) []produced {
	tb := opsTable(change.MySQL)
	out := reads(t, e, tb, myPos{file: "binlog.000002", pos: 1200, server: 1},
		row("1", "first", "1", "9.99"), row("2", "∅", "2", "∅"))
	noGTID := myPos{file: "binlog.000003", pos: 4711, server: 1}
	out = append(out, txnChanges(t, e, TxnInfo{ID: "binlog.000003:4711", Commit: fixedCommit, Position: noGTID},
		&change.Change{Op: change.Insert, Table: tb, After: row("10", "ten", "1", "10.00")},
		&change.Change{Op: change.Update, Table: tb, Before: row("10", "ten", "1", "10.00"), After: row("10", "ten!", "2", "10.50")},
		&change.Change{Op: change.Update, Table: tb, Before: row("10", "ten!", "2", "10.50"), After: row("11", "ten!", "2", "10.50")},
		&change.Change{Op: change.Delete, Table: tb, Before: row("11", "ten!", "2", "10.50")},
	)...)
	gtid := myPos{file: "binlog.000003", pos: 5000, gtid: "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-58", server: 1}
	return append(out, txnChanges(t, e, TxnInfo{ID: "3e11fa47-71ca-11e1-9e33-c80aa9429562:58", Commit: fixedCommit, Position: gtid},
		&change.Change{Op: change.Truncate, Table: tb})...)
}

func scenarios() []scenario {
	base := Options{Prefix: "sluice", Version: "1.2.3", Database: "crm", TransactionMetadata: true,
		Now: func() time.Time { return fixedNow }}
	with := func(f func(*Options)) Options { o := base; f(&o); return o }
	pgTypesRun := func(rows ...change.Row) func(t *testing.T, e *Encoder) []produced {
		return func(t *testing.T, e *Encoder) []produced {
			return txnChanges(t, e, TxnInfo{ID: "771", Commit: fixedCommit, Position: pgPos(0x16B374D848)}, inserts(pgTypes, rows...)...)
		}
	}
	myTypesRun := func(t *testing.T, e *Encoder) []produced {
		return txnChanges(t, e, TxnInfo{ID: "0-1-57", Commit: fixedCommit, Position: myPos{file: "binlog.000003", pos: 1234, gtid: "0-1-57", server: 1}},
			inserts(myTypes, myTypeRows...)...)
	}
	return []scenario{
		{"pg_types", base, pgTypesRun(pgTypeRows...)},
		{"pg_decimal_string", with(func(o *Options) { o.Decimal = DecimalString }), pgTypesRun(pgTypeRows[0], pgTypeRows[3], pgNaN)},
		{"pg_decimal_double", with(func(o *Options) { o.Decimal = DecimalDouble }), pgTypesRun(pgTypeRows[0], pgTypeRows[3], pgNaN)},
		{"mysql_types", base, myTypesRun},
		{"mysql_bigint_precise", with(func(o *Options) { o.BigintUnsigned = BigintPrecise; o.TransactionMetadata = false }), myTypesRun},
		{"pg_ops", base, pgOps},
		{"mysql_ops", base, myOps},
		{"pg_ops_no_txn_metadata", with(func(o *Options) { o.TransactionMetadata = false; o.OmitTombstones = true }), pgOps},
	}
}

// TestGolden encodes every scenario with and without schemas, compares the
// output with testdata/golden (go test -run Golden -update rewrites it),
// proves each record is valid JSON, and decodes every value back to its
// source's text.
func TestGolden(t *testing.T) {
	for _, sc := range scenarios() {
		for _, schemas := range []bool{false, true} {
			name := sc.name
			if schemas {
				name += ".schemas"
			}
			t.Run(name, func(t *testing.T) {
				opts := sc.opts
				opts.Schemas = schemas
				e, err := New(opts)
				if err != nil {
					t.Fatal(err)
				}
				out := sc.run(t, e)
				got := render(t, e, out)
				path := filepath.Join("testdata", "golden", name+".json")
				if *update {
					if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
						t.Fatal(err)
					}
					if err := os.WriteFile(path, got, 0o644); err != nil {
						t.Fatal(err)
					}
				}
				want, err := os.ReadFile(path)
				if err != nil {
					t.Fatalf("%v (run with -update to create it)", err)
				}
				if !bytes.Equal(got, want) {
					t.Errorf("%s differs from the encoder's output; diff it against go test -run 'Golden/%s$' -update", path, name)
				}
				verify(t, e, opts, out)
			})
		}
	}
}

// render writes the records as one indented JSON array: topic, key,
// value, headers, with the encoder's bytes kept in order.
func render(t *testing.T, e *Encoder, out []produced) []byte {
	var b bytes.Buffer
	b.WriteString("[")
	n := 0
	for _, p := range out {
		for _, r := range p.recs {
			for _, part := range [][]byte{r.Key, r.Value} {
				if part != nil && !json.Valid(part) {
					t.Fatalf("invalid JSON: %s", part)
				}
			}
			if n > 0 {
				b.WriteString(",")
			}
			n++
			b.WriteString(`{"topic":`)
			b.Write(appendStr(nil, e.Topic(r)))
			b.WriteString(`,"key":`)
			b.Write(orNull(r.Key))
			b.WriteString(`,"value":`)
			b.Write(orNull(r.Value))
			if len(r.Headers) > 0 {
				b.WriteString(`,"headers":{`)
				for i, h := range r.Headers {
					if i > 0 {
						b.WriteString(",")
					}
					if !json.Valid(h.Value) {
						t.Fatalf("header %s: invalid JSON %s", h.Key, h.Value)
					}
					b.Write(appendStr(nil, h.Key))
					b.WriteString(":")
					b.Write(h.Value)
				}
				b.WriteString("}")
			}
			b.WriteString("}")
		}
	}
	b.WriteString("]")
	var ind bytes.Buffer
	if err := json.Indent(&ind, b.Bytes(), "", "  "); err != nil {
		t.Fatalf("indent: %v", err)
	}
	ind.WriteString("\n")
	return ind.Bytes()
}

func orNull(b []byte) []byte {
	if b == nil {
		return []byte("null")
	}
	return b
}

// decodeJSON parses with numbers kept exact.
func decodeJSON(t *testing.T, b []byte) any {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
	return v
}

// verify checks the records' structure and decodes every value back.
func verify(t *testing.T, e *Encoder, opts Options, out []produced) {
	t.Helper()
	for _, p := range out {
		if p.table == nil {
			continue // transaction END
		}
		var events []map[string]any
		var eventRecs []Record
		for _, r := range p.recs {
			if r.Transaction {
				checkTxnRecord(t, opts, r)
				continue
			}
			if r.Value == nil {
				continue // tombstones: checked in TestOperations
			}
			v := decodeJSON(t, r.Value).(map[string]any)
			if opts.Schemas {
				if len(v) != 2 || v["schema"] == nil {
					t.Fatalf("schemas on: want {schema, payload}, got %s", r.Value)
				}
				checkPayloadAgainstSchema(t, v["schema"].(map[string]any), v["payload"])
				v = v["payload"].(map[string]any)
			}
			events = append(events, v)
			eventRecs = append(eventRecs, r)
		}
		var schemaFields map[string]any
		if opts.Schemas && len(eventRecs) > 0 {
			schemaFields = rowFieldSchemas(decodeJSON(t, eventRecs[0].Value).(map[string]any)["schema"].(map[string]any))
		} else {
			schemaFields = codecFieldSchemas(t, e, p.table)
		}
		check := func(what string, got any, want change.Row) {
			if want == nil {
				if got != nil {
					t.Errorf("%s %s: want null, got %v", p.table.ID, what, got)
				}
				return
			}
			m, ok := got.(map[string]any)
			if !ok {
				t.Fatalf("%s %s: want a struct, got %v", p.table.ID, what, got)
			}
			for i, c := range p.table.Columns {
				if err := checkValue(p.table.Dialect, c, schemaFields[c.Name].(map[string]any), m[c.Name], want[i], opts); err != nil {
					t.Errorf("%s %s column %s (%s) value %q: %v", p.table.ID, what, c.Name, c.Type, want[i].String(), err)
				}
			}
		}
		switch {
		case p.read != nil:
			if len(events) != 1 || events[0]["op"] != "r" {
				t.Fatalf("snapshot read: %d events", len(events))
			}
			check("after", events[0]["after"], p.read)
		case p.change.Op == change.Truncate:
			if len(events) != 1 || events[0]["op"] != "t" || events[0]["before"] != nil || events[0]["after"] != nil {
				t.Errorf("truncate: %v", events)
			}
		case len(events) == 2: // key change
			check("before", events[0]["before"], p.change.Before)
			check("after", events[1]["after"], p.change.After)
		case len(events) == 1:
			if p.change.Op != change.Insert && p.change.Op != change.Read {
				check("before", events[0]["before"], p.change.Before)
			}
			if p.change.Op != change.Delete {
				check("after", events[0]["after"], p.change.After)
			}
		default:
			t.Fatalf("%s: %d events", p.change.Op, len(events))
		}
	}
}

// rowFieldSchemas maps column names to their field schemas, from an
// envelope schema.
func rowFieldSchemas(env map[string]any) map[string]any {
	fields := map[string]any{}
	for _, f := range env["fields"].([]any) {
		fm := f.(map[string]any)
		if fm["field"] == "after" {
			for _, cf := range fm["fields"].([]any) {
				fields[cf.(map[string]any)["field"].(string)] = cf
			}
		}
	}
	return fields
}

// codecFieldSchemas is rowFieldSchemas for a schemaless encoder: the
// schema it would have written.
func codecFieldSchemas(t *testing.T, e *Encoder, tb *change.Table) map[string]any {
	o := e.opts
	o.Schemas = true
	e2, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	cd, err := e2.codec(tb)
	if err != nil {
		t.Fatal(err)
	}
	env := decodeJSON(t, append(cd.valuePrefix, `null}`...)).(map[string]any)["schema"].(map[string]any)
	return rowFieldSchemas(env)
}

func checkTxnRecord(t *testing.T, opts Options, r Record) {
	t.Helper()
	k := decodeJSON(t, r.Key).(map[string]any)
	v := decodeJSON(t, r.Value).(map[string]any)
	if opts.Schemas {
		checkPayloadAgainstSchema(t, k["schema"].(map[string]any), k["payload"])
		checkPayloadAgainstSchema(t, v["schema"].(map[string]any), v["payload"])
		k, v = k["payload"].(map[string]any), v["payload"].(map[string]any)
	}
	if k["id"] != v["id"] || (v["status"] != "BEGIN" && v["status"] != "END") {
		t.Errorf("transaction event: key %v value %v", k, v)
	}
}

// checkPayloadAgainstSchema checks that a payload has exactly the
// schema's fields, in its types, as JsonConverter would read it back.
func checkPayloadAgainstSchema(t *testing.T, s map[string]any, p any) {
	t.Helper()
	if p == nil {
		if s["optional"] != true && s["default"] == nil {
			t.Errorf("null for required %v", s)
		}
		return
	}
	switch s["type"] {
	case "struct":
		m, ok := p.(map[string]any)
		if !ok {
			t.Errorf("want struct %v, got %v", s["name"], p)
			return
		}
		fields := s["fields"].([]any)
		if len(fields) != len(m) {
			t.Errorf("struct %v: %d fields in the schema, %d in the payload", s["name"], len(fields), len(m))
		}
		for _, f := range fields {
			fm := f.(map[string]any)
			v, ok := m[fm["field"].(string)]
			if !ok {
				t.Errorf("struct %v: no field %v", s["name"], fm["field"])
			}
			checkPayloadAgainstSchema(t, fm, v)
		}
	case "array":
		a, ok := p.([]any)
		if !ok {
			t.Errorf("want array, got %v", p)
			return
		}
		for _, el := range a {
			if el != nil {
				checkPayloadAgainstSchema(t, s["items"].(map[string]any), el)
			}
		}
	case "map":
		if _, ok := p.(map[string]any); !ok {
			t.Errorf("want map, got %v", p)
		}
	case "string", "bytes":
		if _, ok := p.(string); !ok {
			t.Errorf("want %v, got %v", s["type"], p)
		}
	case "boolean":
		if _, ok := p.(bool); !ok {
			t.Errorf("want boolean, got %v", p)
		}
	case "float", "double":
		switch v := p.(type) {
		case json.Number:
		case string:
			if v != "NaN" && v != "Infinity" && v != "-Infinity" {
				t.Errorf("want a number, got %q", v)
			}
		default:
			t.Errorf("want a number, got %v", p)
		}
	case "int8", "int16", "int32", "int64":
		n, ok := p.(json.Number)
		if !ok || strings.ContainsAny(string(n), ".eE") {
			t.Errorf("want an integer, got %v", p)
		}
	default:
		t.Errorf("unknown schema type %v", s["type"])
	}
}
