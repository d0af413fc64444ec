package postgres

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sluicecdc/sluice/internal/modetest"
	"github.com/sluicecdc/sluice/internal/pgtest"
	"github.com/sluicecdc/sluice/pkg/change"
	"github.com/sluicecdc/sluice/pkg/pipeline"
	"github.com/sluicecdc/sluice/sink/mode"
)

var modeItems = &change.Table{ID: change.TableID{Schema: "public", Name: "items"}, Key: []int{0},
	Columns: []change.Column{{Name: "id", Type: "integer", NotNull: true}, {Name: "v", Type: "text"}}}

func itemRow(id string, v *change.Value) change.Row { return change.Row{change.Text(id), *v} }

var metadata = mode.Options{SourceCode: modetest.Source, SourceCodeColumn: "_source", PositionColumn: "_source_position",
	CommitTimeColumn: "_source_commit_time", SyncedAtColumn: "_synced_at"}

func modeSink(t *testing.T, c *pgtest.Cluster, schema string, o mode.Options) *Sink {
	t.Helper()
	s, err := New(context.Background(), Options{DSN: c.DSN("postgres"), Pipeline: schema, Schema: schema, Mode: o})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// load copies initial through the snapshot path.
func load(t *testing.T, s *Sink, initial map[int]string) {
	t.Helper()
	ctx := context.Background()
	if err := s.PrepareSnapshot(ctx, []*change.Table{modeItems}); err != nil {
		t.Fatal(err)
	}
	err := s.Load(ctx, modeItems, func(yield func(change.Row) error) error {
		for _, id := range slices.Sorted(maps.Keys(initial)) {
			v := change.Text(initial[id])
			if err := yield(itemRow(strconv.Itoa(id), &v)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// applyTxns applies txns in batches of n, one target transaction each.
func applyTxns(t *testing.T, s *Sink, txns []modetest.Txn, n int) {
	t.Helper()
	for len(txns) > 0 {
		k := min(n, len(txns))
		var batch []*change.Txn
		for _, tx := range txns[:k] {
			batch = append(batch, tx.Build(modeItems, itemRow))
		}
		apply(t, s, batch...)
		txns = txns[k:]
	}
}

// modeRows renders the target's rows as modetest does. Timestamps at or
// after since are the snapshot's: SNAP.
func modeRows(t *testing.T, c *pgtest.Cluster, since time.Time, table string, exprs []string, order string) []string {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, c.DSN("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	for i, e := range exprs {
		if strings.HasPrefix(e, "ts:") {
			col := e[3:]
			exprs[i] = fmt.Sprintf("CASE WHEN %s >= '%s' THEN 'SNAP' ELSE to_char(%s AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') END",
				col, since.UTC().Format(time.RFC3339Nano), col)
		} else {
			exprs[i] += "::text"
		}
	}
	rows, err := conn.Query(ctx, fmt.Sprintf("SELECT %s FROM %s ORDER BY %s", strings.Join(exprs, ", "), table, order))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for rows.Next() {
		vals := rows.RawValues()
		var f []string
		for _, v := range vals {
			if v == nil {
				f = append(f, "∅")
			} else {
				f = append(f, modetest.NormalizeJSON(string(v)))
			}
		}
		out = append(out, strings.Join(f, "|"))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
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
	c := pgtest.Start(t, pgtest.Options{})
	initial := map[int]string{1: "a", 2: "b", 3: "c", 4: "d"}
	txns := modetest.Generate(7, initial, 300)
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
			[]string{"id", "v", "ts:_valid_from", "ts:_valid_to", "_current::int", "_op", "_source_position", "_change_index"}, "_seq",
			modetest.History(initial, txns)},
		{"append", with(mode.Options{Mode: mode.Append}),
			[]string{"_op", "ts:_commit_time", "_txid", "_source_position", "_change_index", "_before", "_after"}, "_seq",
			modetest.Append(initial, txns)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			since := time.Now()
			s := modeSink(t, c, tt.name, tt.opts)
			load(t, s, initial)
			applyTxns(t, s, txns[:200], 7)
			// A crash: a fresh sink gets transactions from 150 on again.
			applyTxns(t, modeSink(t, c, tt.name, tt.opts), txns[150:], 11)
			got := modeRows(t, c, since, tt.name+".items", tt.exprs, tt.order)
			if tt.order == "1" {
				slices.Sort(got)
			}
			sameRows(t, got, tt.want)
			ctx := context.Background()
			n, err := c.QueryValue(ctx, "postgres", fmt.Sprintf(`SELECT count(*) FROM %s.items WHERE _synced_at IS NULL OR _synced_at < '%s' OR _synced_at > now()`,
				tt.name, since.UTC().Format(time.RFC3339Nano)))
			if err != nil || n != "0" {
				t.Errorf("%s rows with a wrong _synced_at (%v)", n, err)
			}
		})
	}
}

// TestModeChecks: a table written in another mode, a history table for a
// keyless source table, a metadata column named like a source column, and
// a new snapshot over streamed history are all refused with the fix; the
// sinks that need commit positions are no PartSink.
func TestModeChecks(t *testing.T) {
	c := pgtest.Start(t, pgtest.Options{})
	ctx := context.Background()
	history := mode.Options{Mode: mode.History}
	first := modetest.Txn{Pos: 1, Changes: []modetest.Change{{Op: change.Insert, ID: 1, V: "a"}}}
	applyTxns(t, modeSink(t, c, "h", history), []modetest.Txn{first}, 1)

	err := modeSink(t, c, "h", mode.Options{}).Apply(ctx, first.Build(modeItems, itemRow))
	if err == nil || !strings.Contains(err.Error(), "target table h.items was written in sink.mode history") {
		t.Errorf("merge into a history table: %v", err)
	}
	keyless := &change.Table{ID: change.TableID{Schema: "public", Name: "nokey"}, Columns: modeItems.Columns}
	err = modeSink(t, c, "h", history).Apply(ctx, modetest.Txn{Pos: 2}.Build(keyless, itemRow))
	if txn := (modetest.Txn{Pos: 2, Changes: first.Changes}).Build(keyless, itemRow); err == nil {
		err = modeSink(t, c, "h", history).Apply(ctx, txn)
	}
	if err == nil || !strings.Contains(err.Error(), "has no primary key") || !strings.Contains(err.Error(), "sink.mode append") {
		t.Errorf("history of a keyless table: %v", err)
	}
	clash := &change.Table{ID: modeItems.ID, Key: []int{0}, Columns: []change.Column{{Name: "id", Type: "integer"}, {Name: "_source", Type: "text"}}}
	err = modeSink(t, c, "m", metadata).Apply(ctx, first.Build(clash, itemRow))
	if err == nil || !strings.Contains(err.Error(), "sink.metadata.source_code.column: _source is also a column of source table public.items") {
		t.Errorf("metadata column clash: %v", err)
	}
	if err := modeSink(t, c, "h", history).PrepareSnapshot(ctx, []*change.Table{modeItems}); err == nil ||
		!strings.Contains(err.Error(), "holds changes written in sink.mode history") {
		t.Errorf("snapshot over history: %v", err)
	}
	for _, o := range []mode.Options{history, {Mode: mode.Append}, {SoftDelete: "_deleted_at"}, {PositionColumn: "_p"}} {
		if _, parts := modeSink(t, c, "x", o).ForPipeline().(pipeline.PartSink); parts {
			t.Errorf("%+v: the sink takes parts of running transactions", o)
		}
	}
	if _, parts := modeSink(t, c, "x", mode.Options{SyncedAtColumn: "_synced_at"}).ForPipeline().(pipeline.PartSink); !parts {
		t.Error("a plain merge sink takes no parts")
	}
}

// TestSoftDeleteKeyless: in a table without a key (identity FULL), a delete
// marks one live matching row, an update changes one live row, and deleted
// rows are never matched again.
func TestSoftDeleteKeyless(t *testing.T) {
	c := pgtest.Start(t, pgtest.Options{})
	tbl := &change.Table{ID: change.TableID{Schema: "public", Name: "notes"}, Identity: change.IdentityFull,
		Columns: []change.Column{{Name: "n", Type: "integer"}, {Name: "body", Type: "text"}}}
	s := modeSink(t, c, "k", mode.Options{SoftDelete: "_deleted_at"})
	row := func(n, body string) change.Row { return change.Row{change.Text(n), change.Text(body)} }
	txn := func(p int, changes ...change.Change) *change.Txn {
		x := change.NewTxn("", 0)
		for _, ch := range changes {
			ch.Table = tbl
			x.Add(ch)
		}
		x.Position, x.Commit = modetest.Pos(p), modetest.Epoch.Add(time.Duration(p)*time.Second)
		return x
	}
	apply(t, s, txn(1, change.Change{Op: change.Insert, After: row("1", "dup")}, change.Change{Op: change.Insert, After: row("1", "dup")}))
	apply(t, s, txn(2, change.Change{Op: change.Delete, Before: row("1", "dup")}))
	apply(t, s, txn(3, change.Change{Op: change.Update, Before: row("1", "dup"), After: row("1", "new")}))
	err := s.Apply(context.Background(), txn(4, change.Change{Op: change.Delete, Before: row("1", "dup")}))
	if err == nil {
		err = s.Flush(context.Background())
	}
	if err == nil || !strings.Contains(err.Error(), "no live target row matches") {
		t.Fatalf("a third delete of two rows: %v", err)
	}
	got := modeRows(t, c, time.Now(), "k.notes", []string{"n", "body", "ts:_deleted_at"}, "3, 2")
	sameRows(t, got, []string{"1|dup|2024-01-01 00:00:02", "1|new|∅"})
}

// TestAppendUniqueKey: should a replay reach the table unfiltered, the
// unique index on position and change index still keeps every audit row
// single, through the COPY path (large sets) and the VALUES path (small).
func TestAppendUniqueKey(t *testing.T) {
	c := pgtest.Start(t, pgtest.Options{})
	txns := modetest.Generate(3, nil, 60)
	o := mode.Options{Mode: mode.Append}
	applyTxns(t, modeSink(t, c, "u", o), txns, 10)
	s := modeSink(t, c, "u", o)
	s.core.Replay().New() // as if the target held none of them
	applyTxns(t, s, txns, 10)
	applyTxns(t, s, txns[:3], 1)
	got := modeRows(t, c, time.Now(), "u.items", []string{"_op", "ts:_commit_time", "_txid", "_source_position", "_change_index", "_before", "_after"}, "_seq")
	sameRows(t, got, modetest.Append(nil, txns))
}
