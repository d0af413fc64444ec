package kafka

import (
	"errors"
	"testing"
	"time"

	"github.com/sluicecdc/sluice/pkg/change"
	"github.com/sluicecdc/sluice/sink/envelope"
)

// typeCase is one column type with a value in the dialect's text, and the
// text it decodes to when that differs (the type Sluice creates for the
// Connect schema renders it its own way).
type typeCase struct {
	typ, in, out string
}

var pgTypes = []typeCase{
	{"boolean", "t", ""},
	{"smallint", "-32768", ""},
	{"integer", "2147483647", ""},
	{"bigint", "-9223372036854775808", ""},
	{"real", "1.5", ""},
	{"double precision", "-2.25e-300", "-2.25e-300"},
	{"numeric(12,2)", "-1234567890.01", ""},
	{"numeric(5,0)", "12345", ""},
	{"numeric", "3.14159265358979323846264338327950288", ""},
	{"numeric", "-0.000001", ""},
	{"text", "héllo \"world\"\n", ""},
	{"character varying(20)", "abc", ""},
	{"bytea", `\x00ff5c0a`, ""},
	{"date", "2024-02-29", ""},
	{"date", "0044-03-15 BC", ""},
	{"time(3) without time zone", "13:45:06.789", ""},
	{"time without time zone", "23:59:59.999999", ""},
	{"timestamp(3) without time zone", "2024-01-31 13:45:00.5", ""},
	{"timestamp without time zone", "1999-12-31 23:59:59.123456", ""},
	{"timestamp with time zone", "2024-06-30 18:14:59.123456+00", ""},
	{"time with time zone", "14:58:59.999999+00", ""},
	{"interval", "1 day 02:00:00", "93600000000 microseconds"},
	{"jsonb", `{"a": [1, 2.5, "x"]}`, ""},
	{"uuid", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", ""},
	{"bit(8)", "00101101", ""},
	{"point", "(1.5,-2)", ""},
	{"integer[]", "{1,NULL,-3}", `{"1",NULL,"-3"}`},
	{"text[]", `{a,"b c","d\"e"}`, `{"a","b c","d\"e"}`},
}

var myTypes = []typeCase{
	{"tinyint", "-128", ""},
	{"int", "-2147483648", ""},
	{"bigint", "9223372036854775807", ""},
	{"decimal(10,3)", "-1234567.125", ""},
	{"double", "2.5", ""},
	{"varchar(20)", "ünïcode", ""},
	{"varbinary(10)", "\x00\x01\xff", ""},
	{"date", "2024-01-31", ""},
	{"datetime(6)", "2024-01-31 13:45:00.123456", ""},
	{"datetime", "2024-01-31 13:45:00", "2024-01-31 13:45:00.000"},
	{"timestamp(3)", "2024-06-01 10:00:00.500", ""},
	{"time(6)", "-838:59:59.000000", ""},
	{"year", "2024", ""},
	{"json", `{"k":1}`, ""},
	{"bit(10)", "1010101010", ""},
}

// TestRoundTrip encodes one row of every type with Sluice's Kafka sink
// envelope (with and without schemas) and decodes it back.
func TestRoundTrip(t *testing.T) {
	for _, schemas := range []bool{true, false} {
		for _, d := range []change.Dialect{change.Postgres, change.MySQL} {
			cases := pgTypes
			if d == change.MySQL {
				cases = myTypes
			}
			tbl := &change.Table{ID: change.TableID{Schema: "app", Name: "types"}, Dialect: d,
				Columns: []change.Column{{Name: "id", Type: "integer", NotNull: true}}, Key: []int{0}}
			if d == change.MySQL {
				tbl.Columns[0].Type = "int"
			}
			row := change.Row{change.Text("7")}
			for i, c := range cases {
				tbl.Columns = append(tbl.Columns, change.Column{Name: colName(i), Type: c.typ})
				row = append(row, change.Text(c.in))
			}
			tbl.Columns = append(tbl.Columns, change.Column{Name: "nothing", Type: "text"})
			row = append(row, change.NullValue)
			enc, err := envelope.New(envelope.Options{Prefix: "crm", Version: "test", Database: "crm", Schemas: schemas})
			if err != nil {
				t.Fatal(err)
			}
			tx := enc.Begin(envelope.TxnInfo{ID: "1", Commit: time.Unix(1700000000, 0)})
			recs, err := tx.Change(nil, &change.Change{Op: change.Insert, Table: tbl, After: row})
			if err != nil {
				t.Fatalf("%v: encode: %v", d, err)
			}
			var dec Decoder
			ev, err := dec.Decode("crm.app.types", recs[0].Key, recs[0].Value)
			if err != nil {
				t.Fatalf("%v schemas=%v: decode: %v", d, schemas, err)
			}
			got := ev.Change
			if got.Op != change.Insert || got.Table.ID != tbl.ID || len(got.After) != len(row) {
				t.Fatalf("%v schemas=%v: got %v %v with %d values", d, schemas, got.Op, got.Table.ID, len(got.After))
			}
			if got.Table.Dialect != d || len(got.Table.Key) != 1 || got.Table.Key[0] != 0 {
				t.Errorf("%v schemas=%v: dialect %v key %v", d, schemas, got.Table.Dialect, got.Table.Key)
			}
			if got.After[len(row)-1].State != change.Null {
				t.Errorf("%v: null came back as %v", d, got.After[len(row)-1])
			}
			if !schemas {
				continue // without a schema every value is its JSON text (see TestSchemaless)
			}
			for i, c := range cases {
				want := c.in
				if c.out != "" {
					want = c.out
				}
				if v := got.After[i+1]; v.State != change.Present || string(v.Data) != want {
					t.Errorf("%v %s: %q came back as %q (%s)", d, c.typ, c.in, v, got.Table.Columns[i+1].Type)
				}
			}
		}
	}
}

func colName(i int) string { return "c" + string(rune('a'+i/26)) + string(rune('a'+i%26)) }

// TestRoundTripOps: update, delete with its tombstone, a key change,
// truncate and an unchanged TOASTed value.
func TestRoundTripOps(t *testing.T) {
	tbl := &change.Table{ID: change.TableID{Schema: "public", Name: "docs"}, Dialect: change.Postgres,
		Columns: []change.Column{{Name: "id", Type: "bigint", NotNull: true}, {Name: "body", Type: "text"}}, Key: []int{0}}
	enc, err := envelope.New(envelope.Options{Prefix: "crm", Version: "test", Database: "crm", Schemas: true})
	if err != nil {
		t.Fatal(err)
	}
	tx := enc.Begin(envelope.TxnInfo{ID: "9", Commit: time.Unix(1700000000, 0)})
	changes := []change.Change{
		{Op: change.Update, Table: tbl, After: change.Row{change.Text("1"), {State: change.Unchanged}}},
		{Op: change.Delete, Table: tbl, Before: change.Row{change.Text("1"), {State: change.Missing}}},
		{Op: change.Update, Table: tbl, Before: change.Row{change.Text("2"), {State: change.Missing}}, After: change.Row{change.Text("3"), change.Text("x")}},
		{Op: change.Truncate, Table: tbl},
	}
	var recs []envelope.Record
	for i := range changes {
		if recs, err = tx.Change(recs, &changes[i]); err != nil {
			t.Fatal(err)
		}
	}
	var dec Decoder
	var got []string
	for _, r := range recs {
		ev, err := dec.Decode("crm.public.docs", r.Key, r.Value)
		if errors.Is(err, ErrSkip) {
			got = append(got, "skip")
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		c := ev.Change
		got = append(got, c.Op.String()+" "+rowText(c.Before)+" "+rowText(c.After))
	}
	want := []string{
		"update  1,<unchanged>",
		"delete 1,NULL ",
		"skip", // tombstone
		"delete 2,NULL ",
		"skip",
		"insert  3,x",
		"truncate  ",
	}
	if len(got) != len(want) {
		t.Fatalf("got %q, want %q", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("event %d: got %q, want %q", i, got[i], want[i])
		}
	}
}

func rowText(r change.Row) string {
	s := ""
	for i, v := range r {
		if i > 0 {
			s += ","
		}
		s += v.String()
	}
	return s
}
