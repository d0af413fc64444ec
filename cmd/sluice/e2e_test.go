package main

import (
	"testing"
	"time"
)

// TestSnapshotThenStream: existing rows are copied, then inserts, updates,
// deletes, key changes, truncates and rollbacks stream through; SIGTERM
// flushes and exits 0; a restart resumes where it stopped.
func TestSnapshotThenStream(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "")
	e.srcExec(`
		CREATE TABLE customers (id int PRIMARY KEY, name text NOT NULL, email text);
		CREATE TABLE order_lines (order_id int, line int, article text, qty numeric(10,2), PRIMARY KEY (order_id, line));
		CREATE TABLE events (at timestamptz, what text); ALTER TABLE events REPLICA IDENTITY FULL;
		INSERT INTO customers SELECT g, 'name ' || g, CASE WHEN g % 3 = 0 THEN NULL ELSE '' END FROM generate_series(1, 1000) g;
		INSERT INTO order_lines SELECT g / 5, g % 5, 'a' || g, g * 1.25 FROM generate_series(1, 500) g;
		INSERT INTO events VALUES ('2024-01-01 10:00+02', 'x'), ('2024-01-01 10:00+02', 'x'), (NULL, 'y');`)
	p := e.start()
	tables := []string{"customers", "order_lines", "events"}
	e.waitEqual(60*time.Second, p, tables...)

	e.srcExec(`
		INSERT INTO customers VALUES (1001, 'new', NULL);
		UPDATE customers SET name = 'renamed' WHERE id <= 10;
		DELETE FROM customers WHERE id BETWEEN 11 AND 20;
		UPDATE customers SET id = id + 5000 WHERE id BETWEEN 21 AND 25;
		UPDATE order_lines SET qty = qty * 2 WHERE order_id = 3;
		UPDATE order_lines SET line = line + 10 WHERE order_id = 4;
		DELETE FROM events WHERE what = 'x' AND ctid = (SELECT min(ctid) FROM events WHERE what = 'x');
		UPDATE events SET what = 'z' WHERE what = 'y';
		BEGIN; INSERT INTO customers VALUES (9999, 'rolled back', NULL); ROLLBACK;
		BEGIN; INSERT INTO customers VALUES (8888, 'kept', NULL); SAVEPOINT s; INSERT INTO customers VALUES (8889, 'sub rolled back', NULL); ROLLBACK TO s; COMMIT;`)
	e.waitEqual(30*time.Second, p, tables...)
	p.stop(t)

	e.srcExec(`INSERT INTO customers VALUES (2000, 'while down', 'x'); TRUNCATE order_lines; INSERT INTO order_lines VALUES (1, 1, 'after truncate', 1);`)
	p = e.start()
	e.waitEqual(30*time.Second, p, tables...)
	p.stop(t)
}
