package mysql

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sluicecdc/sluice/internal/mytest"
	"github.com/sluicecdc/sluice/pkg/change"
)

// applier plays what the source delivers the way the pipeline applies it:
// whole transactions at once; parts into a running transaction, where a
// Savepoint part marks a place, RollbackSub returns to it and Abort drops
// everything; Done commits.
type applier struct {
	t       *testing.T
	src     *Source
	applied []string // "table:id" in the order committed
	open    []string
	marks   map[string]int
	parts   map[change.Part]int
}

func (a *applier) ids(cs []captured) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.table.ID.Name+":"+value(c.table, c.after, "id"))
	}
	return out
}

// until applies what arrives until a committed transaction holds want.
func (a *applier) until(want string) {
	a.t.Helper()
	for {
		txn, cs := nextTxn(a.t, a.src, 30*time.Second)
		a.parts[txn.Part]++
		switch txn.Part {
		case change.Whole:
			if a.open != nil {
				a.t.Fatalf("whole transaction %s inside running transaction", txn.ID)
			}
			a.applied = append(a.applied, a.ids(cs)...)
		case change.Open:
			if a.open == nil {
				a.open = []string{}
			}
			a.open = append(a.open, a.ids(cs)...)
		case change.Savepoint:
			if a.open == nil {
				a.t.Fatalf("savepoint %s before the first part", txn.Sub)
			}
			a.marks[txn.Sub] = len(a.open)
		case change.RollbackSub:
			n, ok := a.marks[txn.Sub]
			if !ok {
				a.t.Fatalf("rollback to unknown savepoint %s", txn.Sub)
			}
			a.open = a.open[:n]
		case change.Abort:
			a.open, a.marks = nil, map[string]int{}
		case change.Done:
			a.applied = append(a.applied, a.open...)
			a.open, a.marks = nil, map[string]int{}
		}
		if slices.Contains(a.applied, want) {
			return
		}
	}
}

// serverRows lists what the server holds, as "table:id", in id order per table.
func serverRows(t *testing.T, srv *mytest.Server, table string) []string {
	t.Helper()
	list, err := srv.QueryValue(context.Background(), "SELECT IFNULL(GROUP_CONCAT(id ORDER BY id), '') FROM d."+table)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, id := range strings.Split(list, ",") {
		if id != "" {
			out = append(out, table+":"+id)
		}
	}
	return out
}

// TestRollbackGroups: transactions that touched a MyISAM or temporary
// table are logged with the rows they rolled back, then ROLLBACK or
// ROLLBACK TO SAVEPOINT. Those rows must never arrive; the MyISAM rows,
// which no rollback undoes, must. Whole, and in parts with savepoints set
// before and after the first part was sent.
func TestRollbackGroups(t *testing.T) {
	for _, parts := range []bool{false, true} {
		t.Run(fmt.Sprintf("parts=%v", parts), func(t *testing.T) {
			t.Parallel()
			srv := startServer(t, mytest.Options{})
			exec(t, srv, "CREATE DATABASE d; CREATE TABLE d.i (id int PRIMARY KEY) ENGINE=InnoDB; CREATE TABLE d.m (id int PRIMARY KEY) ENGINE=MyISAM")
			src := newSource(t, srv, Options{})
			if parts {
				src.DeliverParts()
				src.partRows = 100
			}
			if err := src.Start(context.Background(), nil); err != nil {
				t.Fatal(err)
			}
			ins := func(from, to int) string {
				return fmt.Sprintf("INSERT INTO d.i SELECT seq FROM seq_%d_to_%d", from, to)
			}
			for _, q := range []string{
				// ROLLBACK of a transaction that created a temporary table.
				"BEGIN; " + ins(1, 300) + "; CREATE TEMPORARY TABLE d.tmp (id int) ENGINE=MyISAM; INSERT INTO d.tmp VALUES (1); " + ins(301, 400) + "; ROLLBACK",
				// ROLLBACK TO a savepoint set before any change: MariaDB ends
				// the group with ROLLBACK and starts another.
				"BEGIN; SAVEPOINT s; " + ins(1001, 1300) + "; INSERT INTO d.m VALUES (1); ROLLBACK TO s; " + ins(1301, 1310) + "; COMMIT",
				// Savepoints after changes, nested, set while the group is
				// already sent in parts.
				"BEGIN; " + ins(2001, 2300) + "; SAVEPOINT a; " + ins(2301, 2600) + "; SAVEPOINT b; " + ins(2601, 2900) +
					"; INSERT INTO d.m VALUES (2); ROLLBACK TO b; " + ins(2901, 2950) + "; ROLLBACK TO a; " + ins(2951, 2960) + "; COMMIT",
				// A savepoint set before the first part, rolled back to after it.
				"BEGIN; " + ins(3001, 3050) + "; SAVEPOINT s; " + ins(3051, 3400) + "; INSERT INTO d.m VALUES (3); ROLLBACK TO s; " +
					ins(3401, 3410) + "; SAVEPOINT S; " + ins(3411, 3700) + "; INSERT INTO d.m VALUES (4); ROLLBACK TO s; " + ins(3701, 3702) + "; COMMIT",
				// The same name twice: the later savepoint replaces the earlier.
				"BEGIN; " + ins(4001, 4010) + "; SAVEPOINT s; " + ins(4011, 4020) + "; SAVEPOINT s; " + ins(4021, 4200) +
					"; INSERT INTO d.m VALUES (5); ROLLBACK TO s; COMMIT",
				"INSERT INTO d.i VALUES (9999)",
			} {
				exec(t, srv, "USE d; "+q)
			}
			a := &applier{t: t, src: src, marks: map[string]int{}, parts: map[change.Part]int{}}
			a.until("i:9999")
			var gotI, gotM []string
			for _, id := range a.applied {
				if strings.HasPrefix(id, "i:") {
					gotI = append(gotI, id)
				} else {
					gotM = append(gotM, id)
				}
			}
			slices.SortFunc(gotI, func(x, y string) int { return atoiAfter(x) - atoiAfter(y) })
			if want := serverRows(t, srv, "i"); !slices.Equal(gotI, want) {
				t.Errorf("InnoDB rows delivered:\n%s\nthe server holds:\n%s", brief(gotI), brief(want))
			}
			if want := serverRows(t, srv, "m"); !slices.Equal(gotM, want) {
				t.Errorf("MyISAM rows delivered %v, the server holds %v", gotM, want)
			}
			t.Logf("parts delivered: %v", a.parts)
			if parts && (a.parts[change.RollbackSub] < 3 || a.parts[change.Abort] < 2 || a.parts[change.Savepoint] < 5) {
				t.Errorf("want several RollbackSub, Abort and Savepoint parts, got %v", a.parts)
			}
		})
	}
}

func atoiAfter(s string) int {
	_, n, _ := strings.Cut(s, ":")
	i, _ := strconv.Atoi(n)
	return i
}

// brief shows a sorted id list as ranges.
func brief(ids []string) string {
	var b strings.Builder
	for i := 0; i < len(ids); {
		j := i
		for j+1 < len(ids) && atoiAfter(ids[j+1]) == atoiAfter(ids[j])+1 {
			j++
		}
		fmt.Fprintf(&b, "%s..%d ", ids[i], atoiAfter(ids[j]))
		i = j + 1
	}
	return b.String()
}
