package postgres

import (
	"testing"
	"time"

	"github.com/sluicecdc/sluice/pkg/change"
)

func TestParseXidSnapshot(t *testing.T) {
	sn, err := parseXidSnapshot("100:105:100,102")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		xid  uint32
		want bool
	}{
		{99, true},    // before xmin: finished
		{100, false},  // running
		{101, true},   // finished between xmin and xmax
		{102, false},  // running
		{104, true},   // finished
		{105, false},  // xmax and later: not yet started
		{1000, false}, // far later
	}
	for _, c := range cases {
		if got := sn.visible(c.xid); got != c.want {
			t.Errorf("visible(%d) = %v, want %v", c.xid, got, c.want)
		}
	}
	for _, bad := range []string{"", "1:2", "a:2:", "1:b:", "1:2:x"} {
		if _, err := parseXidSnapshot(bad); err == nil {
			t.Errorf("parseXidSnapshot(%q): no error", bad)
		}
	}
	// 64-bit ids with an epoch: the low 32 bits are compared modulo 2^32.
	sn, err = parseXidSnapshot("4294967300:4294967310:")
	if err != nil {
		t.Fatal(err)
	}
	if !sn.visible(3) || sn.visible(14) || !sn.visible(0xFFFFFFF0) {
		t.Errorf("wraparound: visible(3)=%v visible(14)=%v visible(0xFFFFFFF0)=%v", sn.visible(3), sn.visible(14), sn.visible(0xFFFFFFF0))
	}
}

func testTable() *change.Table {
	return &change.Table{ID: change.TableID{Schema: "public", Name: "t"},
		Columns: []change.Column{{Name: "a"}, {Name: "b"}, {Name: "v"}}, Key: []int{0, 1}}
}

func row(vals ...string) change.Row {
	r := make(change.Row, len(vals))
	for i, v := range vals {
		if v == "NULL" {
			r[i] = change.NullValue
			continue
		}
		r[i] = change.Text(v)
	}
	return r
}

func TestKeyTextRoundTrip(t *testing.T) {
	tb := testTable()
	for _, r := range []change.Row{row("1", "x", "v"), row("", "", "v"), row("1\x00", "2", "v"), row("NULL", "3", "v")} {
		k := change.KeyText(tb, r)
		back := keyFromText(tb, k)
		if change.KeyText(tb, back) != k {
			t.Errorf("round trip of %v: got %v", r, back)
		}
		if back[2].State != change.Missing {
			t.Errorf("non-key column set: %v", back)
		}
	}
	if change.KeyText(tb, row("1", "23", "")) == change.KeyText(tb, row("12", "3", "")) {
		t.Error("keys (1,23) and (12,3) encode alike")
	}
	if change.KeyText(tb, row("NULL", "1", "")) == change.KeyText(tb, row("", "1", "")) {
		t.Error("NULL and '' encode alike")
	}
}

// delivered is a committed transaction as the stream delivers it.
func deliver(tr *tracker, xid uint32, changes ...change.Change) {
	tr.delivered(xid, func() txnKeys {
		k := txnKeys{}
		for i := range changes {
			k.add(&changes[i])
		}
		return k
	}, false)
}

