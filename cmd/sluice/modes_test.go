package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// queryText runs q on an endpoint and returns its rows with columns joined
// by "|", NULL as ∅. PostgreSQL queries must return text columns.
func queryText(ctx context.Context, e endpoint, q string) ([]string, error) {
	var out []string
	add := func(vals [][]byte) {
		f := make([]string, len(vals))
		for i, v := range vals {
			if v == nil {
				f[i] = "∅"
			} else {
				f[i] = string(v)
			}
		}
		out = append(out, strings.Join(f, "|"))
	}
	switch e := e.(type) {
	case *pgEnd:
		conn, err := pgx.Connect(ctx, e.dsn())
		if err != nil {
			return nil, err
		}
		defer conn.Close(ctx)
		rows, err := conn.Query(ctx, q)
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		for rows.Next() {
			add(rows.RawValues())
		}
		return out, rows.Err()
	case *myEnd:
		rows, err := e.s.DB().QueryContext(ctx, q)
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		cols, _ := rows.Columns()
		for rows.Next() {
			vals := make([][]byte, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				return nil, err
			}
			add(vals)
		}
		return out, rows.Err()
	}
	return nil, fmt.Errorf("unknown endpoint %T", e)
}

// srcExec runs statements on the source without failing the test (for the
// load goroutine).
func srcExec(ctx context.Context, e endpoint, q string) error {
	switch e := e.(type) {
	case *pgEnd:
		return e.c.Exec(ctx, e.db, q)
	case *myEnd:
		return e.s.Exec(ctx, q)
	}
	return fmt.Errorf("unknown endpoint %T", e)
}

// counterLoad writes to table counters(id, n, pad) until stop closes:
// inserts with n = 0 (never reusing an id), updates that add exactly 1 to
// n, deletes, and now and then one transaction updating a few hundred rows.
// So in every target the versions (or audit rows) of a row must count n up
// by one without a gap or a repeat.
func counterLoad(e endpoint, table string, first int, stop <-chan struct{}, done chan<- error) {
	ctx := context.Background()
	r := rand.New(rand.NewPCG(uint64(first), 2))
	next := first
	for i := 0; ; i++ {
		select {
		case <-stop:
			done <- nil
			return
		case <-time.After(time.Duration(r.IntN(15)) * time.Millisecond):
		}
		var stmts []string
		for range 1 + r.IntN(4) {
			switch x := r.IntN(10); {
			case x < 3:
				next++
				stmts = append(stmts, fmt.Sprintf("INSERT INTO %s VALUES (%d, 0, 'new')", table, next))
			case x < 4:
				stmts = append(stmts, fmt.Sprintf("DELETE FROM %s WHERE id = %d", table, 1+r.IntN(next)))
			default:
				stmts = append(stmts, fmt.Sprintf("UPDATE %s SET n = n + 1 WHERE id IN (%d, %d)", table, 1+r.IntN(next), 1+r.IntN(next)))
			}
		}
		if i%40 == 0 {
			stmts = append(stmts, fmt.Sprintf("UPDATE %s SET n = n + 1 WHERE id %% 97 = %d", table, r.IntN(97)))
		}
		if err := srcExec(ctx, e, "BEGIN; "+strings.Join(stmts, "; ")+"; COMMIT"); err != nil {
			done <- err
			return
		}
	}
}

// TestModesUnderKill runs the history and append modes into both target
// engines while a load writes to the source, killing sluice with SIGKILL
// several times (the first time during the snapshot). Then the current
// history versions (or the rows the audit log ends with) must equal the
// source row for row, and every row's versions (audit rows) must count its
// n up by one from the first: a replayed change would repeat a version, a
// lost one leave a gap.
func TestModesUnderKill(t *testing.T) {
	t.Parallel()
	cases := []struct{ src, dst, mode string }{
		{"mysql", "postgres", "history"},
		{"postgres", "mysql", "history"},
		{"postgres", "postgres", "append"},
		{"mysql", "mysql", "append"},
	}
	for _, c := range cases {
		t.Run(c.src+"_to_"+c.dst+"_"+c.mode, func(t *testing.T) {
			t.Parallel()
			x := newXEnv(t, c.src, c.dst, "mode: "+c.mode+"\nmetadata:\n  source_code: {value: crm}\n  synced_at: {}\nbatch:\n  rows: 500\n")
			table := "app.counters"
			if c.src == "postgres" {
				table = "public.counters"
				x.from.exec(t, "CREATE TABLE counters (id int PRIMARY KEY, n int NOT NULL, pad varchar(20) NOT NULL)")
				x.from.exec(t, "INSERT INTO counters SELECT g, 0, 'pre' FROM generate_series(1, 30000) g")
			} else {
				x.from.exec(t, "CREATE TABLE app.counters (id int PRIMARY KEY, n int NOT NULL, pad varchar(20) NOT NULL)")
				x.from.exec(t, "INSERT INTO app.counters SELECT seq, 0, 'pre' FROM app.seq_1_to_30000")
			}
			stop, done := make(chan struct{}), make(chan error, 1)
			go counterLoad(x.from, table, 30000, stop, done)
			kills := []time.Duration{300 * time.Millisecond}
			for range 3 {
				kills = append(kills, time.Duration(1000+rand.IntN(2500))*time.Millisecond)
			}
			for i, d := range kills {
				p := x.start()
				time.Sleep(d)
				select {
				case err := <-p.done:
					t.Fatalf("sluice exited on its own (%v) before kill %d; log:\n%s", err, i+1, p.logText())
				default:
				}
				p.kill9()
				t.Logf("kill -9 #%d after %v", i+1, d)
			}
			p := x.start()
			time.Sleep(time.Second)
			close(stop)
			if err := <-done; err != nil {
				t.Fatalf("load: %v", err)
			}
			check := checkHistory
			if c.mode == "append" {
				check = checkAudit
			}
			waitCheck(t, 90*time.Second, p, func() (string, error) { return check(x, table) })
			p.stop(t)
		})
	}
}

