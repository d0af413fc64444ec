package mysql

import (
	"bytes"
	"context"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sluicecdc/sluice/internal/mytest"
	"github.com/sluicecdc/sluice/pkg/change"
)

// typesDDL has a column of every supported type.
const typesDDL = `CREATE DATABASE IF NOT EXISTS d;
CREATE TABLE d.types (
  id int NOT NULL PRIMARY KEY,
  ti tinyint, tiu tinyint unsigned, si smallint, siu smallint unsigned, mi mediumint, miu mediumint unsigned,
  i int, iu int unsigned, bi bigint, biu bigint unsigned NOT NULL DEFAULT 0, bo bool,
  de decimal(65,30), d2 decimal(10,2), fl float, db double, f73 float(7,3),
  b1 bit(1), b10 bit(10), b64 bit(64),
  e enum('a','b','it''s','back\\slash'), s set('x','y','z'),
  c char(5), vc varchar(20), bin binary(4), vb varbinary(10),
  tt tinytext, tx text, mt mediumtext, lt longtext, tb tinyblob, bl blob, mb mediumblob, lb longblob,
  l1 varchar(10) CHARACTER SET latin1, lc char(3) CHARACTER SET latin1, le enum('é','ü') CHARACTER SET latin1,
  dt date, dtt datetime, dt3 datetime(3), dt6 datetime(6), ts timestamp NULL, ts6 timestamp(6) NULL,
  tm time, tm1 time(1), tm6 time(6), yr year,
  js json, zf int(6) zerofill, g point
)`

// typesRows are written in one session with time_zone '+02:00' and a
// sql_mode that allows zero dates.
const typesRows = `SET time_zone = '+02:00', sql_mode = '';
INSERT INTO d.types VALUES (1,
  -128, 255, -32768, 65535, -8388608, 16777215,
  -2147483648, 4294967295, -9223372036854775808, 18446744073709551615, true,
  '-12345678901234567890123456789012345.123456789012345678901234567890', 12345678.90, 3.1415927, 0.1e0+0.2e0, 3.14159,
  b'1', b'1010101010', b'1111111111111111111111111111111111111111111111111111111111111111',
  'it''s', 'z,x', 'ab', 'héllo😀', 'ab', x'610062',
  'tiny', 'text', 'medium', 'long', x'00ff', x'01', x'02', x'03',
  'café€', 'ñ', 'ü',
  '2024-01-31', '2024-01-31 13:45:00', '2024-01-31 13:45:00.123', '9999-12-31 23:59:59.999999', '2024-06-01 12:00:00', '2024-06-01 12:00:00.5',
  '-838:59:59', '838:59:59.0', '-00:00:00.000001', 2024,
  '{"a": [1, 2.5, "x"]}', 42, ST_GeomFromText('POINT(1 2)'));
INSERT INTO d.types (id) VALUES (2);
INSERT INTO d.types (id, bi, biu, de, fl, db, b10, b64, e, s, c, vc, bin, vb, tx, bl, dt, dtt, dt3, dt6, ts, ts6, tm, tm1, tm6, yr, zf, le) VALUES (3,
  0, 0, 0, 0, -1.5e-300, b'0', b'1000000000000000000000000000000000000000000000000000000000000001', 'nope', '', '', '', '', '', '', '',
  '0000-00-00', '0000-00-00 00:00:00', '0000-00-00 00:00:00', '0000-00-00 00:00:00', '0000-00-00 00:00:00', '0000-00-00 00:00:00',
  '00:00:00', '00:00:00', '-838:59:59', 0, 0, 'é');
INSERT INTO d.types (id, l1, vc, e) VALUES (4, CONCAT('x', CONVERT(x'80818d8f909d9effa0' USING latin1)), 'a''b"c\\d', 'back\\slash');
UPDATE d.types SET i = 7, vc = NULL WHERE id = 1;
DELETE FROM d.types WHERE id = 2;`

