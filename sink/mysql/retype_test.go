package mysql

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sluicecdc/sluice/pkg/change"
	"github.com/sluicecdc/sluice/sink/mode"
	"github.com/sluicecdc/sluice/sink/schemachange"
)

// TestFollowTypesAndRenames: in every mode, a widened source column is
// widened in the target (keeping its nullability and collation) before
// the change that needs it, a rename renames the target column with its
// data, and a narrowing under follow stops with the statement.
func TestFollowTypesAndRenames(t *testing.T) {
	ctx := context.Background()
	db := reader(t, shared)
	for _, m := range []mode.Mode{mode.Merge, mode.History, mode.Append} {
		t.Run(m.String(), func(t *testing.T) {
			schema := "retype_" + m.String()
			s := newSink(t, shared, Options{Mode: mode.Options{Mode: m}})
			at := func(p int, cs ...change.Change) *change.Txn {
				txn := txnOf(p, cs...)
				txn.ID, txn.Commit = fmt.Sprint(p), time.Date(2026, 1, 1, 0, 0, p, 0, time.UTC)
				return txn
			}
			def := func(col string) string {
				return value(t, db, "SELECT COALESCE(MAX(CONCAT(COLUMN_TYPE, ' ', IS_NULLABLE, ' ', COALESCE(COLLATION_NAME, '-'))), 'none') FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = 'w' AND COLUMN_NAME = ?", schema, col)
			}
			v1 := table(schema, "w", []int{0}, "id", "int!", "n", "int!", "s", "varchar(5)")
			v2 := table(schema, "w", []int{0}, "id", "int!", "n", "bigint!", "s", "varchar(20)")
			v3 := table(schema, "w", []int{0}, "id", "int!", "m", "bigint!", "s", "varchar(20)")
			apply(t, s, at(1, ins(v1, "1", "1", "short")))
			apply(t, s, at(2, ins(v2, "2", "5000000000", "a longer value")))
			apply(t, s, at(3, change.NewRename(v2, []change.ColumnRename{{From: "n", To: "m"}})), at(4, ins(v3, "3", "-5000000000", "x")))
			if m == mode.Append {
				if def("n") != "none" || value(t, db, "SELECT COUNT(*) FROM "+schema+".w") != "3" {
					t.Errorf("append table: n %s", def("n"))
				}
				return
			}
			nn := "NO"
			if m == mode.History {
				nn = "YES" // history columns are nullable
			}
			if got, want := def("m")+"|"+def("n")+"|"+def("s"), "bigint(20) "+nn+" -|none|varchar(20) YES "+s.srv.collation; got != want {
				t.Errorf("target columns m, n, s: %s, want %s", got, want)
			}
			if got := value(t, db, "SELECT GROUP_CONCAT(id, '=', m ORDER BY id) FROM "+schema+".w"); got != "1=1,2=5000000000,3=-5000000000" {
				t.Errorf("values: %s", got)
			}
			// A narrowing stops, also when it comes with a rename (CHANGE m k int).
			// The transactions before it are committed first (not flushed
			// here), so a restart resumes at the narrowing.
			v3k := table(schema, "w", []int{0}, "id", "int!", "k", "bigint!", "s", "varchar(20)")
			v4 := table(schema, "w", []int{0}, "id", "int!", "k", "int!", "s", "varchar(20)")
			for _, txn := range []*change.Txn{at(5, change.NewRename(v3, []change.ColumnRename{{From: "m", To: "k"}})), at(6, ins(v3k, "5", "5", "z"))} {
				if err := s.Apply(ctx, txn); err != nil {
					t.Fatal(err)
				}
			}
			err := s.Apply(ctx, at(7, ins(v4, "4", "4", "y")))
			if err == nil {
				err = s.Flush(ctx)
			}
			if !errors.Is(err, schemachange.ErrTypeChange) || !strings.Contains(err.Error(), fmt.Sprintf("ALTER TABLE `%s`.`w` MODIFY COLUMN `k` int", schema)) {
				t.Errorf("narrowing: %v", err)
			}
			if pos := value(t, db, "SELECT position FROM sluice.positions WHERE pipeline = ?", t.Name()); pos != "6" {
				t.Errorf("applied position %s, want 6 (the transaction before the narrowing)", pos)
			}
		})
	}
}
