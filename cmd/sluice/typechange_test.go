package main

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// sqlOf runs statements on an endpoint from any goroutine (exec fails the
// test, which only the test's own goroutine may do).
func sqlOf(t *testing.T, e endpoint) func(ctx context.Context, q string) error {
	switch e := e.(type) {
	case *myEnd:
		db := e.s.DB()
		return func(ctx context.Context, q string) error { _, err := db.ExecContext(ctx, q); return err }
	case *pgEnd:
		conn, err := pgx.Connect(context.Background(), e.dsn())
		if err != nil {
			t.Fatal(err)
		}
		var mu sync.Mutex
		t.Cleanup(func() { conn.Close(context.Background()) })
		return func(ctx context.Context, q string) error {
			mu.Lock()
			defer mu.Unlock()
			_, err := conn.Exec(ctx, q)
			return err
		}
	}
	t.Fatalf("unknown endpoint %T", e)
	return nil
}

// columnType is the type of a target column as its catalog writes it.
func columnType(t *testing.T, e endpoint, table, column string) string {
	t.Helper()
	schema, name, _ := strings.Cut(table, ".")
	ctx := context.Background()
	var v string
	var err error
	switch e := e.(type) {
	case *myEnd:
		err = e.s.DB().QueryRowContext(ctx, "SELECT COLUMN_TYPE FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND COLUMN_NAME = ?",
			schema, name, column).Scan(&v)
	case *pgEnd:
		v, err = e.c.QueryValue(ctx, e.db, fmt.Sprintf("SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = '%s.%s'::regclass AND attname = '%s'",
			schema, name, column))
	}
	if err != nil {
		t.Fatalf("read type of %s.%s: %v", table, column, err)
	}
	return v
}

// alterType is the source DDL changing column col of table to typ.
func alterType(kind, table string, cols ...string) string {
	var specs []string
	for i := 0; i+1 < len(cols); i += 2 {
		if kind == "mysql" {
			specs = append(specs, "MODIFY "+cols[i]+" "+cols[i+1])
		} else {
			specs = append(specs, "ALTER COLUMN "+cols[i]+" TYPE "+cols[i+1])
		}
	}
	return "ALTER TABLE " + table + " " + strings.Join(specs, ", ")
}

// typeLoad updates and inserts rows of table (id int key, n, s) until
// stopped, with values that fit the narrowest type; it returns how many
// statements it ran.
func typeLoad(t *testing.T, run func(context.Context, string) error, table string) (stop func() int64) {
	ctx, cancel := context.WithCancel(context.Background())
	var n atomic.Int64
	done := make(chan error, 1)
	go func() {
		for i := int64(0); ctx.Err() == nil; i++ {
			q := fmt.Sprintf("UPDATE %s SET n = n + 1, s = 'u%d' WHERE id = %d", table, i%1000, i%200+1)
			if i%3 == 0 {
				q = fmt.Sprintf("INSERT INTO %s (id, n, s) VALUES (%d, %d, 'i%d')", table, 100000+i, i, i%1000)
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

// TestWidenColumnsUnderLoad: while a write load runs, the source widens its
// int key and an int column to bigint and a varchar(10) to varchar(40); values beyond the
// old types follow, and the target's columns are widened before them, in
// every engine pair.
func TestWidenColumnsUnderLoad(t *testing.T) {
	t.Parallel()
	for _, d := range []struct{ src, dst, mode string }{
		{"postgres", "postgres", "merge"}, {"mysql", "mysql", "merge"}, {"mysql", "postgres", "merge"},
		{"postgres", "mysql", "merge"}, {"postgres", "postgres", "history"}, {"mysql", "mysql", "history"},
	} {
		t.Run(d.src+"_to_"+d.dst+"_"+d.mode, func(t *testing.T) {
			t.Parallel()
			start := time.Now()
			x := newXEnv(t, d.src, d.dst, "mode: "+d.mode+"\nbatch:\n  rows: 200\n")
			schema := "app"
			if d.src == "postgres" {
				schema = "public"
			}
			table := schema + ".w"
			x.from.exec(t, "CREATE TABLE "+table+" (id int PRIMARY KEY, n int NOT NULL, s varchar(10))")
			var vals []string
			for i := 1; i <= 200; i++ {
				vals = append(vals, fmt.Sprintf("(%d, %d, 'v%d')", i, i, i))
			}
			x.from.exec(t, "INSERT INTO "+table+" VALUES "+strings.Join(vals, ","))
			p := x.start()
			if d.mode == "merge" {
				x.waitSame(60*time.Second, p, table)
			} else {
				waitAtLeast(t, x.to, x.targetTable(table), 200, p)
			}
			stop := typeLoad(t, sqlOf(t, x.from), table)
			time.Sleep(500 * time.Millisecond)
			x.from.exec(t, alterType(d.src, table, "id", "bigint", "n", "bigint", "s", "varchar(40)"))
			time.Sleep(500 * time.Millisecond)
			x.from.exec(t, "INSERT INTO "+table+" VALUES (5000000001, 5000000000, 'a string of thirty characters.')")
			x.from.exec(t, "UPDATE "+table+" SET n = -9000000000000000000 WHERE id = 7")
			writes := stop()
			if d.mode == "merge" {
				x.waitSame(90*time.Second, p, table)
			} else {
				waitValue(t, x.to, fmt.Sprintf("SELECT count(*) FROM %s WHERE n = -9000000000000000000", x.targetTable(table)), "1", p)
			}
			for _, col := range []string{"id", "n"} {
				if typ := columnType(t, x.to, x.targetTable(table), col); !strings.HasPrefix(typ, "bigint") {
					t.Errorf("target column %s is %s, want bigint", col, typ)
				}
			}
			if typ := columnType(t, x.to, x.targetTable(table), "s"); !strings.Contains(typ, "(40)") {
				t.Errorf("target column s is %s, want varchar(40)", typ)
			}
			if !strings.Contains(p.logText(), "widened target column") {
				t.Errorf("no widening in the log:\n%s", p.logText())
			}
			p.stop(t)
			t.Logf("%d load statements around the DDL; %v", writes, time.Since(start).Round(time.Millisecond))
		})
	}
}

// waitAtLeast waits until table on e has at least n rows.
func waitAtLeast(t *testing.T, e endpoint, table string, n int, p *proc) {
	t.Helper()
	waitValue(t, e, fmt.Sprintf("SELECT count(*) >= %d FROM %s", n, table), map[bool]string{true: "1", false: "t"}[e.kind() == "mysql"], p)
}

// waitValue waits until query on e returns want.
func waitValue(t *testing.T, e endpoint, query, want string, p *proc) {
	t.Helper()
	ctx := context.Background()
	deadline := time.Now().Add(60 * time.Second)
	var got string
	var err error
	for time.Now().Before(deadline) {
		switch e := e.(type) {
		case *myEnd:
			got, err = e.s.QueryValue(ctx, query)
		case *pgEnd:
			got, err = e.c.QueryValue(ctx, e.db, query)
		}
		if err == nil && got == want {
			return
		}
		if done, perr := p.exited(); done {
			t.Fatalf("sluice exited (%v) while waiting for %s = %s; log:\n%s", perr, query, want, p.logText())
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("%s: got %q (%v), want %q; log:\n%s", query, got, err, want, p.logText())
}

// exited reports whether the process has ended, and its error if so.
func (p *proc) exited() (bool, error) {
	select {
	case err := <-p.done:
		p.done <- err
		return true, err
	default:
		return false, nil
	}
}
