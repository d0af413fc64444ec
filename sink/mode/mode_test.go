package mode

import (
	"strings"
	"testing"
	"time"

	"github.com/sluicecdc/sluice/pkg/change"
)

func types(k Kind) string { return "t" }

var items = &change.Table{ID: change.TableID{Schema: "s", Name: "items"}, Key: []int{0},
	Columns: []change.Column{{Name: "id", Type: "int", NotNull: true}, {Name: "v", Type: "text", NotNull: true}}}

func names(cols []Column) string {
	var s []string
	for _, c := range cols {
		s = append(s, c.Name)
	}
	return strings.Join(s, " ")
}

func TestColumns(t *testing.T) {
	meta := Options{SourceCode: "crm", SourceCodeColumn: "_source", PositionColumn: "_source_position",
		CommitTimeColumn: "_source_commit_time", SyncedAtColumn: "_synced_at"}
	tests := []struct {
		name string
		o    Options
		want string
	}{
		{"merge plain", Options{}, ""},
		{"merge soft delete", Options{SoftDelete: "_deleted_at"}, "_deleted_at"},
		{"merge metadata", meta, "_source _source_position _source_commit_time _synced_at"},
		{"history", Options{Mode: History}, "_valid_from _valid_to _current _op _source_position _change_index _seq"},
		{"history metadata: the position column is the mode's", func() Options { o := meta; o.Mode = History; return o }(),
			"_valid_from _valid_to _current _op _source_position _change_index _seq _source _source_commit_time _synced_at"},
		{"append", Options{Mode: Append, CommitTimeColumn: "_commit_time"},
			"_seq _op _commit_time _txid _source_position _change_index _before _after"},
	}
	for _, tt := range tests {
		if got := names(tt.o.Columns()); got != tt.want {
			t.Errorf("%s: columns %q, want %q", tt.name, got, tt.want)
		}
		if p := tt.o.Validate(); len(p) > 0 {
			t.Errorf("%s: problems %v", tt.name, p)
		}
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		o    Options
		want string
	}{
		{Options{Mode: History, SoftDelete: "_deleted_at"}, "sink.soft_delete: only merge mode deletes rows; sink.mode history"},
		{Options{SourceCodeColumn: "_source"}, "sink.metadata.source_code.value: required"},
		{Options{SourceCode: strings.Repeat("x", 256), SourceCodeColumn: "_source"}, "at most 255 bytes"},
		{Options{PositionColumn: "bad name"}, `sink.metadata.position.column: "bad name" must be 1-63 letters`},
		{Options{PositionColumn: "_x", SyncedAtColumn: "_X"}, `sink.metadata.synced_at.column: "_X" is also the name of sink.metadata.position.column`},
		{Options{Mode: Append, SyncedAtColumn: "_op"}, `sink.metadata.synced_at.column: "_op" is a column sink.mode append adds itself`},
		{Options{Mode: History, CommitTimeColumn: "_valid_from"}, `"_valid_from" is a column sink.mode history adds itself`},
		{Options{SoftDelete: "_deleted_at", CommitTimeColumn: "_deleted_at"}, "is also the name of sink.soft_delete_column"},
	}
	for _, tt := range tests {
		p := tt.o.Validate()
		if len(p) != 1 || !strings.Contains(p[0], tt.want) {
			t.Errorf("%+v: problems %q, want one containing %q", tt.o, p, tt.want)
		}
	}
}

func TestShapeCollisions(t *testing.T) {
	src := &change.Table{ID: items.ID, Key: []int{0}, Columns: []change.Column{{Name: "id"}, {Name: "_Source"}}}
	o := Options{SourceCode: "crm", SourceCodeColumn: "_source"}
	_, err := o.Shape(src, types)
	if err == nil || !strings.Contains(err.Error(), "sink.metadata.source_code.column: _source is also a column of source table s.items (_Source)") {
		t.Errorf("collision: %v", err)
	}
	src.Columns[1].Name = "_op"
	o = Options{Mode: History}
	if _, err := o.Shape(src, types); err == nil || !strings.Contains(err.Error(), "source table s.items has a column _op, and sink.mode history adds a column _op itself") {
		t.Errorf("built-in collision: %v", err)
	}
	if _, err := (&Options{Mode: Append}).Shape(src, types); err != nil {
		t.Errorf("append tables hold no source columns, so no collision: %v", err)
	}
	keyless := &change.Table{ID: items.ID, Columns: []change.Column{{Name: "v"}}}
	if _, err := (&Options{Mode: History}).Shape(keyless, types); err == nil || !strings.Contains(err.Error(), "use sink.mode append") {
		t.Errorf("keyless history: %v", err)
	}
}

func TestMergeRows(t *testing.T) {
	o := Options{SoftDelete: "_deleted_at", SourceCode: "crm", SourceCodeColumn: "_source", PositionColumn: "_pos", SyncedAtColumn: "_synced_at"}
	sh, err := o.Shape(items, types)
	if err != nil {
		t.Fatal(err)
	}
	if got := len(sh.Table.Columns); got != 5 || sh.N != 2 || len(sh.Managed) != 1 {
		t.Fatalf("shape has %d value columns (N %d, managed %v)", got, sh.N, sh.Managed)
	}
	m := Meta{Position: "0/10", Commit: time.Date(2024, 1, 2, 3, 4, 5, 6000, time.UTC), Index: 3}
	c := sh.Merge(&change.Change{Op: change.Update, Table: items,
		Before: change.Row{change.Text("1"), change.Value{State: change.Missing}}, After: change.Row{change.Text("2"), change.Text("b")}}, &m)
	if got := rowText(c.Before); got != "1 <missing> 2024-01-02 03:04:05.000006 crm 0/10" {
		t.Errorf("old row %s", got)
	}
	if got := rowText(c.After); got != "2 b NULL crm 0/10" {
		t.Errorf("new row %s", got)
	}
	tr := sh.Merge(&change.Change{Op: change.Truncate, Table: items}, &m)
	if got := rowText(tr.After); got != "NULL NULL 2024-01-02 03:04:05.000006 crm 0/10" {
		t.Errorf("truncate row %s", got)
	}
	snap, err := sh.SnapshotRow(nil, change.Row{change.Text("1"), change.Text("a")}, &Meta{Commit: m.Commit, Index: -1})
	if err != nil || rowText(snap) != "1 a NULL crm NULL" {
		t.Errorf("snapshot row %s (%v)", rowText(snap), err)
	}
	if err := sh.CheckMeta(&Meta{Commit: m.Commit, Index: 0}); err == nil {
		t.Error("a change without a position passed")
	}
}

func rowText(r change.Row) string {
	var s []string
	for _, v := range r {
		s = append(s, v.String())
	}
	return strings.Join(s, " ")
}