func TestTrackerStale(t *testing.T) {
	tb := testTable()
	other := &change.Table{ID: change.TableID{Schema: "public", Name: "o"}, Columns: tb.Columns, Key: tb.Key}
	tr := newTracker()
	deliver(tr, 90, change.Change{Op: change.Insert, Table: tb, After: row("0", "0", "old")}) // before the window: not recorded
	w := tr.open(tb.ID)
	// The chunk's snapshot: 100 running, 101 finished, 105 and later not started.
	sn, _ := parseXidSnapshot("100:105:100")
	deliver(tr, 101, change.Change{Op: change.Update, Table: tb, Before: row("1", "1", ""), After: row("1", "1", "seen")})
	deliver(tr, 100, change.Change{Op: change.Delete, Table: tb, Before: row("2", "2", "")})
	deliver(tr, 106, change.Change{Op: change.Update, Table: tb, Before: row("3", "3", ""), After: row("4", "4", "moved")})
	deliver(tr, 107, change.Change{Op: change.Insert, Table: other, After: row("5", "5", "other table")})
	st := tr.stale(w, sn)
	tr.close(w)
	if st.retry || st.all {
		t.Fatalf("retry=%v all=%v, want neither", st.retry, st.all)
	}
	want := map[string]bool{change.KeyText(tb, row("2", "2", "")): true, change.KeyText(tb, row("3", "3", "")): true, change.KeyText(tb, row("4", "4", "")): true}
	if len(st.keys) != len(want) {
		t.Errorf("stale keys = %d, want %d (the delete by 100, both keys of the update by 106)", len(st.keys), len(want))
	}
	for k := range want {
		if !st.keys[k] {
			t.Errorf("key %v not stale", keyFromText(tb, k))
		}
	}
	if st.keys[change.KeyText(tb, row("1", "1", ""))] {
		t.Error("a change the snapshot sees marked its key stale")
	}
	if len(tr.windows) != 0 {
		t.Error("window still open")
	}
}

func TestTrackerTruncateAndUnsure(t *testing.T) {
	tb := testTable()
	tr := newTracker()
	sn, _ := parseXidSnapshot("10:10:")
	w := tr.open(tb.ID)
	deliver(tr, 10, change.Change{Op: change.Truncate, Table: tb})
	if st := tr.stale(w, sn); !st.all || st.retry {
		t.Errorf("truncate the snapshot misses: all=%v retry=%v, want all", st.all, st.retry)
	}
	tr.close(w)

	w = tr.open(tb.ID)
	tr.delivered(11, func() txnKeys { t.Error("keys of an unsure transaction computed"); return nil }, true)
	if st := tr.stale(w, sn); !st.retry {
		t.Error("an unsure transaction the snapshot misses does not make the chunk read again")
	}
	sn2, _ := parseXidSnapshot("12:12:")
	if st := tr.stale(w, sn2); st.retry || st.all || len(st.keys) != 0 {
		t.Errorf("an unsure transaction the snapshot sees: %+v, want nothing stale", st)
	}
	tr.close(w)
	tr.delivered(12, func() txnKeys { t.Error("keys computed with no window open"); return nil }, false)
}

// A transaction the stream delivered before the window opened but which
// the chunk's snapshot still sees running (a backend waiting for a
// synchronous standby after its commit record) cannot be judged.
func TestTrackerCommittedButRunning(t *testing.T) {
	tb := testTable()
	tr := newTracker()
	deliver(tr, 50, change.Change{Op: change.Insert, Table: tb, After: row("1", "1", "x")})
	w := tr.open(tb.ID)
	sn, _ := parseXidSnapshot("50:51:50")
	if st := tr.stale(w, sn); !st.retry {
		t.Error("a delivered transaction still running in the snapshot does not make the chunk read again")
	}
	sn, _ = parseXidSnapshot("51:51:")
	if st := tr.stale(w, sn); st.retry {
		t.Error("retry with every delivered transaction visible")
	}
}

func TestNextChunkSize(t *testing.T) {
	target := BackfillTargetTime
	cases := []struct {
		size, got int
		took      time.Duration
		want      int
	}{
		{1000, 1000, target, 1000},
		{1000, 1000, target / 10, 2000}, // at most doubled
		{1000, 1000, target * 10, 500},  // at most halved
		{1000, 1000, target / 2, 2000},
		{1000, 10, target * 10, 1000}, // a short last chunk says nothing
		{300, 300, target * 10, minChunkRows},
		{maxChunkRows, maxChunkRows, target / 10, maxChunkRows},
	}
	for _, c := range cases {
		if got := nextChunkSize(c.size, c.got, c.took); got != c.want {
			t.Errorf("nextChunkSize(%d, %d, %v) = %d, want %d", c.size, c.got, c.took, got, c.want)
		}
	}
}
