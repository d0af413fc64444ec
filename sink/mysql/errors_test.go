package mysql

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/go-sql-driver/mysql"

	"github.com/sluicecdc/sluice/pkg/change"
)

// TestErrorsHideValues: a value the target refuses (a unique index added by
// hand: "Duplicate entry '...'"; a column type changed by hand: "Incorrect
// integer value: '...'") and a row the target has drifted from are not
// quoted in the error unless LogValues; the table and the index or column
// are, and the error number stays in the chain.
func TestErrorsHideValues(t *testing.T) {
	const secret = "sk_live_51HxQ"
	ctx := context.Background()
	db := reader(t, shared)
	for _, show := range []bool{false, true} {
		name := fmt.Sprintf("hide_%v", show)
		check := func(what string, err error, number uint16, names ...string) {
			t.Helper()
			if err == nil {
				t.Fatalf("LogValues %v, %s: no error", show, what)
			}
			for _, n := range names {
				if !strings.Contains(err.Error(), n) {
					t.Errorf("LogValues %v, %s: %v does not name %s", show, what, err, n)
				}
			}
			if got := strings.Contains(err.Error(), secret); got != show {
				t.Errorf("LogValues %v, %s: the error quotes the value: %v\n%v", show, what, got, err)
			}
			var my *mysql.MySQLError
			if number != 0 && (!errors.As(err, &my) || my.Number != number) {
				t.Errorf("LogValues %v, %s: %v has lost its error number", show, what, err)
			}
		}
		applyErr := func(s *Sink, txn *change.Txn) error {
			err := s.Apply(ctx, txn)
			if err == nil {
				err = s.Flush(ctx)
			}
			return err
		}

		// Rows of a table without a key are inserted as they come.
		keyless := table(name, "k", nil, "a", "int", "token", "varchar(100)")
		s := newSink(t, shared, Options{LogValues: show, Pipeline: name + "_k"})
		apply(t, s, txnOf(1, ins(keyless, "1", secret)))
		if _, err := db.Exec("ALTER TABLE " + name + ".k ADD UNIQUE KEY one_token (token)"); err != nil {
			t.Fatal(err)
		}
		check("unique index", applyErr(s, txnOf(2, ins(keyless, "2", secret))), 1062, name+".k", "one_token")
		s.Close() // its transaction holds locks

		s = newSink(t, shared, Options{LogValues: show, Pipeline: name + "_k2"})
		check("drifted", applyErr(s, txnOf(3, upd(keyless, row("9", secret), row("9", "y")))), 0, name+".k", "drifted")

		tbl := table(name, "t", []int{0}, "id", "int!", "token", "varchar(100)")
		s = newSink(t, shared, Options{LogValues: show, Pipeline: name + "_t"})
		apply(t, s, txnOf(1, ins(tbl, "1", "1")))
		if _, err := db.Exec("ALTER TABLE " + name + ".t MODIFY token int"); err != nil {
			t.Fatal(err)
		}
		check("column type", applyErr(s, txnOf(2, ins(tbl, "2", secret))), 1366, name+".t", "token")
		s.Close()

		// Many rows go in with LOAD DATA LOCAL, whose data errors are warnings.
		s = newSink(t, shared, Options{LogValues: show, Pipeline: name + "_bulk"})
		err := applyErr(s, bulkInserts(tbl, infileMinRows, func(i int) []string {
			if i == 7 {
				return []string{fmt.Sprint(100 + i), secret}
			}
			return []string{fmt.Sprint(100 + i), "1"}
		}))
		check("LOAD DATA", err, 1366, name+".t", "token", "LOAD DATA")
		s.Close()

		// The snapshot's LOAD DATA LOCAL turns data errors into warnings.
		s = newSink(t, shared, Options{LogValues: show, Pipeline: name + "_load"})
		snap := table(name, "snap", []int{0}, "id", "int!", "n", "int")
		must(t, s.PrepareSnapshot(ctx, []*change.Table{snap}))
		err = s.Load(ctx, snap, func(yield func(change.Row) error) error {
			for i := range 10 {
				v := "1"
				if i == 3 {
					v = secret
				}
				if err := yield(row(fmt.Sprint(i), v)); err != nil {
					return err
				}
			}
			return nil
		})
		check("snapshot", err, 0, name+".snap", "column")
	}
}