// waitCheck runs check until it reports no difference.
func waitCheck(t *testing.T, timeout time.Duration, p *proc, check func() (string, error)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		diff, err := check()
		if err == nil && diff == "" {
			return
		}
		if err != nil {
			diff = err.Error()
		}
		if time.Now().After(deadline) {
			logText := p.logText()
			if len(logText) > 8000 {
				logText = "..." + logText[len(logText)-8000:]
			}
			t.Fatalf("target not as expected within %v: %s\nsluice log:\n%s", timeout, diff, logText)
		}
		select {
		case err := <-p.done:
			t.Fatalf("sluice exited (%v): %s\nlog:\n%s", err, diff, p.logText())
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// sourceCounters is the source table as id → "n|pad".
func sourceCounters(x *xenv, table string) (map[string]string, error) {
	rows, err := queryText(context.Background(), x.from, fmt.Sprintf("SELECT %s, %s, pad FROM %s", txt(x.from, "id"), txt(x.from, "n"), table))
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, r := range rows {
		id, rest, _ := strings.Cut(r, "|")
		out[id] = rest
	}
	return out, nil
}

// checkHistory compares the current versions with the source and checks
// every row's versions: n counts up by one from the first version, only the
// last is current, and a row gone from the source ends in its delete record.
func checkHistory(x *xenv, table string) (string, error) {
	src, err := sourceCounters(x, table)
	if err != nil {
		return "", err
	}
	rows, err := queryText(context.Background(), x.to, fmt.Sprintf(
		"SELECT %s, %s, pad, _op, CASE WHEN _current THEN 'c' ELSE '-' END, _source FROM %s ORDER BY id, _seq", txt(x.to, "id"), txt(x.to, "n"), table))
	if err != nil {
		return "", err
	}
	type version struct{ n, pad, op, cur, source string }
	versions := map[string][]version{}
	var ids []string
	for _, r := range rows {
		f := strings.Split(r, "|")
		if len(versions[f[0]]) == 0 {
			ids = append(ids, f[0])
		}
		versions[f[0]] = append(versions[f[0]], version{f[1], f[2], f[3], f[4], f[5]})
	}
	for id, want := range src {
		vs := versions[id]
		if len(vs) == 0 || vs[len(vs)-1].cur != "c" || vs[len(vs)-1].n+"|"+vs[len(vs)-1].pad != want {
			return fmt.Sprintf("row %s is %s at the source, its versions are %v", id, want, vs), nil
		}
	}
	for _, id := range ids {
		vs := versions[id]
		for i, v := range vs {
			last := i == len(vs)-1
			switch {
			case v.source != "crm":
				return fmt.Sprintf("row %s: version %d has _source %q", id, i, v.source), nil
			case i == 0 && v.op != "snapshot" && v.op != "insert":
				return fmt.Sprintf("row %s: its first version is a %s: %v", id, v.op, vs), nil
			case (v.cur == "c") != (last && v.op != "delete"):
				return fmt.Sprintf("row %s: version %d of %v is current: %s", id, i, vs, v.cur), nil
			case v.op == "delete" && (!last || src[id] != "" || v.n != vs[i-1].n):
				return fmt.Sprintf("row %s: misplaced delete record in %v", id, vs), nil
			case i > 0 && v.op == "update" && atoi(v.n) != atoi(vs[i-1].n)+1:
				return fmt.Sprintf("row %s: n goes from %s to %s (a change lost or written twice): %v", id, vs[i-1].n, v.n, vs), nil
			}
		}
		if _, ok := src[id]; !ok && vs[len(vs)-1].op != "delete" {
			return fmt.Sprintf("row %s is gone at the source, its versions are %v", id, vs), nil
		}
	}
	return "", nil
}

// checkAudit replays the audit log into rows and compares them with the
// source, checking that each row's n counts up by one from change to
// change.
func checkAudit(x *xenv, table string) (string, error) {
	src, err := sourceCounters(x, table)
	if err != nil {
		return "", err
	}
	rows, err := queryText(context.Background(), x.to, fmt.Sprintf("SELECT _op, %s, %s, _source FROM %s ORDER BY _seq",
		txt(x.to, "_before"), txt(x.to, "_after"), table))
	if err != nil {
		return "", err
	}
	state := map[string]map[string]string{}
	for i, r := range rows {
		f := strings.Split(r, "|")
		op, source := f[0], f[3]
		var before, after map[string]string
		json.Unmarshal([]byte(f[1]), &before) //nolint:errcheck // ∅ leaves it nil
		json.Unmarshal([]byte(f[2]), &after)  //nolint:errcheck
		if source != "crm" {
			return fmt.Sprintf("audit row %d has _source %q", i, source), nil
		}
		switch op {
		case "snapshot", "insert":
			if state[after["id"]] != nil {
				return fmt.Sprintf("audit row %d: %s of row %s, which exists: %s", i, op, after["id"], r), nil
			}
			state[after["id"]] = after
		case "update":
			prev := state[after["id"]]
			if prev == nil || atoi(after["n"]) != atoi(prev["n"])+1 {
				return fmt.Sprintf("audit row %d: update of row %s from %v to %v (a change lost or written twice)", i, after["id"], prev, after), nil
			}
			state[after["id"]] = after
		case "delete":
			if state[before["id"]] == nil {
				return fmt.Sprintf("audit row %d: delete of row %s, which does not exist", i, before["id"]), nil
			}
			delete(state, before["id"])
		default:
			return fmt.Sprintf("audit row %d: unexpected %s", i, r), nil
		}
	}
	var diffs []string
	for id, want := range src {
		if got := state[id]; got == nil || got["n"]+"|"+got["pad"] != want {
			diffs = append(diffs, fmt.Sprintf("row %s: source %s, audit log %v", id, want, got))
		}
	}
	for id := range state {
		if _, ok := src[id]; !ok {
			diffs = append(diffs, fmt.Sprintf("row %s: gone at the source, not in the audit log", id))
		}
	}
	slices.Sort(diffs)
	if len(diffs) > 0 {
		return fmt.Sprintf("%d differences, e.g. %s", len(diffs), diffs[0]), nil
	}
	return "", nil
}

// txt is column col as text in e's dialect.
func txt(e endpoint, col string) string {
	if e.kind() == "postgres" {
		return col + "::text"
	}
	return "CAST(" + col + " AS CHAR)"
}

func atoi(s string) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		return -1
	}
	return n
}

