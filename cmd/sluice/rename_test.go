package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// renameLoad updates and inserts rows of table (id key, n int) touching
// only columns no test renames, until stopped.
func renameLoad(t *testing.T, run func(context.Context, string) error, table string) (stop func() int64) {
	ctx, cancel := context.WithCancel(context.Background())
	var n atomic.Int64
	done := make(chan error, 1)
	go func() {
		for i := int64(0); ctx.Err() == nil; i++ {
			q := fmt.Sprintf("UPDATE %s SET n = n + 1 WHERE id = %d", table, i%100+1)
			if i%3 == 0 {
				q = fmt.Sprintf("INSERT INTO %s (id, n) VALUES (%d, %d)", table, 100000+i, i)
			}
			if err := run(ctx, q); err != nil && ctx.Err() == nil {
				done <- fmt.Errorf("%s: %w", q, err)
				return
			}
			n.Add(1)
		}
		done <- nil
	}()
	var once sync.Once
	var loadErr error
	stop = func() int64 {
		once.Do(func() { cancel(); loadErr = <-done })
		if loadErr != nil {
			t.Errorf("write load: %v", loadErr)
		}
		return n.Load()
	}
	t.Cleanup(func() { once.Do(func() { cancel(); <-done }) }) // before the servers stop
	return stop
}

// TestRenameColumnsUnderLoad: MariaDB renames columns (RENAME COLUMN,
// CHANGE, and a swap of two names in one statement) while a write load
// runs; the target columns are renamed, not added, with their data, into
// both target engines; sluice is also killed with SIGKILL right after a
// rename and resumes.
func TestRenameColumnsUnderLoad(t *testing.T) {
	t.Parallel()
	for _, dst := range []string{"mysql", "postgres"} {
		t.Run("mysql_to_"+dst, func(t *testing.T) {
			t.Parallel()
			start := time.Now()
			x := newXEnv(t, "mysql", dst, "batch:\n  rows: 200\n")
			table := "app.r"
			x.from.exec(t, "CREATE TABLE app.r (id int PRIMARY KEY, n int NOT NULL, a int, c varchar(20))")
			var vals []string
			for i := 1; i <= 100; i++ {
				vals = append(vals, fmt.Sprintf("(%d, %d, %d, 'c%d')", i, i, i*10, i))
			}
			x.from.exec(t, "INSERT INTO app.r VALUES "+strings.Join(vals, ","))
			p := x.start()
			x.waitSame(60*time.Second, p, table)
			stop := renameLoad(t, sqlOf(t, x.from), table)
			time.Sleep(300 * time.Millisecond)
			x.from.exec(t, "ALTER TABLE app.r RENAME COLUMN a TO a2")
			time.Sleep(300 * time.Millisecond)
			x.from.exec(t, "ALTER TABLE `app`.`r` /* keep the data */ CHANGE COLUMN `c` `c2` varchar(30)")
			x.from.exec(t, "UPDATE app.r SET a2 = a2 + 1, c2 = CONCAT(c2, '-renamed') WHERE id <= 10")
			time.Sleep(300 * time.Millisecond)
			x.from.exec(t, "ALTER TABLE app.r RENAME COLUMN a2 TO c2, RENAME COLUMN c2 TO a2")
			x.from.exec(t, "INSERT INTO app.r (id, n, a2, c2) VALUES (-1, 0, 'swapped', 7)")
			time.Sleep(200 * time.Millisecond)
			p.kill9()
			x.from.exec(t, "ALTER TABLE app.r RENAME COLUMN a2 TO label") // while sluice is down
			p = x.start()
			writes := stop()
			x.waitSame(90*time.Second, p, table)
			var renamed int
			for _, line := range strings.Split(p.logText(), "\n") {
				if strings.Contains(line, "renamed target column") {
					renamed++
				}
			}
			if renamed == 0 {
				t.Errorf("the restarted sluice renamed nothing:\n%s", p.logText())
			}
			if typ := columnType(t, x.to, x.targetTable(table), "label"); !strings.Contains(typ, "char") {
				t.Errorf("target column label is %s, want the renamed varchar", typ)
			}
			p.stop(t)
			t.Logf("%d load statements; %v", writes, time.Since(start).Round(time.Millisecond))
		})
	}
}

// TestPostgresRenameArrivesAsNewColumn pins down what docs/schema-changes.md
// says a rename on a PostgreSQL source does: pgoutput sends only the new
// shape, so the new name is added to the target, the old column keeps its
// values and gets NULL in rows written after the rename.
func TestPostgresRenameArrivesAsNewColumn(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "")
	e.srcExec("CREATE TABLE pr (id int PRIMARY KEY, a text)")
	e.srcExec("INSERT INTO pr VALUES (1, 'one'), (2, 'two')")
	p := e.start()
	e.waitEqual(60*time.Second, p, "pr")
	e.srcExec("ALTER TABLE pr RENAME COLUMN a TO b")
	e.srcExec("INSERT INTO pr VALUES (3, 'three'); UPDATE pr SET b = 'uno' WHERE id = 1")
	want := "[(1,one,uno) (2,two,) (3,,three)]"
	deadline := time.Now().Add(60 * time.Second)
	for {
		got, err := rows(t, e.dst.DSN("dwh"), "pr")
		if err == nil && fmt.Sprint(got) == want {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("target rows %v (%v), want %s; log:\n%s", got, err, want, p.logText())
		}
		time.Sleep(200 * time.Millisecond)
	}
	p.stop(t)
}

// TestRenameOfATransformedColumnStops: a rename of a column a transform
// renames is refused naming the rule and the fix; after the rule is
// changed to the new name, the restart reads the rename again and goes on.
func TestRenameOfATransformedColumnStops(t *testing.T) {
	t.Parallel()
	x := newXEnv(t, "mysql", "mysql", "")
	f, err := os.OpenFile(x.cfg, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	rule := "transforms:\n  - tables: [app.tr]\n    columns: {rename: {a: x}}\n"
	if _, err := f.WriteString(rule); err != nil {
		t.Fatal(err)
	}
	f.Close()
	x.from.exec(t, "CREATE TABLE app.tr (id int PRIMARY KEY, a int)")
	x.from.exec(t, "INSERT INTO app.tr VALUES (1, 10)")
	p := x.start()
	waitValue(t, x.to, "SELECT COUNT(*) FROM app.tr WHERE x = 10", "1", p)
	x.from.exec(t, "ALTER TABLE app.tr RENAME COLUMN a TO b")
	x.from.exec(t, "INSERT INTO app.tr VALUES (2, 20)")
	waitStopped(t, p, `transforms[0].columns names column \"a\"`, `its new name \"b\"`)

	// The fix: the rule names the new column; the target column x stays.
	text, err := os.ReadFile(x.cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(x.cfg, []byte(strings.Replace(string(text), "{a: x}", "{b: x}", 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	p = x.start()
	waitValue(t, x.to, "SELECT GROUP_CONCAT(id, '=', x ORDER BY id) FROM app.tr", "1=10,2=20", p)
	p.stop(t)
}
