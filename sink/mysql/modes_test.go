package mysql

import (
	"context"
	"database/sql"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sluicecdc/sluice/internal/modetest"
	"github.com/sluicecdc/sluice/pkg/change"
	"github.com/sluicecdc/sluice/pkg/pipeline"
	"github.com/sluicecdc/sluice/sink/mode"
)

var modeItems = table("src", "items", []int{0}, "id", "int!", "v", "varchar(100)")

func itemRow(id string, v *change.Value) change.Row { return change.Row{change.Text(id), *v} }

var metadata = mode.Options{SourceCode: modetest.Source, SourceCodeColumn: "_source", PositionColumn: "_source_position",
	CommitTimeColumn: "_source_commit_time", SyncedAtColumn: "_synced_at"}

func modeSink(t *testing.T, db string, o mode.Options) *Sink {
	t.Helper()
	return newSink(t, shared, Options{Pipeline: db, Schema: db, Mode: o})
}

// load copies initial through the snapshot path.
func load(t *testing.T, s *Sink, tbl *change.Table, initial map[int]string) {
	t.Helper()
	ctx := context.Background()
	must(t, s.PrepareSnapshot(ctx, []*change.Table{tbl}))
	must(t, s.Load(ctx, tbl, func(yield func(change.Row) error) error {
		for _, id := range slices.Sorted(maps.Keys(initial)) {
			v := change.Text(initial[id])
			if err := yield(itemRow(strconv.Itoa(id), &v)); err != nil {
				return err
			}
		}
		return nil
	}))
}

// applyTxns applies txns in batches of n, one target transaction each.
func applyTxns(t *testing.T, s *Sink, tbl *change.Table, txns []modetest.Txn, n int) {
	t.Helper()
	for len(txns) > 0 {
		k := min(n, len(txns))
		var batch []*change.Txn
		for _, tx := range txns[:k] {
			batch = append(batch, tx.Build(tbl, itemRow))
		}
		apply(t, s, batch...)
		txns = txns[k:]
	}
}

// modeRows renders the target's rows as modetest does. Timestamps at or
// after since are the snapshot's: SNAP.
func modeRows(t *testing.T, db *sql.DB, since time.Time, table string, exprs []string, order string) []string {
	t.Helper()
	for i, e := range exprs {
		if col, ok := strings.CutPrefix(e, "ts:"); ok {
			exprs[i] = fmt.Sprintf("CASE WHEN %s >= '%s' THEN 'SNAP' ELSE DATE_FORMAT(%s, '%%Y-%%m-%%d %%H:%%i:%%s') END",
				col, since.UTC().Format("2006-01-02 15:04:05.000000"), col)
		}
	}
	var out []string
	for _, r := range rows(t, db, fmt.Sprintf("SELECT %s FROM %s ORDER BY %s", strings.Join(exprs, ", "), table, order)) {
		for i, v := range r {
			switch v {
			case "NULL":
				r[i] = "∅"
			default:
				r[i] = modetest.NormalizeJSON(v)
			}
		}
		out = append(out, strings.Join(r, "|"))
	}
	return out
}

func sameRows(t *testing.T, got, want []string) {
	t.Helper()
	if slices.Equal(got, want) {
		return
	}
	for i := range max(len(got), len(want)) {
		g, w := "(none)", "(none)"
		if i < len(got) {
			g = got[i]
		}
		if i < len(want) {
			w = want[i]
		}
		if g != w {
			t.Fatalf("%d rows, want %d; first difference at row %d:\n got %s\nwant %s", len(got), len(want), i, g, w)
		}
	}
}

