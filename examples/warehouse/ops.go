package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync/atomic"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/sluicecdc/sluice/examples/internal/crm"
)

// extraOps are the changes the warehouse example adds to the demo's
// workload: deleted customers (a closed 'delete' version in the history)
// and reversed payments (a paid order goes back to 'new' and leaves the
// mart's filter).
type extraOps struct {
	work *crm.Workload
	say  func(string, ...any)

	deleted, reversed atomic.Int64
}

// ops are the extra operations the workers pick among the demo's.
func (x *extraOps) ops() []crm.Op {
	return []crm.Op{
		{Weight: 3, Run: x.deleteCustomer},
		{Weight: 8, Run: x.reversePayment},
	}
}

func (x *extraOps) summary() string {
	return fmt.Sprintf("%d customers deleted, %d payments reversed", x.deleted.Load(), x.reversed.Load())
}

// noOrders picks a customer without orders at or after a random one: one
// that can be deleted.
const noOrders = `(SELECT id FROM customers c WHERE id >= $1 AND NOT EXISTS (SELECT 1 FROM orders o WHERE o.customer_id = c.id) ORDER BY id LIMIT 1)`

// deleteCustomer deletes a customer without orders; its phone numbers go
// with it (ON DELETE CASCADE). A customer who got an order meanwhile (from
// another worker) stays: nothing is deleted.
func (x *extraOps) deleteCustomer(ctx context.Context, tx pgx.Tx, r *rand.Rand) error {
	sp, err := tx.Begin(ctx) // a savepoint
	if err != nil {
		return err
	}
	tag, err := sp.Exec(ctx, `DELETE FROM customers WHERE id = `+noOrders, x.work.RandCustomer(r))
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23503" { // foreign_key_violation: the customer has an order now
		return sp.Rollback(ctx)
	}
	if err != nil {
		return err
	}
	x.deleted.Add(tag.RowsAffected())
	return sp.Commit(ctx)
}

// reversePayment sets a paid order back to new.
func (x *extraOps) reversePayment(ctx context.Context, tx pgx.Tx, r *rand.Rand) error {
	tag, err := tx.Exec(ctx, `UPDATE orders SET status = 'new'
		WHERE id = (SELECT id FROM orders WHERE id >= $1 AND status = 'paid' ORDER BY id LIMIT 1)`, x.work.RandOrder(r)*9/10)
	if err == nil {
		x.reversed.Add(tag.RowsAffected())
	}
	return err
}

// deleteCustomers deletes 3 customers without orders in one transaction.
func (x *extraOps) deleteCustomers(ctx context.Context) error {
	var ids []int64
	err := retry(ctx, func() error {
		return pgx.BeginFunc(ctx, x.work.Pool(), func(tx pgx.Tx) error {
			rows, err := tx.Query(ctx, `DELETE FROM customers WHERE id IN (
			SELECT id FROM customers c WHERE NOT EXISTS (SELECT 1 FROM orders o WHERE o.customer_id = c.id)
				ORDER BY random() LIMIT 3) RETURNING id`)
			if err != nil {
				return err
			}
			ids, err = pgx.CollectRows(rows, pgx.RowTo[int64])
			return err
		})
	})
	if err != nil {
		return fmt.Errorf("delete customers: %w", err)
	}
	x.deleted.Add(int64(len(ids)))
	x.say("deleted customers %v (no orders; their phone numbers go with them): the history keeps their versions and adds a closed 'delete' version", ids)
	return nil
}

// reversePayments sets 10 paid orders back to new in one transaction: they
// leave mart.orders.
func (x *extraOps) reversePayments(ctx context.Context) error {
	var n int64
	err := retry(ctx, func() error {
		return pgx.BeginFunc(ctx, x.work.Pool(), func(tx pgx.Tx) error {
			tag, err := tx.Exec(ctx, `UPDATE orders SET status = 'new'
				WHERE id IN (SELECT id FROM orders WHERE status = 'paid' ORDER BY random() LIMIT 10)`)
			n = tag.RowsAffected()
			return err
		})
	})
	if err != nil {
		return fmt.Errorf("reverse payments: %w", err)
	}
	x.reversed.Add(n)
	x.say("reversed the payment of %d paid orders: they go back to 'new' and leave mart.orders", n)
	return nil
}

// retry runs a scheduled event's transaction up to 3 times: the workers'
// transactions may get in its way (a new order for a customer it deletes).
func retry(ctx context.Context, f func() error) error {
	var err error
	for range 3 {
		if err = f(); err == nil || ctx.Err() != nil {
			return err
		}
	}
	return err
}
