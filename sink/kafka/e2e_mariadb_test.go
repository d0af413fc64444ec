package kafka

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"
	"time"

	_ "github.com/go-sql-driver/mysql" // the driver of the load

	"github.com/sluicecdc/sluice/internal/kafkatest"
	"github.com/sluicecdc/sluice/internal/mytest"
	"github.com/sluicecdc/sluice/pkg/change"
)

// mariaLoad writes random transactions (inserts, updates, deletes of
// app.items, inserts into the keyless app.log) and counts the changes it
// committed per key.
type mariaLoad struct {
	db      *sql.DB
	rnd     *rand.Rand
	next    int
	live    []int
	changes map[int]int // by items.id: the events the topic must hold
	logRows int
}

func (l *mariaLoad) txn(ctx context.Context) error {
	tx, err := l.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck // after commit: nothing
	counted := map[int]int{}
	live := slices.Clone(l.live)
	next, logRows := l.next, 0
	for range 1 + l.rnd.IntN(4) {
		switch op := l.rnd.IntN(10); {
		case op < 3 || len(live) < 10:
			next++
			if _, err := tx.ExecContext(ctx, "INSERT INTO items VALUES (?, ?, ?)", next, l.rnd.IntN(1000), "n"+strconv.Itoa(next)); err != nil {
				return err
			}
			live = append(live, next)
			counted[next]++
		case op < 8:
			id := live[l.rnd.IntN(len(live))]
			if _, err := tx.ExecContext(ctx, "UPDATE items SET v = v + 1, note = NULL WHERE id = ?", id); err != nil {
				return err
			}
			counted[id]++
		case op < 9:
			i := l.rnd.IntN(len(live))
			if _, err := tx.ExecContext(ctx, "DELETE FROM items WHERE id = ?", live[i]); err != nil {
				return err
			}
			counted[live[i]]++
			live = slices.Delete(live, i, i+1)
		default:
			if _, err := tx.ExecContext(ctx, "INSERT INTO log VALUES (?, 'x')", l.rnd.IntN(5)); err != nil {
				return err
			}
			logRows++
		}
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	l.live, l.next, l.logRows = live, next, l.logRows+logRows
	for id, n := range counted {
		l.changes[id] += n
	}
	return nil
}

// TestMariaDBKill9 publishes a scripted MariaDB write load while sluice
// is killed with SIGKILL; every change is in the topics once, in commit
// order per key, and the topics fold into the source tables.
func TestMariaDBKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	ctx := context.Background()
	srv := mytest.Start(t, mytest.Options{Durable: true})
	if err := srv.Exec(ctx, "CREATE DATABASE app; CREATE TABLE app.items (id int PRIMARY KEY, v int NOT NULL, note varchar(40)); "+
		"CREATE TABLE app.log (a int, b varchar(10)); CREATE TABLE app.done_marker (id int PRIMARY KEY)"); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("mysql", srv.DriverDSN("app"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	l := &mariaLoad{db: db, rnd: rand.New(rand.NewPCG(1, uint64(time.Now().UnixNano()))), changes: map[int]int{}}
	for l.next < 300 {
		l.next++
		if _, err := db.ExecContext(ctx, "INSERT INTO items VALUES (?, 0, 'initial')", l.next); err != nil {
			t.Fatal(err)
		}
		l.live = append(l.live, l.next)
		l.changes[l.next] = 1 // the snapshot read
	}
	b := kafkatest.Start(t)
	run := newSluiceRun(t, fmt.Sprintf(`name: maria
source:
  kind: mysql
  dsn: %s
  tables: ["app.*"]
  mysql:
    server_id: 4242
sink:
  kind: kafka
  kafka:
    brokers: [%q]
    topic_prefix: crm
    schemas: false
    create_topics: {partitions: 3}
checkpoint:
  path: CHECKPOINT
log:
  level: info
`, srv.DSN("app"), b.Addr()))
	p := run.start()
	waitLog(t, p, "snapshot done", 90*time.Second)
	killAt := time.Now().Add(time.Duration(1500+rand.IntN(3000)) * time.Millisecond)
	txns := 0
	for end := time.Now().Add(8 * time.Second); time.Now().Before(end); txns++ {
		if err := l.txn(ctx); err != nil {
			t.Fatalf("load: %v", err)
		}
		if !killAt.IsZero() && time.Now().After(killAt) {
			if exited, err := p.Exited(); exited {
				t.Fatalf("sluice exited (%v); log:\n%s", err, tail(p.Log()))
			}
			p.Kill9()
			t.Logf("kill -9 after %d transactions", txns)
			p = run.start()
			killAt = time.Time{}
		}
	}
	if _, err := db.ExecContext(ctx, "INSERT INTO done_marker VALUES (1)"); err != nil {
		t.Fatal(err)
	}
	waitTopic(t, b, p, "crm.app.done_marker", 1, 90*time.Second)
	p.Stop(t)
	t.Logf("%d source transactions", txns)

	byKey, msgs := topicStats(t, b, "crm.app.items")
	bad := 0
	for id, want := range l.changes {
		if got := len(byKey[`{"id":`+strconv.Itoa(id)+`}`]); got != want && bad < 5 {
			t.Errorf("items id %d: %d events, want %d (one per change)", id, got, want)
			bad++
		}
	}
	if len(byKey) != len(l.changes) {
		t.Errorf("events for %d keys, want %d", len(byKey), len(l.changes))
	}
	equalRows(t, "app.items", fold(t, msgs, false).Rows(change.TableID{Schema: "app", Name: "items"}),
		mariaRows(t, db, "SELECT CONCAT_WS('|', id, v, IFNULL(note, '∅')) FROM items"))
	logEvents, msgs := topicStats(t, b, "crm.app.log")
	if n := sumLen(logEvents); n != l.logRows {
		t.Errorf("app.log: %d events, want %d", n, l.logRows)
	}
	equalRows(t, "app.log", fold(t, msgs, false).Rows(change.TableID{Schema: "app", Name: "log"}),
		mariaRows(t, db, "SELECT CONCAT_WS('|', a, b) FROM log"))
}

func mariaRows(t *testing.T, db *sql.DB, q string) []string {
	t.Helper()
	rows, err := db.Query(q)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	slices.Sort(out)
	return out
}