var wantTypes = map[string]string{
	"id": "int", "ti": "tinyint", "tiu": "tinyint unsigned", "si": "smallint", "siu": "smallint unsigned", "mi": "mediumint",
	"miu": "mediumint unsigned", "i": "int", "iu": "int unsigned", "bi": "bigint", "biu": "bigint unsigned", "bo": "tinyint",
	"de": "decimal(65,30)", "d2": "decimal(10,2)", "fl": "float", "db": "double", "f73": "float",
	"b1": "bit(1)", "b10": "bit(10)", "b64": "bit(64)",
	"e": `enum('a','b','it''s','back\\slash')`, "s": "set('x','y','z')",
	"c": "char(5)", "vc": "varchar(20)", "bin": "binary(4)", "vb": "varbinary(10)",
	"tt": "tinytext", "tx": "text", "mt": "mediumtext", "lt": "longtext", "tb": "tinyblob", "bl": "blob", "mb": "mediumblob", "lb": "longblob",
	"l1": "varchar(10)", "lc": "char(3)", "le": "enum('é','ü')",
	"dt": "date", "dtt": "datetime", "dt3": "datetime(3)", "dt6": "datetime(6)", "ts": "timestamp", "ts6": "timestamp(6)",
	"tm": "time", "tm1": "time(1)", "tm6": "time(6)", "yr": "year", "js": "longtext", "zf": "int unsigned", "g": "point",
}

var wantRow1 = map[string]string{
	"id": "1", "ti": "-128", "tiu": "255", "si": "-32768", "siu": "65535", "mi": "-8388608", "miu": "16777215",
	"i": "-2147483648", "iu": "4294967295", "bi": "-9223372036854775808", "biu": "18446744073709551615", "bo": "1",
	"de": "-12345678901234567890123456789012345.123456789012345678901234567890", "d2": "12345678.90",
	"fl": "3.1415927", "db": "0.30000000000000004", "f73": "3.142",
	"b1": "1", "b10": "1010101010", "b64": strings.Repeat("1", 64),
	"e": "it's", "s": "x,z", "c": "ab", "vc": "héllo😀", "bin": "ab\x00\x00", "vb": "a\x00b",
	"tt": "tiny", "tx": "text", "mt": "medium", "lt": "long", "tb": "\x00\xff", "bl": "\x01", "mb": "\x02", "lb": "\x03",
	"l1": "café€", "lc": "ñ", "le": "ü",
	"dt": "2024-01-31", "dtt": "2024-01-31 13:45:00", "dt3": "2024-01-31 13:45:00.123", "dt6": "9999-12-31 23:59:59.999999",
	"ts": "2024-06-01 10:00:00", "ts6": "2024-06-01 10:00:00.500000",
	"tm": "-838:59:59", "tm1": "838:59:59.0", "tm6": "-00:00:00.000001", "yr": "2024",
	"js": `{"a": [1, 2.5, "x"]}`, "zf": "42", "g": "\x00\x00\x00\x00\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\xf0?\x00\x00\x00\x00\x00\x00\x00@",
}

var wantRow3 = map[string]string{
	"id": "3", "bi": "0", "biu": "0", "de": "0.000000000000000000000000000000", "fl": "0", "db": "-1.5e-300",
	"b10": "0000000000", "b64": "1" + strings.Repeat("0", 62) + "1", "e": "", "s": "", "c": "", "vc": "", "bin": "\x00\x00\x00\x00", "vb": "",
	"tx": "", "bl": "", "dt": "0000-00-00", "dtt": "0000-00-00 00:00:00", "dt3": "0000-00-00 00:00:00.000", "dt6": "0000-00-00 00:00:00.000000",
	"ts": "0000-00-00 00:00:00", "ts6": "0000-00-00 00:00:00.000000", "tm": "00:00:00", "tm1": "00:00:00.0", "tm6": "-838:59:59.000000",
	"yr": "0000", "zf": "0", "le": "é", "ti": "NULL", "g": "NULL", "lt": "NULL",
}

// TestTypes streams rows with every type and checks the shape and each
// value's text against literals, then checks that the snapshot reads the
// very same shape and texts. It runs once with plain binlog events and once
// with MariaDB's compressed ones.
func TestTypes(t *testing.T) {
	t.Parallel()
	for name, args := range map[string][]string{
		"plain":      nil,
		"compressed": {"--log-bin-compress=ON", "--log-bin-compress-min-len=10"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			srv := startServer(t, mytest.Options{Args: args})
			testTypes(t, srv)
			if events := binlogEventTypes(t, srv); (name == "compressed") != strings.Contains(events, "compressed") {
				t.Errorf("%s: binlog event types %s", name, events)
			}
		})
	}
}

