package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sluicecdc/sluice/internal/pgtest"
	"github.com/sluicecdc/sluice/pkg/change"
	"github.com/sluicecdc/sluice/sink/mode"
	"github.com/sluicecdc/sluice/sink/schemachange"
)

// shapeOf is public.<name>(id integer key, then cols as name/type pairs).
func shapeOf(name string, cols ...string) *change.Table {
	t := &change.Table{ID: change.TableID{Schema: "public", Name: name}, Key: []int{0},
		Columns: []change.Column{{Name: "id", Type: "integer", NotNull: true}}}
	for i := 0; i+1 < len(cols); i += 2 {
		t.Columns = append(t.Columns, change.Column{Name: cols[i], Type: cols[i+1]})
	}
	return t
}

func txnAt(p int, cs ...change.Change) *change.Txn {
	t := change.NewTxn("", 0)
	for _, c := range cs {
		t.Add(c)
	}
	t.Position, t.ID, t.Commit = lsn(p), fmt.Sprint(p), time.Date(2026, 1, 1, 0, 0, p, 0, time.UTC)
	return t
}

func insert(t *change.Table, vals ...string) change.Change {
	r := change.Row{}
	for _, v := range vals {
		r = append(r, change.Text(v))
	}
	return change.Change{Op: change.Insert, Table: t, After: r}
}

// TestFollowTypesAndRenames: in every mode, a widened source column is
// widened in the target before the change that needs it, a rename renames
// the target column with its data, and a narrowing under follow stops
// with the statement.
func TestFollowTypesAndRenames(t *testing.T) {
	ctx := context.Background()
	c := pgtest.Start(t, pgtest.Options{})
	for _, m := range []mode.Mode{mode.Merge, mode.History, mode.Append} {
		t.Run(m.String(), func(t *testing.T) {
			schema := "s_" + m.String()
			s := modeSink(t, c, schema, mode.Options{Mode: m})
			q := func(sql string) string {
				v, err := c.QueryValue(ctx, "postgres", strings.ReplaceAll(sql, "$s", schema))
				if err != nil {
					t.Fatalf("%s: %v", sql, err)
				}
				return v
			}
			typeOf := func(col string) string {
				return q(fmt.Sprintf("SELECT coalesce(format_type(atttypid, atttypmod), 'none') FROM (SELECT 1) x LEFT JOIN pg_attribute ON attrelid = '$s.w'::regclass AND attname = '%s' AND NOT attisdropped", col))
			}
			v1 := shapeOf("w", "n", "integer", "s", "character varying(5)")
			v2 := shapeOf("w", "n", "bigint", "s", "character varying(20)")
			apply(t, s, txnAt(1, insert(v1, "1", "1", "short")))
			apply(t, s, txnAt(2, insert(v2, "2", "5000000000", "a longer value")))
			v3 := shapeOf("w", "m", "bigint", "s", "character varying(20)")
			apply(t, s, txnAt(3, change.NewRename(v2, []change.ColumnRename{{From: "n", To: "m"}})), txnAt(4, insert(v3, "3", "-5000000000", "x")))
			if m == mode.Append {
				if typeOf("n") != "none" || typeOf("m") != "none" || q("SELECT count(*) FROM $s.w") != "3" {
					t.Errorf("append table: n %s, m %s, %s rows", typeOf("n"), typeOf("m"), q("SELECT count(*) FROM $s.w"))
				}
				return
			}
			if got := typeOf("m") + " " + typeOf("n") + " " + typeOf("s"); got != "bigint none character varying(20)" {
				t.Errorf("target columns m, n, s: %s", got)
			}
			if got := q("SELECT string_agg(id || '=' || m, ',' ORDER BY id) FROM $s.w"); got != "1=1,2=5000000000,3=-5000000000" {
				t.Errorf("values: %s", got)
			}
			// A narrowing seen in this run stops, naming the statement, also
			// when it comes with a rename (MySQL's CHANGE m k int).
			// The transactions before it are committed first (not flushed
			// here), so a restart resumes at the narrowing.
			v3k := shapeOf("w", "k", "bigint", "s", "character varying(20)")
			v4 := shapeOf("w", "k", "integer", "s", "character varying(20)")
			for _, txn := range []*change.Txn{txnAt(5, change.NewRename(v3, []change.ColumnRename{{From: "m", To: "k"}})), txnAt(6, insert(v3k, "5", "5", "z"))} {
				if err := s.Apply(ctx, txn); err != nil {
					t.Fatal(err)
				}
			}
			err := s.Apply(ctx, txnAt(7, insert(v4, "4", "4", "y")))
			if err == nil {
				err = s.Flush(ctx)
			}
			if !errors.Is(err, schemachange.ErrTypeChange) || !strings.Contains(err.Error(), fmt.Sprintf(`ALTER TABLE "%s"."w" ALTER COLUMN "k" TYPE integer`, schema)) {
				t.Errorf("narrowing: %v", err)
			}
			if pos := q("SELECT position FROM sluice.positions WHERE pipeline = '$s'"); pos != "6" {
				t.Errorf("applied position %s, want 6 (the transaction before the narrowing)", pos)
			}
		})
	}
}