// TestModes runs the same random changes (after a snapshot) through every
// mode, then replays the last part of them on a fresh sink as after a
// crash (batches straddle what the target holds and what it does not), and
// compares each target with what modetest computes from the changes.
func TestModes(t *testing.T) {
	initial := map[int]string{1: "a", 2: "b", 3: "c", 4: "d"}
	txns := modetest.Generate(11, initial, 300)
	with := func(o mode.Options) mode.Options {
		m := metadata
		m.Mode, m.SoftDelete = o.Mode, o.SoftDelete
		return m
	}
	tests := []struct {
		name  string
		opts  mode.Options
		exprs []string
		order string
		want  []string
	}{
		{"merge", with(mode.Options{}), []string{"id", "v", "_source", "_source_position", "ts:_source_commit_time"}, "1",
			modetest.Merge(initial, txns, false)},
		{"soft", with(mode.Options{SoftDelete: "_deleted_at"}), []string{"id", "v", "ts:_deleted_at", "_source", "_source_position", "ts:_source_commit_time"}, "1",
			modetest.Merge(initial, txns, true)},
		{"history", with(mode.Options{Mode: mode.History}),
			[]string{"id", "v", "ts:_valid_from", "ts:_valid_to", "_current", "_op", "_source_position", "_change_index"}, "_seq",
			modetest.History(initial, txns)},
		{"append", with(mode.Options{Mode: mode.Append}),
			[]string{"_op", "ts:_commit_time", "_txid", "_source_position", "_change_index", "_before", "_after"}, "_seq",
			modetest.Append(initial, txns)},
	}
	read := reader(t, shared)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := "modes_" + tt.name
			since := time.Now()
			s := modeSink(t, db, tt.opts)
			load(t, s, modeItems, initial)
			applyTxns(t, s, modeItems, txns[:200], 7)
			// A crash: a fresh sink gets transactions from 150 on again.
			applyTxns(t, modeSink(t, db, tt.opts), modeItems, txns[150:], 11)
			got := modeRows(t, read, since, db+".items", tt.exprs, tt.order)
			if tt.order == "1" {
				slices.Sort(got)
			}
			sameRows(t, got, tt.want)
			n := value(t, read, fmt.Sprintf("SELECT COUNT(*) FROM %s.items WHERE _synced_at < ? OR _synced_at > UTC_TIMESTAMP(6)", db),
				since.UTC().Format("2006-01-02 15:04:05.000000"))
			if n != "0" {
				t.Errorf("%s rows with a wrong _synced_at", n)
			}
		})
	}
}

// TestModesBulk: transactions large enough for LOAD DATA write the same
// history and audit rows, and a replay of them writes nothing twice.
func TestModesBulk(t *testing.T) {
	initial := map[int]string{}
	var txns []modetest.Txn
	for p := 1; p <= 3; p++ {
		tx := modetest.Txn{Pos: p, Sec: p}
		for i := range 2500 {
			id := (p-1)*1000 + i%1000 + 1
			switch {
			case p == 1:
				tx.Changes = append(tx.Changes, modetest.Change{Op: change.Insert, ID: i + 1, V: "x"})
			case i < 1000:
				tx.Changes = append(tx.Changes, modetest.Change{Op: change.Update, ID: id - 1000, V: fmt.Sprintf("p%d", p)})
			}
		}
		txns = append(txns, tx)
	}
	read := reader(t, shared)
	for _, o := range []mode.Options{{Mode: mode.History}, {Mode: mode.Append}} {
		db := "bulk_" + o.Mode.String()
		s := modeSink(t, db, o)
		applyTxns(t, s, modeItems, txns, 3)
		applyTxns(t, modeSink(t, db, o), modeItems, txns, 2)
		want := modetest.History(initial, txns)
		exprs := []string{"id", "v", "ts:_valid_from", "ts:_valid_to", "_current", "_op", "_source_position", "_change_index"}
		if o.Mode == mode.Append {
			want = modetest.Append(initial, txns)
			exprs = []string{"_op", "ts:_commit_time", "_txid", "_source_position", "_change_index", "_before", "_after"}
		}
		sameRows(t, modeRows(t, read, time.Now(), db+".items", exprs, "_seq"), want)
		if s.infileLoads == 0 && shared.DB() != nil && value(t, read, "SELECT @@local_infile") == "1" {
			t.Errorf("%s: no LOAD DATA ran", o.Mode)
		}
	}
}

