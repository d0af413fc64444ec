package mode

import (
	"strings"
	"testing"
	"time"

	"github.com/sluicecdc/sluice/pkg/change"
)

func r(vals ...string) change.Row {
	row := make(change.Row, len(vals))
	for i, v := range vals {
		switch v {
		case "-":
			row[i] = change.Value{State: change.Unchanged}
		case "?":
			row[i] = change.Value{State: change.Missing}
		case "NULL":
			row[i] = change.NullValue
		default:
			row[i] = change.Text(v)
		}
	}
	return row
}

func at(sec int) time.Time { return time.Date(2024, 1, 1, 0, 0, sec, 0, time.UTC) }

// TestHistorySteps: versions chain within a step, the target's current
// versions are closed once per key, deletes leave a closed record, key
// changes close the old key, truncates split the steps, and values the
// source did not send come from the version before.
func TestHistorySteps(t *testing.T) {
	sh, err := (&Options{Mode: History}).Shape(items, types)
	if err != nil {
		t.Fatal(err)
	}
	l := sh.NewLog()
	add := func(op change.Op, pos string, idx, sec int, before, after change.Row) {
		t.Helper()
		if err := l.Add(&change.Change{Op: op, Table: items, Before: before, After: after}, Meta{Position: pos, Commit: at(sec), Index: idx}); err != nil {
			t.Fatal(err)
		}
	}
	add(change.Insert, "p1", 0, 1, nil, r("1", "a"))
	add(change.Update, "p1", 1, 1, nil, r("1", "b"))         // same key, same commit time
	add(change.Update, "p2", 0, 2, nil, r("2", "-"))         // key 2 lives in the target: unsent v comes from there
	add(change.Delete, "p3", 0, 3, r("3", "?"), nil)         // key-only old row
	add(change.Update, "p3", 1, 3, r("1", "?"), r("4", "-")) // key change 1 → 4
	add(change.Truncate, "p4", 0, 4, nil, nil)
	add(change.Insert, "p5", 0, 5, nil, r("1", "z"))

	if got := strings.Join(l.Positions(), " "); got != "p1 p2 p3 p4 p5" {
		t.Fatalf("positions %s", got)
	}
	steps := l.Steps()
	if len(steps) != 3 {
		t.Fatalf("%d steps, want 3", len(steps))
	}
	st := steps[0]
	var closes []string
	for _, c := range st.Closes {
		closes = append(closes, c.Key[0].String()+"@"+c.At.String()[17:19])
	}
	if got := strings.Join(closes, " "); got != "1@01 2@02 3@03 4@03" {
		t.Errorf("closes %s", got)
	}
	need := st.NeedCurrent()
	if len(need) != 2 || need[0][0].String() != "2" || need[1][0].String() != "3" {
		t.Fatalf("need current of %v", need)
	}
	st.Fill(map[string]change.Row{sh.KeyString(r("2", "x")): r("2", "x"), sh.KeyString(r("3", "c")): r("3", "c")})
	// columns: id v _valid_from _valid_to _current _op _source_position _change_index
	want := []string{
		"1 a 2024-01-01 00:00:01.000000 2024-01-01 00:00:01.000000 0 insert p1 0",
		"1 b 2024-01-01 00:00:01.000000 2024-01-01 00:00:03.000000 0 update p1 1",
		"2 x 2024-01-01 00:00:02.000000 NULL 1 update p2 0",
		"3 c 2024-01-01 00:00:03.000000 2024-01-01 00:00:03.000000 0 delete p3 0",
		"4 b 2024-01-01 00:00:03.000000 NULL 1 update p3 1",
	}
	checkRows(t, st.Rows, want)

	tr := steps[1]
	if tr.Truncate.String() != "2024-01-01 00:00:04.000000" || len(tr.Closes) != 0 {
		t.Errorf("truncate step %+v", tr)
	}
	checkRows(t, tr.Rows, []string{"NULL NULL 2024-01-01 00:00:04.000000 2024-01-01 00:00:04.000000 0 truncate p4 0"})
	checkRows(t, steps[2].Rows, []string{"1 z 2024-01-01 00:00:05.000000 NULL 1 insert p5 0"})

	// A replay: the target holds p1..p3, so only p4 and p5 are written.
	if n := l.Drop(map[string]bool{"p1": true, "p2": true, "p3": true}); n != 5 || l.Len() != 2 {
		t.Errorf("dropped %d, %d left", n, l.Len())
	}
}

func checkRows(t *testing.T, rows []change.Row, want []string) {
	t.Helper()
	if len(rows) != len(want) {
		t.Fatalf("%d rows, want %d", len(rows), len(want))
	}
	for i, row := range rows {
		if got := rowText(row); got != want[i] {
			t.Errorf("row %d:\n got %s\nwant %s", i, got, want[i])
		}
	}
}

func TestAuditRows(t *testing.T) {
	src := &change.Table{ID: items.ID, Dialect: change.MySQL, Columns: []change.Column{
		{Name: "id", Type: "int"}, {Name: "t\"x", Type: "varchar(10)"}, {Name: "b", Type: "varbinary(4)", Charset: "binary"}}}
	sh, err := (&Options{Mode: Append, SourceCode: "crm", SourceCodeColumn: "_src"}).Shape(src, types)
	if err != nil {
		t.Fatal(err)
	}
	m := Meta{Position: "p9", Commit: at(9), TxID: "0-1-7", Index: 2}
	row, err := sh.AuditRow(&change.Change{Op: change.Update, Table: src,
		Before: r("1", "?", "?"), After: change.Row{change.Text("1"), change.Text("a\n\"é\x01"), change.Value{State: change.Present, Data: []byte{0, 0xff}}}}, &m)
	if err != nil {
		t.Fatal(err)
	}
	want := `update 2024-01-01 00:00:09.000000 0-1-7 p9 2 {"id":"1"} {"id":"1","t\"x":"a\n\"é\u0001","b":"\\x00ff"} crm`
	if got := rowText(row); got != want {
		t.Errorf("audit row\n got %s\nwant %s", got, want)
	}
	del, _ := sh.AuditRow(&change.Change{Op: change.Delete, Table: src, Before: r("1", "NULL", "NULL")}, &m)
	if got := rowText(del); !strings.Contains(got, `{"id":"1","t\"x":null,"b":null} NULL`) {
		t.Errorf("delete row %s", got)
	}
	if _, err := sh.AuditRow(&change.Change{Op: change.Insert, Table: src, After: change.Row{change.Text("1"), {State: change.Present, Data: []byte{0xff}}, change.NullValue}}, &m); err == nil {
		t.Error("invalid UTF-8 in a text column went into JSON")
	}
	snap, err := sh.SnapshotRow(nil, r("2", "x", "NULL"), &Meta{Commit: at(1), Index: -1})
	if err != nil || rowText(snap) != `snapshot 2024-01-01 00:00:01.000000 NULL NULL NULL NULL {"id":"2","t\"x":"x","b":null} crm` {
		t.Errorf("snapshot row %s (%v)", rowText(snap), err)
	}
}