func testTypes(t *testing.T, srv *mytest.Server) {
	exec(t, srv, typesDDL)
	src := newSource(t, srv, Options{})
	if err := src.Start(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	exec(t, srv, typesRows)

	streamed := map[string]change.Row{} // id → latest row image
	var table *change.Table
	var ops []string
	for len(ops) < 6 {
		txn, cs := nextTxn(t, src, 20*time.Second)
		if txn.Position.(Position).GTID == "" || !strings.HasPrefix(txn.ID, "0-") {
			t.Errorf("transaction %s at %s: want a MariaDB GTID", txn.ID, txn.Position)
		}
		for _, c := range cs {
			if table == nil {
				table = c.table
			} else if c.table != table {
				t.Errorf("%s change has a new *change.Table for an unchanged shape", c.op)
			}
			ops = append(ops, c.op.String())
			switch c.op {
			case change.Insert:
				streamed[c.after[0].String()] = c.after
			case change.Update:
				if got := value(c.table, c.before, "vc"); got != "héllo😀" {
					t.Errorf("update: old vc = %q", got)
				}
				if got := value(c.table, c.before, "i"); got != "-2147483648" {
					t.Errorf("update: old i = %q (want the full old row)", got)
				}
				streamed["1u"] = c.after
			case change.Delete:
				if got := value(c.table, c.before, "id"); got != "2" || value(c.table, c.before, "ti") != "NULL" {
					t.Errorf("delete: old row %v", c.before)
				}
			}
		}
	}
	if want := []string{"insert", "insert", "insert", "insert", "update", "delete"}; !slices.Equal(ops, want) {
		t.Fatalf("ops %v, want %v", ops, want)
	}
	if table.ID != (change.TableID{Schema: "d", Name: "types"}) || !slices.Equal(table.Key, []int{0}) ||
		table.Identity != change.IdentityFull || table.Dialect != change.MySQL {
		t.Errorf("table %+v", table)
	}
	for _, col := range table.Columns {
		if want, ok := wantTypes[col.Name]; !ok || col.Type != want {
			t.Errorf("column %s: type %q, want %q", col.Name, col.Type, want)
		}
	}
	if len(table.Columns) != len(wantTypes) {
		t.Errorf("%d columns, want %d", len(table.Columns), len(wantTypes))
	}
	checkCol := func(name string, want change.Column) {
		t.Helper()
		got := table.Columns[table.ColumnIndex(name)]
		if !reflect.DeepEqual(got, want) {
			t.Errorf("column %s: %+v, want %+v", name, got, want)
		}
	}
	checkCol("id", change.Column{Name: "id", Type: "int", NotNull: true})
	checkCol("biu", change.Column{Name: "biu", Type: "bigint unsigned", NotNull: true})
	checkCol("e", change.Column{Name: "e", Type: wantTypes["e"], Charset: "utf8mb4", Enum: []string{"a", "b", "it's", `back\slash`}})
	checkCol("l1", change.Column{Name: "l1", Type: "varchar(10)", Charset: "latin1"})
	checkCol("le", change.Column{Name: "le", Type: "enum('é','ü')", Charset: "latin1", Enum: []string{"é", "ü"}})
	checkCol("bin", change.Column{Name: "bin", Type: "binary(4)", Charset: "binary"})
	checkCol("js", change.Column{Name: "js", Type: "longtext", Charset: "utf8mb4"})
	checkCol("dt6", change.Column{Name: "dt6", Type: "datetime(6)"})

	for id, want := range map[string]map[string]string{"1": wantRow1, "3": wantRow3} {
		row := streamed[id]
		for col, w := range want {
			if got := value(table, row, col); got != w {
				t.Errorf("row %s column %s: %q, want %q", id, col, got, w)
			}
		}
	}
	for i, v := range streamed["2"][1:] {
		if v.State != change.Null && table.Columns[i+1].Name != "biu" {
			t.Errorf("row 2 column %s: %v, want NULL", table.Columns[i+1].Name, v)
		}
	}
	if got := value(table, streamed["4"], "l1"); got != "x€\u0081\u008d\u008f\u0090\u009džÿ\u00a0" {
		t.Errorf("latin1 bytes 0x80-0xff: %q", got)
	}
	if got := value(table, streamed["4"], "vc"); got != `a'b"c\d` {
		t.Errorf("quotes: %q", got)
	}
	if got := value(table, streamed["1u"], "i"); got != "7" || value(table, streamed["1u"], "vc") != "NULL" {
		t.Errorf("update: new row %v", streamed["1u"])
	}

	// The snapshot must see exactly the same shape and value texts.
	snapRows, snapTable := readSnapshot(t, src)
	if !reflect.DeepEqual(snapTable.Columns, table.Columns) || !slices.Equal(snapTable.Key, table.Key) ||
		snapTable.Identity != table.Identity || snapTable.Dialect != table.Dialect || snapTable.ID != table.ID {
		for i := range table.Columns {
			if i < len(snapTable.Columns) && !reflect.DeepEqual(table.Columns[i], snapTable.Columns[i]) {
				t.Errorf("column %d: binlog %+v, snapshot %+v", i, table.Columns[i], snapTable.Columns[i])
			}
		}
		t.Fatalf("snapshot shape differs from the binlog's:\n%+v\n%+v", snapTable, table)
	}
	streamed["1"] = streamed["1u"]
	delete(streamed, "2")
	delete(streamed, "1u")
	if len(snapRows) != len(streamed) {
		t.Fatalf("snapshot has %d rows, want %d", len(snapRows), len(streamed))
	}
	for id, want := range streamed {
		got := snapRows[id]
		for i := range want {
			if got[i].State != want[i].State || !bytes.Equal(got[i].Data, want[i].Data) {
				t.Errorf("row %s column %s: snapshot %q (%d), binlog %q (%d)", id, table.Columns[i].Name, got[i].Data, got[i].State, want[i].Data, want[i].State)
			}
		}
	}
}

// readSnapshot copies d.types with a snapshot.
func readSnapshot(t *testing.T, src *Source) (map[string]change.Row, *change.Table) {
	t.Helper()
	ctx := context.Background()
	snap, err := src.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer snap.Close()
	if len(snap.Tables()) != 1 {
		t.Fatalf("snapshot tables %v", snap.Tables())
	}
	chunks, err := snap.Chunks(ctx)
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string]change.Row{}
	for _, c := range chunks {
		err := snap.Read(ctx, c, func(r change.Row) error {
			rows[r[0].String()] = cloneRow(r)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return rows, snap.Tables()[0]
}

// TestTypeText checks the type texts of descriptions not in the table above.
func TestTypeText(t *testing.T) {
	for _, tc := range []struct {
		c    colDesc
		want string
	}{
		{colDesc{kind: kDecimal, prec: 10, scale: 0, unsigned: true}, "decimal(10,0) unsigned"},
		{colDesc{kind: kDouble, unsigned: true}, "double unsigned"},
		{colDesc{kind: kTime, fsp: 6}, "time(6)"},
		{colDesc{kind: kBlob, blobSize: 4, charset: "binary"}, "longblob"},
		{colDesc{kind: kSet, labels: []string{"a\nb", "c\x00", "d\r"}}, `set('a\nb','c\0','d\r')`},
		{colDesc{kind: kJSON}, "json"},
		{colDesc{kind: kGeometry, geom: "geometry"}, "geometry"},
	} {
		if got := tc.c.typeText(); got != tc.want {
			t.Errorf("%+v: %q, want %q", tc.c, got, tc.want)
		}
		if tc.c.kind == kSet {
			got, err := parseLabels(tc.want)
			if err != nil || !slices.Equal(got, tc.c.labels) {
				t.Errorf("parseLabels(%q) = %q, %v", tc.want, got, err)
			}
		}
	}
}

// binlogEventTypes lists the event types of the first binlog.
func binlogEventTypes(t *testing.T, srv *mytest.Server) string {
	rows, err := srv.DB().Query("SHOW BINLOG EVENTS")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	seen := map[string]bool{}
	for rows.Next() {
		var name, typ, pos, server, end, info any
		if err := rows.Scan(&name, &pos, &typ, &server, &end, &info); err != nil {
			t.Fatal(err)
		}
		seen[strings.ToLower(fmt.Sprintf("%s", typ))] = true
	}
	var out []string
	for k := range seen {
		out = append(out, k)
	}
	slices.Sort(out)
	return strings.Join(out, ",")
}