// TestModeChecks: a table written in another mode, a history table for a
// keyless source table, a metadata column named like a source column, and
// a new snapshot over streamed history are all refused with the fix; the
// sinks that need commit positions are no PartSink.
func TestModeChecks(t *testing.T) {
	ctx := context.Background()
	history := mode.Options{Mode: mode.History}
	first := modetest.Txn{Pos: 1, Changes: []modetest.Change{{Op: change.Insert, ID: 1, V: "a"}}}
	applyTxns(t, modeSink(t, "checks", history), modeItems, []modetest.Txn{first}, 1)

	err := modeSink(t, "checks", mode.Options{}).Apply(ctx, first.Build(modeItems, itemRow))
	if err == nil || !strings.Contains(err.Error(), "target table checks.items was written in sink.mode history") {
		t.Errorf("merge into a history table: %v", err)
	}
	keyless := table("src", "nokey", nil, "id", "int", "v", "text")
	err = modeSink(t, "checks", history).Apply(ctx, first.Build(keyless, itemRow))
	if err == nil || !strings.Contains(err.Error(), "has no primary key") || !strings.Contains(err.Error(), "sink.mode append") {
		t.Errorf("history of a keyless table: %v", err)
	}
	clash := table("src", "items", []int{0}, "id", "int!", "_SOURCE", "text")
	err = modeSink(t, "checks2", metadata).Apply(ctx, first.Build(clash, itemRow))
	if err == nil || !strings.Contains(err.Error(), "sink.metadata.source_code.column: _source is also a column of source table src.items (_SOURCE)") {
		t.Errorf("metadata column clash: %v", err)
	}
	if err := modeSink(t, "checks", history).PrepareSnapshot(ctx, []*change.Table{modeItems}); err == nil ||
		!strings.Contains(err.Error(), "holds changes written in sink.mode history") {
		t.Errorf("snapshot over history: %v", err)
	}
	for _, o := range []mode.Options{history, {Mode: mode.Append}, {SoftDelete: "_deleted_at"}, {CommitTimeColumn: "_c"}} {
		if _, parts := modeSink(t, "checks3", o).ForPipeline().(pipeline.PartSink); parts {
			t.Errorf("%+v: the sink takes parts of running transactions", o)
		}
	}
	if _, parts := modeSink(t, "checks3", mode.Options{SourceCode: "x", SourceCodeColumn: "_s"}).ForPipeline().(pipeline.PartSink); !parts {
		t.Error("a plain merge sink takes no parts")
	}
}

// TestHistoryFromPostgres: PostgreSQL rows (converted to MySQL's types)
// whose large values the source did not resend take them from the
// previous version, across target transactions, also for bit and float
// columns read back from the target.
func TestHistoryFromPostgres(t *testing.T) {
	pg := &change.Table{ID: change.TableID{Schema: "public", Name: "docs"}, Key: []int{0}, Dialect: change.Postgres,
		Columns: []change.Column{{Name: "id", Type: "integer", NotNull: true}, {Name: "body", Type: "text"},
			{Name: "flags", Type: "bit(5)"}, {Name: "f", Type: "real"}, {Name: "n", Type: "integer"}}}
	s := modeSink(t, "pghist", mode.Options{Mode: mode.History})
	u := change.Value{State: change.Unchanged}
	txn := func(p int, op change.Op, after change.Row) *change.Txn {
		x := txnOf(p, change.Change{Op: op, Table: pg, After: after})
		x.Commit = modetest.Epoch.Add(time.Duration(p) * time.Second)
		return x
	}
	apply(t, s, txn(1, change.Insert, row("1", "big text", "10101", "3.1415927", "1")))
	apply(t, s, txn(2, change.Update, change.Row{change.Text("1"), u, u, u, change.Text("2")}))
	apply(t, s, txn(3, change.Update, change.Row{change.Text("1"), u, change.Text("00001"), u, change.Text("3")}),
		txn(4, change.Update, change.Row{change.Text("1"), u, u, u, change.Text("4")}))
	got := rows(t, reader(t, shared), "SELECT body, BIN(flags), f = CAST('3.1415927' AS FLOAT), n, _current FROM pghist.docs ORDER BY _seq")
	want(t, got, "[[big text 10101 1 1 0] [big text 10101 1 2 0] [big text 1 1 3 0] [big text 1 1 4 1]]")
}

// TestAppendUniqueKey: should a replay reach the table unfiltered, the
// unique index on position and change index still keeps every audit row
// single.
func TestAppendUniqueKey(t *testing.T) {
	txns := modetest.Generate(3, nil, 60)
	o := mode.Options{Mode: mode.Append}
	applyTxns(t, modeSink(t, "uniq", o), modeItems, txns, 10)
	s := modeSink(t, "uniq", o)
	s.core.Replay().New() // as if the target held none of them
	applyTxns(t, s, modeItems, txns, 10)
	got := modeRows(t, reader(t, shared), time.Now(), "uniq.items", []string{"_op", "ts:_commit_time", "_txid", "_source_position", "_change_index", "_before", "_after"}, "_seq")
	sameRows(t, got, modetest.Append(nil, txns))
}