// TestSoftDeleteEndToEnd: with sink.soft_delete and metadata columns, a
// deleted row stays with its deletion time, a truncate marks the rest, a
// row inserted again comes back, and the position and commit time columns
// say which transaction wrote each row (none for snapshot rows).
func TestSoftDeleteEndToEnd(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "soft_delete: true\nmetadata:\n  position: {}\n  commit_time: {}\n")
	e.srcExec("CREATE TABLE items (id int PRIMARY KEY, v text); INSERT INTO items VALUES (1, 'a'), (2, 'b'), (3, 'c')")
	p := e.start()
	want := func(expect ...string) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for {
			got, err := rows(t, e.dst.DSN("dwh"), `(SELECT id, v, _deleted_at IS NOT NULL AS deleted, _source_position IS NOT NULL AS streamed,
				_source_commit_time IS NOT NULL AND (_deleted_at IS NULL OR _deleted_at = _source_commit_time) AS timed FROM public.items)`)
			if err == nil && slices.Equal(got, expect) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("target rows %v (%v), want %v\nlog:\n%s", got, err, expect, p.logText())
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	want("(1,a,f,f,t)", "(2,b,f,f,t)", "(3,c,f,f,t)")
	e.srcExec("DELETE FROM items WHERE id = 2")
	want("(1,a,f,f,t)", "(2,b,t,t,t)", "(3,c,f,f,t)")
	e.srcExec("TRUNCATE items; INSERT INTO items VALUES (2, 'again')")
	want("(1,a,t,t,t)", "(2,again,f,t,t)", "(3,c,t,t,t)")
	p.stop(t)
}
