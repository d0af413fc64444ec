package mysql

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/sluicecdc/sluice/pkg/change"
	"github.com/sluicecdc/sluice/sink/mode"
)

// longPos is a position whose text is 10,000 characters, like the GTID set
// of a cluster that had a few hundred servers over the years.
type longPos int

func (p longPos) String() string {
	var b strings.Builder
	for i := 0; b.Len() < 10000; i++ {
		// Server UUIDs are random: the text does not compress.
		u := sha256.Sum256(fmt.Appendf(nil, "%d/%d", p, i))
		fmt.Fprintf(&b, "%x-%x-%x-%x-%x:1-%d,", u[:4], u[4:6], u[6:8], u[8:10], u[10:16], 1000+i)
	}
	return b.String()[:10000]
}

func (p longPos) Compare(o change.Position) int { return int(p) - int(o.(longPos)) }

// TestLongPositions: positions of 10,000 characters are stored whole in
// sluice.positions, in merge mode's position column, and in history and
// append tables, whose unique key still finds a replayed transaction.
func TestLongPositions(t *testing.T) {
	read := reader(t, shared)
	items := table("src", "items", []int{0}, "id", "int!", "v", "varchar(100)")
	txn := func(p int, c change.Change) *change.Txn {
		t := change.NewTxn("", 0)
		t.Add(c)
		t.Position, t.Commit, t.ID = longPos(p), time.Unix(int64(p), 0), fmt.Sprint(p)
		return t
	}
	for _, o := range []mode.Options{
		{PositionColumn: "_source_position"},
		{Mode: mode.History},
		{Mode: mode.Append},
	} {
		db := "longpos_" + o.Mode.String()
		s := newSink(t, shared, Options{Schema: db, Pipeline: db, Mode: o})
		apply(t, s, txn(1, ins(items, "1", "a")), txn(2, upd(items, row("1", "a"), row("1", "b"))))
		if got := value(t, read, "SELECT position FROM sluice.positions WHERE pipeline = ?", db); got != longPos(2).String() {
			t.Errorf("%s: sluice.positions holds %d characters, want the position's 10000", db, len(got))
		}
		want := []string{longPos(2).String()}
		if o.Mode != mode.Merge {
			want = []string{longPos(1).String(), want[0]}
		}
		got := rows(t, read, "SELECT _source_position FROM "+db+".items ORDER BY 1")
		if len(got) != len(want) || got[0][0] != want[0] || got[len(got)-1][0] != want[len(want)-1] {
			t.Errorf("%s: %d rows of positions, want %d of 10000 characters", db, len(got), len(want))
		}
		// After a crash a new sink gets the last transaction again.
		apply(t, newSink(t, shared, Options{Schema: db, Pipeline: db, Mode: o}), txn(2, upd(items, row("1", "a"), row("1", "b"))))
		if n := value(t, read, "SELECT COUNT(*) FROM "+db+".items"); n != fmt.Sprint(len(want)) {
			t.Errorf("%s: %s rows after the replay, want %d", db, n, len(want))
		}
	}
}

// TestOldPositionTables: a history table made by an older Sluice (position
// varchar(3000), unique key on it) keeps working, replays included; the
// log says how to lift the limit, and after that fix a long position fits.
func TestOldPositionTables(t *testing.T) {
	read := reader(t, shared)
	items := table("src", "items", []int{0}, "id", "int!", "v", "varchar(100)")
	o := mode.Options{Mode: mode.History}
	first := func() *change.Txn { return commit(txnOf(1, ins(items, "1", "a")), 1) }
	apply(t, newSink(t, shared, Options{Schema: "oldpos", Mode: o}), first())
	for _, q := range []string{ // back to the old layout
		"ALTER TABLE oldpos.items DROP KEY sluice_change, DROP COLUMN _source_position_sha",
		"ALTER TABLE oldpos.items MODIFY _source_position varchar(3000) CHARACTER SET ascii COLLATE ascii_bin, ADD UNIQUE KEY sluice_change (_source_position, _change_index)",
	} {
		if _, err := read.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	var log bytes.Buffer
	s := newSink(t, shared, Options{Schema: "oldpos", Mode: o, Log: zerolog.New(&log)})
	apply(t, s, first(), commit(txnOf(2, upd(items, row("1", "a"), row("1", "b"))), 2)) // 1 is a replay
	if n := value(t, read, "SELECT COUNT(*) FROM oldpos.items"); n != "2" {
		t.Fatalf("%s versions, want 2", n)
	}
	var warning struct{ Message, Fix string }
	for _, line := range strings.Split(log.String(), "\n") {
		if strings.Contains(line, "varchar") {
			json.Unmarshal([]byte(line), &warning) //nolint:errcheck // checked below
		}
	}
	if !strings.Contains(warning.Fix, "ALTER TABLE `oldpos`.`items` MODIFY `_source_position` mediumtext") {
		t.Fatalf("no warning with the fix in the log:\n%s", log.String())
	}
	if _, err := read.Exec(warning.Fix); err != nil {
		t.Fatalf("the logged fix fails: %v", err)
	}
	s = newSink(t, shared, Options{Schema: "oldpos", Mode: o})
	long := change.NewTxn("", 0)
	long.Add(upd(items, row("1", "b"), row("1", "c")))
	long.Position, long.Commit, long.ID = longPos(3), time.Unix(3, 0), "3"
	apply(t, s, long)
	if n := value(t, read, "SELECT COUNT(*) FROM oldpos.items WHERE CHAR_LENGTH(_source_position) = 10000"); n != "1" {
		t.Fatalf("%s versions with the long position, want 1", n)
	}
}

// commit gives txn a commit time and id, as history mode needs.
func commit(txn *change.Txn, sec int64) *change.Txn {
	txn.Commit, txn.ID = time.Unix(sec, 0), fmt.Sprint(sec)
	return txn
}
