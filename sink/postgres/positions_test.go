package postgres

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/sluicecdc/sluice/internal/pgtest"
	"github.com/sluicecdc/sluice/pkg/change"
	"github.com/sluicecdc/sluice/sink/mode"
)

// longPos is a position whose text is 10,000 characters, like the GTID set
// of a MySQL cluster that had a few hundred servers over the years.
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

func longTxn(p int, c change.Change) *change.Txn {
	t := change.NewTxn("", 0)
	t.Add(c)
	t.Position, t.Commit, t.ID = longPos(p), time.Unix(int64(p), 0), fmt.Sprint(p)
	return t
}

func itemChange(op change.Op, id, before, after string) change.Change {
	c := change.Change{Op: op, Table: modeItems}
	if before != "" {
		c.Before = change.Row{change.Text(id), change.Text(before)}
	}
	if after != "" {
		c.After = change.Row{change.Text(id), change.Text(after)}
	}
	return c
}

// TestLongPositions: positions of 10,000 characters are stored whole in
// sluice.positions, in merge mode's position column, and in history and
// append tables, whose unique key still finds a replayed transaction.
func TestLongPositions(t *testing.T) {
	ctx := context.Background()
	c := pgtest.Start(t, pgtest.Options{})
	for _, o := range []mode.Options{{PositionColumn: "_source_position"}, {Mode: mode.History}, {Mode: mode.Append}} {
		schema := "longpos_" + o.Mode.String()
		apply(t, modeSink(t, c, schema, o),
			longTxn(1, itemChange(change.Insert, "1", "", "a")), longTxn(2, itemChange(change.Update, "1", "a", "b")))
		got, err := c.QueryValue(ctx, "postgres", "SELECT position FROM sluice.positions WHERE pipeline = '"+schema+"'")
		if err != nil || got != longPos(2).String() {
			t.Errorf("%s: sluice.positions holds %d characters (%v), want the position's 10000", schema, len(got), err)
		}
		want := 1
		if o.Mode != mode.Merge {
			want = 2
		}
		count := func() string {
			n, err := c.QueryValue(ctx, "postgres", "SELECT count(*) FILTER (WHERE length(_source_position) = 10000) || '/' || count(*) FROM "+schema+".items")
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
		if n := count(); n != fmt.Sprintf("%d/%d", want, want) {
			t.Errorf("%s: %s rows with the whole position, want %d", schema, n, want)
		}
		// After a crash a new sink gets the last transaction again.
		apply(t, modeSink(t, c, schema, o), longTxn(2, itemChange(change.Update, "1", "a", "b")))
		if n := count(); n != fmt.Sprintf("%d/%d", want, want) {
			t.Errorf("%s: %s rows after the replay, want %d", schema, n, want)
		}
	}
}

// TestOldPositionTables: a history table made by an older Sluice (unique
// key on the position itself) keeps working, replays included; the log says
// how to lift the limit, and after that fix a long position fits.
func TestOldPositionTables(t *testing.T) {
	ctx := context.Background()
	c := pgtest.Start(t, pgtest.Options{})
	o := mode.Options{Mode: mode.History}
	short := func(p int, ch change.Change) *change.Txn {
		txn := longTxn(p, ch)
		txn.Position = lsn(p)
		return txn
	}
	first := func() *change.Txn { return short(1, itemChange(change.Insert, "1", "", "a")) }
	apply(t, modeSink(t, c, "oldpos", o), first())
	if err := c.Exec(ctx, "postgres", `ALTER TABLE oldpos.items DROP COLUMN _source_position_sha, ADD UNIQUE (_source_position, _change_index)`); err != nil {
		t.Fatal(err)
	}
	var log bytes.Buffer
	s, err := New(ctx, Options{DSN: c.DSN("postgres"), Pipeline: "oldpos", Schema: "oldpos", Mode: o, Log: zerolog.New(&log)})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	apply(t, s, first(), short(2, itemChange(change.Update, "1", "a", "b"))) // 1 is a replay
	if n, err := c.QueryValue(ctx, "postgres", "SELECT count(*) FROM oldpos.items"); err != nil || n != "2" {
		t.Fatalf("%s versions (%v), want 2", n, err)
	}
	var warning struct{ Fix string }
	for _, line := range strings.Split(log.String(), "\n") {
		if strings.Contains(line, "older Sluice") {
			json.Unmarshal([]byte(line), &warning) //nolint:errcheck // checked below
		}
	}
	if !strings.Contains(warning.Fix, `ALTER TABLE "oldpos"."items" ADD COLUMN "_source_position_sha"`) || !strings.Contains(warning.Fix, "DROP CONSTRAINT") {
		t.Fatalf("no warning with the fix in the log:\n%s", log.String())
	}
	if err := c.Exec(ctx, "postgres", warning.Fix); err != nil {
		t.Fatalf("the logged fix fails: %v", err)
	}
	apply(t, modeSink(t, c, "oldpos", o), longTxn(3, itemChange(change.Update, "1", "b", "c")))
	if n, err := c.QueryValue(ctx, "postgres", "SELECT count(*) FROM oldpos.items WHERE length(_source_position) = 10000"); err != nil || n != "1" {
		t.Fatalf("%s versions with the long position (%v), want 1", n, err)
	}
}
