package envelope

import (
	"errors"
	"math"
	"math/big"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicecdc/sluice/pkg/change"
)

func newTest(t *testing.T, f func(*Options)) *Encoder {
	t.Helper()
	o := Options{Prefix: "p", Version: "v", Database: "db", Now: func() time.Time { return fixedNow }}
	if f != nil {
		f(&o)
	}
	e, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func TestDecimalBytes(t *testing.T) {
	for in, want := range map[string]string{
		"0": "AA==", "-1": "/w==", "127": "fw==", "128": "AIA=", "-128": "gA==", "-129": "/38=",
		"255": "AP8=", "32767": "f/8=", "-32768": "gAA=", "9223372036854775807": "f/////////8=",
		"-9223372036854775808": "gAAAAAAAAAA=", "18446744073709551615": "AP//////////",
		"-18446744073709551616": "/wAAAAAAAAAA",
	} {
		d, err := parseDecimal([]byte(in))
		if err != nil {
			t.Fatal(err)
		}
		got, err := d.appendUnscaledBase64(nil, 0)
		if err != nil || string(got) != `"`+want+`"` {
			t.Errorf("%s: %s %v, want %q", in, got, err, want)
		}
	}
	// against math/big for many sizes, both paths
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 2000; i++ {
		raw := make([]byte, 1+i%25)
		for j := range raw {
			raw[j] = byte(r.Uint32())
		}
		x := new(big.Int).SetBytes(raw)
		if i%2 == 1 {
			x.Neg(x)
		}
		d, _ := parseDecimal([]byte(x.String()))
		got, err := d.appendUnscaledBase64(nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		back, err := decodeUnscaled(strings.Trim(string(got), `"`))
		if err != nil || back.Cmp(x) != 0 {
			t.Fatalf("%s: %s decodes to %v, %v", x, got, back, err)
		}
	}
}

func TestDecimalScale(t *testing.T) {
	for _, tc := range []struct {
		in    string
		scale int
		plain string
		err   bool
	}{
		{"1.5", 2, "1.50", false},
		{"-0.01", 2, "-0.01", false},
		{"12.300", 2, "12.30", false},
		{"12.301", 2, "", true},
		{".5", 1, "0.5", false},
		{"5.", 0, "5", false},
		{"-0.00", 2, "0.00", false},
		{"007", 0, "7", false},
	} {
		d, err := parseDecimal([]byte(tc.in))
		if err != nil {
			t.Fatal(tc.in, err)
		}
		got, err := d.appendPlain(nil, tc.scale)
		if (err != nil) != tc.err || (!tc.err && string(got) != tc.plain) {
			t.Errorf("%s scale %d: %q %v, want %q", tc.in, tc.scale, got, err, tc.plain)
		}
	}
	for _, bad := range []string{"", "-", ".", "1.2.3", "1e5", "NaN", "0x10", "1,5"} {
		if _, err := parseDecimal([]byte(bad)); err == nil {
			t.Errorf("%q parsed as a decimal", bad)
		}
	}
}

// TestInfiniteDates: Debezium maps PostgreSQL's infinite dates to the
// LocalDates -5877611-06-21 (infinity) and -22 (-infinity), whose epoch
// days are PostgreSQL's internal int32 infinities rebased from 2000 to 1970
// (wrapping for infinity).
func TestInfiniteDates(t *testing.T) {
	const days1970To2000 = 10957
	for _, tc := range []struct {
		day, got, internal int64
	}{
		{21, pgInfinityDays, math.MaxInt32 + days1970To2000 - 1<<32},
		{22, pgNegInfinityDays, math.MinInt32 + days1970To2000},
	} {
		if d := daysFromCivil(-5877611, 6, tc.day); d != tc.got || d != tc.internal {
			t.Errorf("-5877611-06-%d: %d, encoder %d, rebased PostgreSQL %d", tc.day, d, tc.got, tc.internal)
		}
	}
}

func TestCivilDays(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for i := 0; i < 20000; i++ {
		days := r.Int64N(2*3_000_000) - 3_000_000
		if i%10 == 0 {
			days = r.Int64N(2*2_000_000_000) - 2_000_000_000
		}
		tm := time.Unix(days*86400, 0).UTC()
		if got := daysFromCivil(int64(tm.Year()), int64(tm.Month()), int64(tm.Day())); got != days {
			t.Fatalf("daysFromCivil(%v) = %d, want %d", tm, got, days)
		}
		y, m, d := civilFromDays(days)
		if y != int64(tm.Year()) || m != int64(tm.Month()) || d != int64(tm.Day()) {
			t.Fatalf("civilFromDays(%d) = %d-%d-%d, want %v", days, y, m, d, tm)
		}
	}
}

const secret = "s3cr3t"

// TestValueErrors: a value the encoder cannot write is a *ValueError naming
// table, column and type; its message never holds the value.
func TestValueErrors(t *testing.T) {
	e := newTest(t, nil)
	for _, tb := range []*change.Table{pgTypes, myTypes} {
		for i, c := range tb.Columns {
			if i == 0 || c.Type == "text" || strings.HasPrefix(c.Type, "character") || strings.HasPrefix(c.Type, "varchar") ||
				strings.HasPrefix(c.Type, "char") || strings.HasSuffix(c.Type, "text") || strings.HasSuffix(c.Type, "blob") ||
				strings.HasSuffix(c.Type, "binary(10)") || c.Type == "json" || c.Type == "jsonb" || c.Type == "xml" || c.Type == "uuid" ||
				c.Type == "inet" || c.Type == "cidr" || c.Type == "macaddr" || c.Type == "tsvector" || c.Type == "int4range" ||
				c.Type == "mood" || strings.HasPrefix(c.Type, "enum") || strings.HasPrefix(c.Type, "set") || strings.HasPrefix(c.Type, "binary") ||
				c.Type == "bytea" || c.Type == "text[]" || c.Type == "mood[]" || c.Type == "jsonb[]" || c.Type == "bytea[]" || c.Type == "geometry" {
				continue // any text is a valid value of these
			}
			r := make(change.Row, len(tb.Columns))
			for j := range r {
				r[j] = change.NullValue
			}
			r[0] = change.Text("1")
			r[i] = change.Text("{" + secret + "\x00}")
			tx := e.Begin(TxnInfo{ID: "1"})
			_, err := tx.Change(nil, &change.Change{Op: change.Insert, Table: tb, After: r})
			var ve *ValueError
			if !errors.As(err, &ve) {
				t.Errorf("%s %s (%s): want a *ValueError, got %v", tb.ID, c.Name, c.Type, err)
				continue
			}
			if ve.Table != tb.ID || ve.Column != c.Name || ve.Type != c.Type {
				t.Errorf("%s %s: error names %s %s %s", tb.ID, c.Name, ve.Table, ve.Column, ve.Type)
			}
			if msg := err.Error(); strings.Contains(msg, secret) || !strings.Contains(msg, c.Name) {
				t.Errorf("%s %s: message %q", tb.ID, c.Name, msg)
			}
		}
	}
	// invalid UTF-8 in a text column
	tx := e.Begin(TxnInfo{ID: "1"})
	_, err := tx.Change(nil, &change.Change{Op: change.Insert, Table: keylessPG, After: row("1", secret+"\xff")})
	if !errors.Is(err, errUTF8) || strings.Contains(err.Error(), secret) {
		t.Errorf("invalid UTF-8: %v", err)
	}
}

func TestSpecialValues(t *testing.T) {
	e := newTest(t, nil)
	tb := table(change.Postgres, "public", "n", []int{0}, col{"id", "integer", true, nil}, col{"n", "numeric", false, nil},
		col{"ts", "timestamp without time zone", false, nil})
	for _, tc := range []struct {
		r    change.Row
		want error
	}{
		{row("1", "NaN", "∅"), errSpecialPrec},                         // precise cannot hold NaN, as in Debezium
		{row("1", "∅", "294276-12-31 23:59:59.999999"), errMicroRange}, // PostgreSQL's last timestamp is past int64 µs
		{row("1", "∅", "294247-01-01 23:59:59.999999"), nil},
		{row("1", "∅", "2024-02-30 00:00:00"), errTimestamp},
	} {
		_, err := e.Begin(TxnInfo{}).Change(nil, &change.Change{Op: change.Insert, Table: tb, After: tc.r})
		if !errors.Is(err, tc.want) && !(tc.want == nil && err == nil) {
			t.Errorf("%v: %v, want %v", tc.r, err, tc.want)
		}
	}
	if !strings.Contains(errSpecialPrec.Error(), "decimal_handling") {
		t.Error("the NaN error should say the fix")
	}
}

func TestOptions(t *testing.T) {
	for _, o := range []Options{
		{Version: "1"},
		{Prefix: "a b", Version: "1"},
		{Prefix: "p"},
		{Prefix: "p", Version: "1", Decimal: 7},
		{Prefix: "p", Version: "1", MoneyFractionDigits: -1},
	} {
		if _, err := New(o); err == nil {
			t.Errorf("%+v accepted", o)
		}
	}
	e := newTest(t, func(o *Options) { o.Database = "" })
	if _, err := e.Begin(TxnInfo{}).Change(nil, &change.Change{Op: change.Truncate, Table: keylessPG}); err == nil ||
		!strings.Contains(err.Error(), "Database") {
		t.Errorf("PostgreSQL without Options.Database: %v", err)
	}
	if _, err := e.Begin(TxnInfo{}).Change(nil, &change.Change{Op: change.Truncate, Table: opsTable(change.MySQL)}); err != nil {
		t.Errorf("MySQL needs no Options.Database: %v", err)
	}
	for _, s := range []string{"", "precise", "string", "double"} {
		if m, err := ParseDecimalMode(s); err != nil || (s != "" && m.String() != s) {
			t.Errorf("ParseDecimalMode(%q) = %v, %v", s, m, err)
		}
	}
	if _, err := ParseDecimalMode("float"); err == nil {
		t.Error("ParseDecimalMode(float) accepted")
	}
}

func TestTopics(t *testing.T) {
	id := change.TableID{Schema: "public", Name: "orders"}
	if got := Topic("srv", id); got != "srv.public.orders" {
		t.Errorf("Topic: %s", got)
	}
	if got := Topic("srv", change.TableID{Schema: "my schema", Name: "tbl$1é"}); got != "srv.my_schema.tbl_1_" {
		t.Errorf("sanitized: %s", got)
	}
	if got := Topic("p", change.TableID{Schema: "s", Name: strings.Repeat("x", 300)}); len(got) != 249 {
		t.Errorf("long: %d", len(got))
	}
	if got := TransactionTopic("srv"); got != "srv.transaction" {
		t.Errorf("TransactionTopic: %s", got)
	}
	tt, err := ParseTopicTemplate("cdc.{schema}.{table}")
	if err != nil || tt.Topic("srv", id) != "cdc.public.orders" {
		t.Errorf("template: %v %v", tt.Topic("srv", id), err)
	}
	tt, err = ParseTopicTemplate(DefaultTopicTemplate)
	if err != nil || tt.Topic("srv", id) != Topic("srv", id) {
		t.Errorf("default template: %v", err)
	}
	if tt, err = ParseTopicTemplate("{prefix}-{database}_{table}"); err != nil || tt.Topic("p", id) != "p-public_orders" {
		t.Errorf("database placeholder: %v", err)
	}
	for _, bad := range []string{"cdc.{schema}", "{tabel}", "x{table", "x}{table}"} {
		if _, err := ParseTopicTemplate(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// TestCodecCache: one encoding per *change.Table, built once even when
// goroutines race (run with -race).
func TestCodecCache(t *testing.T) {
	e := newTest(t, nil)
	tb := opsTable(change.Postgres)
	var wg sync.WaitGroup
	codecs := make([]*codec, 8)
	for i := range codecs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cd, err := e.codec(tb)
			if err != nil {
				t.Error(err)
			}
			codecs[i] = cd
			tx := e.Begin(TxnInfo{ID: "1", Position: pgPos(1)})
			for j := 0; j < 50; j++ {
				if _, err := tx.Change(nil, &change.Change{Op: change.Insert, Table: tb, After: row("1", "x", "1", "1.00", "∅", "∅", "∅", "∅")}); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	cd, _ := e.codec(tb)
	for _, c := range codecs {
		if c.table != tb {
			t.Fatal("codec of another table")
		}
	}
	if got, _ := e.codec(tb); got != cd {
		t.Error("the cached codec changed")
	}
	shape2 := *tb
	if got, _ := e.codec(&shape2); got == cd {
		t.Error("a new *change.Table must get its own codec")
	}
}

// TestRecordsOwnTheirBytes: records stay intact after later calls reuse
// the encoder's buffers.
func TestRecordsOwnTheirBytes(t *testing.T) {
	e := newTest(t, nil)
	tb := opsTable(change.MySQL)
	tx := e.Begin(TxnInfo{ID: "1"})
	first, err := tx.Change(nil, &change.Change{Op: change.Insert, Table: tb, After: row("1", "first", "1", "1.00")})
	if err != nil {
		t.Fatal(err)
	}
	key, value := string(first[0].Key), string(first[0].Value)
	for i := 0; i < 100; i++ {
		if _, err := tx.Change(nil, &change.Change{Op: change.Insert, Table: tb, After: row("2", strings.Repeat("y", i), "2", "2.00")}); err != nil {
			t.Fatal(err)
		}
	}
	if string(first[0].Key) != key || string(first[0].Value) != value {
		t.Error("a record's bytes changed after later calls")
	}
	// appending to one record's slice must not clobber another's
	_ = append(first[0].Key, "xxxxxxxx"...)
	if string(first[0].Value) != value {
		t.Error("records share capacity")
	}
}

func TestTxnEdges(t *testing.T) {
	e := newTest(t, func(o *Options) { o.TransactionMetadata = true })
	if got := e.Begin(TxnInfo{ID: "9"}).End(nil); len(got) != 0 {
		t.Errorf("END without changes: %d records", len(got))
	}
	tx := e.Begin(TxnInfo{ID: "9"})
	if _, err := tx.Change(nil, &change.Change{Op: change.Update, Table: opsTable(change.MySQL), After: row("1", "a", "1")}); err == nil {
		t.Error("a row of the wrong width was accepted")
	}
	if _, err := tx.Change(nil, &change.Change{Op: 99, Table: opsTable(change.MySQL)}); err == nil {
		t.Error("an unknown op was accepted")
	}
	if _, err := e.Read(nil, keylessPG, row("1", "x"), Snapshot{Marker: "middle"}); err == nil {
		t.Error("an unknown snapshot marker was accepted")
	}
	recs, err := e.Read(nil, keylessPG, row("1", "x"), Snapshot{})
	if err != nil || !strings.Contains(string(recs[0].Value), `"snapshot":"true"`) || recs[0].Key != nil {
		t.Errorf("read: %v %s", err, recs[0].Value)
	}
}

func TestIntervals(t *testing.T) {
	for in, want := range map[string]int64{
		"00:00:00":                         0,
		"1 year 2 mons 3 days 04:05:06.78": 14*2_629_800_000_000 + 3*86_400_000_000 + (4*3600+5*60+6)*1_000_000 + 780_000,
		"-1 days +01:00:00":                -23 * 3600 * 1_000_000,
		"-00:00:00.000001":                 -1,
		"1 mon":                            2_629_800_000_000,
		"178000000 years":                  math.MaxInt64, // beyond int64: saturates as Java's (long) cast of a double
	} {
		got, err := pgIntervalMicros([]byte(in))
		if err != nil || got != want {
			t.Errorf("%q: %d %v, want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "1", "1 fortnight", "P1Y", "1 day 25:99:00"} {
		if _, err := pgIntervalMicros([]byte(bad)); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// TestFailedChangeLeavesTxn: a change that fails adds nothing to the
// transaction: the next one still gets the BEGIN event and the counts.
func TestFailedChangeLeavesTxn(t *testing.T) {
	e := newTest(t, func(o *Options) { o.TransactionMetadata = true })
	tb := opsTable(change.MySQL)
	tx := e.Begin(TxnInfo{ID: "0-1-9", Position: myPos{file: "b.000001", pos: 4, gtid: "0-1-9"}})
	if _, err := tx.Change(nil, &change.Change{Op: change.Insert, Table: tb, After: row("1", "x", "nope", "1.00")}); err == nil {
		t.Fatal("a bad int was accepted")
	}
	recs, err := tx.Change(nil, &change.Change{Op: change.Insert, Table: tb, After: row("1", "x", "1", "1.00")})
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 2 || !recs[0].Transaction || !strings.Contains(string(recs[0].Value), `"BEGIN"`) {
		t.Fatalf("want BEGIN and the insert, got %d records", len(recs))
	}
	if v := string(recs[1].Value); !strings.Contains(v, `"total_order":1,`) || !strings.Contains(v, `"row":0,`) {
		t.Errorf("the failed change was counted: %s", v)
	}
	end := tx.End(nil)
	if v := string(end[0].Value); !strings.Contains(v, `"event_count":1,`) || !strings.Contains(v, `"event_count":1}`) {
		t.Errorf("END: %s", v)
	}
}
