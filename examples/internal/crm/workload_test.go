package crm

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sluicecdc/sluice/internal/pgtest"
)

// TestBigTransactionRacesKeyChanges: the large transaction picks customers
// while another transaction changes their keys (as ChangeCustomerKey does,
// or deletes them, as the warehouse does). It must wait for that one and
// use the keys as they are after it, not fail its foreign-key check with
// SQLSTATE 23503, which stopped make demo and TestWarehouse now and then.
func TestBigTransactionRacesKeyChanges(t *testing.T) {
	ctx := context.Background()
	c := pgtest.Start(t, pgtest.Options{})
	if err := c.CreateDB(ctx, "crm"); err != nil {
		t.Fatal(err)
	}
	if err := c.Exec(ctx, "crm", SchemaSQL+SeedSQL); err != nil {
		t.Fatal(err)
	}
	var said []string
	w, err := NewWorkload(ctx, c.DSN("crm"), func(f string, args ...any) { said = append(said, fmt.Sprintf(f, args...)) })
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()

	other, err := pgx.Connect(ctx, c.DSN("crm"))
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close(ctx)
	tx, err := other.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, `UPDATE customers SET id = id + $1`, keyChangeN); err != nil {
		t.Fatal(err)
	}
	if err := raceBigTransaction(ctx, t, c, w, tx, "the key change"); err != nil {
		t.Fatalf("large transaction: %v", err)
	}
	if len(said) == 0 || !strings.HasPrefix(said[0], "committed one large transaction: 600 orders") {
		t.Errorf("said %q", said)
	}
}

// TestBigTransactionRacesDeletes: the large transaction picks customers
// that another transaction is deleting. It must wait for that one, skip the
// deleted customers and commit, never fail its foreign-key check
// (SQLSTATE 23503).
func TestBigTransactionRacesDeletes(t *testing.T) {
	ctx := context.Background()
	c := pgtest.Start(t, pgtest.Options{})
	if err := c.CreateDB(ctx, "crm"); err != nil {
		t.Fatal(err)
	}
	// Only customers without orders can be deleted (orders keep theirs);
	// make them the great majority, so the large transaction's random
	// picks certainly include some.
	if err := c.Exec(ctx, "crm", SchemaSQL+SeedSQL+`
		INSERT INTO customers (name, email, country, birth_date, updated_at)
		SELECT 'gone ' || g, 'gone' || g || '@example.com', 'CH', '1990-01-01', now() FROM generate_series(1, 20000) g`); err != nil {
		t.Fatal(err)
	}
	w, err := NewWorkload(ctx, c.DSN("crm"), func(string, ...any) {})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	other, err := pgx.Connect(ctx, c.DSN("crm"))
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close(ctx)
	tx, err := other.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, `DELETE FROM customers WHERE name LIKE 'gone %'`); err != nil {
		t.Fatal(err)
	}
	if err := raceBigTransaction(ctx, t, c, w, tx, "the deletes"); err != nil {
		t.Fatalf("large transaction: %v", err)
	}
	orphans, err := c.QueryValue(ctx, "crm", `SELECT count(*) FROM orders o WHERE NOT EXISTS (SELECT 1 FROM customers c WHERE c.id = o.customer_id)`)
	if err != nil || orphans != "0" {
		t.Fatalf("orders without a customer: %s (%v)", orphans, err)
	}
}

// raceBigTransaction runs the large transaction while tx (another
// session's open transaction, holding row locks the large one needs) is
// open, commits tx only once the large transaction waits for its locks,
// and returns the large transaction's outcome.
func raceBigTransaction(ctx context.Context, t *testing.T, c *pgtest.Cluster, w *Workload, tx pgx.Tx, what string) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- w.BigTransaction(ctx) }()
	for deadline := time.Now().Add(30 * time.Second); ; {
		n, err := c.QueryValue(ctx, "crm", "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'")
		if err != nil {
			t.Fatal(err)
		}
		if n != "0" {
			break
		}
		select {
		case err := <-done:
			t.Fatalf("the large transaction ended (%v) while %s was open", err, what)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("the large transaction never waited for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	return <-done
}
