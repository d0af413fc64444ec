package main

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicecdc/sluice/internal/kafkatest"
)

// TestKafkaSourceGroupMariaDB: MariaDB → sluice (Kafka sink, 6 partitions)
// → Kafka → two sluice members in one group → MariaDB (the MySQL sink),
// under a write load of updates, inserts and deletes, one member killed
// with SIGKILL and restarted: the target equals the source row for row,
// the keyless audit table (one row per source transaction) included.
func TestKafkaSourceGroupMariaDB(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("end-to-end")
	}
	began := time.Now()
	phase := func(what string) { t.Logf("%s at %s", what, time.Since(began).Round(100*time.Millisecond)) }
	x := newXEnv(t, "mysql", "mysql", "")
	src := x.from.(*myEnd)
	x.to.exec(t, "CREATE DATABASE app")
	for _, q := range []string{
		"CREATE TABLE app.items (id int PRIMARY KEY, k int NOT NULL, note varchar(100), amount decimal(10,2), at datetime(6))",
		"CREATE TABLE app.audit (seq bigint NOT NULL, id int NOT NULL, op char(1) NOT NULL, k int)",
		"CREATE TABLE app.done_marker (id int PRIMARY KEY)",
	} {
		src.exec(t, q)
	}
	db := src.s.DB()
	for i := 1; i <= 500; i++ {
		if _, err := db.Exec("INSERT INTO app.items VALUES (?, 0, ?, 1.50, '2024-01-01 00:00:00.000001')", i, fmt.Sprintf("item %d", i)); err != nil {
			t.Fatal(err)
		}
	}
	b := kafkatest.Start(t)
	pubCfg := filepath.Join(x.dir, "publish.yaml")
	if err := os.WriteFile(pubCfg, []byte(fmt.Sprintf(`name: publish
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
    create_topics: {partitions: 6, replication_factor: 1}
checkpoint:
  path: %s
log:
  level: info
`, src.dsn(), b.Addr(), filepath.Join(x.dir, "publish.checkpoint"))), 0o600); err != nil {
		t.Fatal(err)
	}
	x.cfg = pubCfg
	pub := x.start()
	defer pub.stop(t)
	phase("publisher started")
	m1 := x.kafkaMemberInto(b.Addr(), "m1", `crm\\.app\\..*`, "mysql", x.to.dsn())
	m2 := x.kafkaMemberInto(b.Addr(), "m2", `crm\\.app\\..*`, "mysql", x.to.dsn())
	members := []*proc{m1(), m2()}

	ctx, stopLoad := context.WithTimeout(context.Background(), 15*time.Second)
	defer stopLoad()
	var seq, nextID atomic.Int64
	nextID.Store(1000)
	var wg sync.WaitGroup
	var loadErr atomic.Value
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				if err := mariaTxn(db, &seq, &nextID); err != nil && ctx.Err() == nil {
					loadErr.Store(err)
					return
				}
				time.Sleep(2 * time.Millisecond)
			}
		}()
	}
	time.Sleep(6 * time.Second)
	members[0].kill9()
	t.Log("kill -9 m1")
	time.Sleep(time.Second)
	members[0] = m1()
	wg.Wait()
	if err, _ := loadErr.Load().(error); err != nil {
		t.Fatalf("load: %v", err)
	}
	phase(fmt.Sprintf("load done (%d transactions)", seq.Load()))
	src.exec(t, "INSERT INTO app.done_marker VALUES (1)")
	x.waitSame(90*time.Second, members[1], "app.done_marker", "app.items", "app.audit")
	phase("target equals source")
	for _, m := range members {
		m.stop(t)
	}
}

// mariaTxn is one transaction of the load: an update, an insert or a
// delete of an item, and its audit row (keyless). A deadlock rolls it
// back whole, which is no change at all.
func mariaTxn(db *sql.DB, seq, nextID *atomic.Int64) error {
	tx, err := db.Begin()
	if err != nil {
		return err
	}
	defer tx.Rollback()
	id := rand.IntN(600) + 1
	var op string
	switch r := rand.IntN(10); {
	case r < 7:
		op = "u"
		_, err = tx.Exec("UPDATE app.items SET k = k + 1, amount = amount + 0.01, at = NOW(6) WHERE id = ?", id)
	case r < 9:
		op, id = "c", int(nextID.Add(1))
		_, err = tx.Exec("INSERT INTO app.items VALUES (?, 0, 'new', 0.99, NOW(6))", id)
	default:
		op = "d"
		_, err = tx.Exec("DELETE FROM app.items WHERE id = ?", id)
	}
	if err != nil {
		return nil // a deadlock or lock wait: rolled back
	}
	if _, err := tx.Exec("INSERT INTO app.audit VALUES (?, ?, ?, ?)", seq.Add(1), id, op, rand.IntN(100)); err != nil {
		return nil
	}
	return tx.Commit()
}
