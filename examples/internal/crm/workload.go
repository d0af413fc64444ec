package crm

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

const (
	workers    = 3                     // concurrent client sessions
	pause      = 15 * time.Millisecond // between one worker's transactions
	bigOrders  = 600                   // orders in the large transaction...
	bigLines   = 5                     // ...with this many lines each
	keyChangeN = 1000000               // a changed customer key becomes id + keyChangeN
)

// Workload makes realistic changes on the source: a few sessions running
// small transactions, plus scheduled events.
type Workload struct {
	Name string // "demo": says whose transaction failed

	pool *pgxpool.Pool
	say  func(string, ...any)

	maxCustomer, maxOrder atomic.Int64 // highest ids handed out so far
	txns, failed          atomic.Int64
	bigTxns, keyChanges   atomic.Int64
}

// NewWorkload connects to the crm database at dsn; say reports events and
// the first failed transactions.
func NewWorkload(ctx context.Context, dsn string, say func(string, ...any)) (*Workload, error) {
	pool, err := pgxpool.New(ctx, dsn)
	if err != nil {
		return nil, err
	}
	w := &Workload{Name: "demo", pool: pool, say: say}
	var c, o int64
	if err := pool.QueryRow(ctx, `SELECT (SELECT max(id) FROM customers), (SELECT max(id) FROM orders)`).Scan(&c, &o); err != nil {
		pool.Close()
		return nil, err
	}
	w.maxCustomer.Store(c)
	w.maxOrder.Store(o)
	return w, nil
}

// Close closes the connections.
func (w *Workload) Close() { w.pool.Close() }

// Pool is the workload's connection pool, for scheduled events.
func (w *Workload) Pool() *pgxpool.Pool { return w.pool }

// Txns is the number of transactions committed by the workers so far.
func (w *Workload) Txns() int64 { return w.txns.Load() }

// Summary says how many transactions were committed (and failed).
func (w *Workload) Summary() string {
	s := fmt.Sprintf("%d transactions committed so far", w.txns.Load())
	if n := w.failed.Load(); n > 0 {
		s += fmt.Sprintf(", %d failed", n)
	}
	return s
}

// Start runs the workers until the returned stop is called; stop waits
// for the transactions in flight. Each worker picks among the standard
// operations and extra, by weight.
func (w *Workload) Start(ctx context.Context, extra ...Op) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for i := range workers {
		wg.Go(func() { w.worker(ctx, rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), uint64(i))), extra) })
	}
	return func() { cancel(); wg.Wait() }
}

// Op is one kind of small transaction a worker runs.
type Op struct {
	Weight int // how often, relative to the other operations
	Run    func(ctx context.Context, tx pgx.Tx, r *rand.Rand) error
}

func (w *Workload) worker(ctx context.Context, r *rand.Rand, extra []Op) {
	ops := []Op{
		{10, w.newCustomer},
		{30, w.newOrder},
		{20, w.advanceOrder},
		{10, w.changePrice},
		{8, w.updateCustomer},
		{8, w.deletePhone},
		{8, w.setPhone},
		{6, w.cancelOrder},
	}
	ops = append(ops, extra...)
	total := 0
	for _, o := range ops {
		total += o.Weight
	}
	for ctx.Err() == nil {
		n := r.IntN(total)
		var o Op
		for _, o = range ops {
			if n -= o.Weight; n < 0 {
				break
			}
		}
		err := pgx.BeginFunc(ctx, w.pool, func(tx pgx.Tx) error { return o.Run(ctx, tx, r) })
		switch {
		case ctx.Err() != nil:
		case err != nil:
			if w.failed.Add(1) <= 3 {
				w.say("a source transaction failed (the %s goes on): %v", w.Name, err)
			}
		default:
			w.txns.Add(1)
		}
		select {
		case <-ctx.Done():
		case <-time.After(pause/2 + rand.N(pause)):
		}
	}
}

// SomeCustomer is SQL for an existing customer id at or after a random one.
const SomeCustomer = `(SELECT id FROM customers WHERE id >= $1 ORDER BY id LIMIT 1)`

// RandCustomer is a random customer id up to the highest handed out (it
// may be gone: use SomeCustomer).
func (w *Workload) RandCustomer(r *rand.Rand) int64 { return 1 + r.Int64N(w.maxCustomer.Load()) }

// RandOrder is a random order id up to the highest handed out.
func (w *Workload) RandOrder(r *rand.Rand) int64 { return 1 + r.Int64N(w.maxOrder.Load()) }

var (
	firstNames = []string{"Aiko", "Bo", "Carmen", "Dirk", "Elif", "Femke", "Goran", "Hanna", "Ivo", "Julia", "Kees", "Lotte"}
	lastNames  = []string{"Bakker", "Visser", "Schmidt", "Martin", "Brown", "Bianchi", "López", "Kowalski", "Lund", "Claes"}
	countries  = []string{"NL", "NL", "DE", "BE", "FR", "GB", "ES", "IT", "SE", "PL", "US"}
	phoneKinds = []string{"mobile", "home", "work"}
)

func pick[T any](r *rand.Rand, s []T) T { return s[r.IntN(len(s))] }

func phone(r *rand.Rand) string { return fmt.Sprintf("+31 6 %08d", r.IntN(100000000)) }

func (w *Workload) newCustomer(ctx context.Context, tx pgx.Tx, r *rand.Rand) error {
	first, last := pick(r, firstNames), pick(r, lastNames)
	birth := time.Date(1950+r.IntN(55), time.Month(1+r.IntN(12)), 1+r.IntN(28), 0, 0, 0, 0, time.UTC)
	var id int64
	err := tx.QueryRow(ctx, `INSERT INTO customers (name, email, country, birth_date)
		VALUES ($1, lower(replace($1, ' ', '.')) || '@example.org', $2, $3) RETURNING id`,
		first+" "+last, pick(r, countries), birth).Scan(&id)
	if err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `INSERT INTO phone_numbers VALUES ($1, 'mobile', $2)`, id, phone(r)); err != nil {
		return err
	}
	storeMax(&w.maxCustomer, id)
	return nil
}

func (w *Workload) newOrder(ctx context.Context, tx pgx.Tx, r *rand.Rand) error {
	var id int64
	err := tx.QueryRow(ctx, `INSERT INTO orders (customer_id, ordered_at) SELECT `+SomeCustomer+`, now() RETURNING id`,
		w.RandCustomer(r)).Scan(&id)
	if err != nil {
		return err
	}
	_, err = tx.Exec(ctx, `INSERT INTO order_lines (order_id, line_no, article_id, qty)
		SELECT $1, g, 1 + (random() * 199)::int, 1 + (random() * 4)::int FROM generate_series(1, $2::int) g`,
		id, 1+r.IntN(5))
	storeMax(&w.maxOrder, id)
	return err
}

// advanceOrder moves an order from new to paid or from paid to shipped.
func (w *Workload) advanceOrder(ctx context.Context, tx pgx.Tx, r *rand.Rand) error {
	_, err := tx.Exec(ctx, `UPDATE orders SET status = CASE status WHEN 'new' THEN 'paid'::order_status ELSE 'shipped' END
		WHERE id = (SELECT id FROM orders WHERE id >= $1 AND status <> 'shipped' ORDER BY id LIMIT 1)`,
		w.RandOrder(r)*9/10) // most open orders are recent
	return err
}

func (w *Workload) changePrice(ctx context.Context, tx pgx.Tx, r *rand.Rand) error {
	_, err := tx.Exec(ctx, `UPDATE articles SET price = greatest(0.99, round(price * $2::float8::numeric, 2)) WHERE id = $1`,
		1+r.IntN(200), 0.9+float64(r.IntN(21))/100)
	return err
}

func (w *Workload) updateCustomer(ctx context.Context, tx pgx.Tx, r *rand.Rand) error {
	_, err := tx.Exec(ctx, `UPDATE customers SET email = lower(replace(name, ' ', '.')) || $2::int || '@example.net',
		country = $3, updated_at = now() WHERE id = `+SomeCustomer, w.RandCustomer(r), r.IntN(1000), pick(r, countries))
	return err
}

func (w *Workload) deletePhone(ctx context.Context, tx pgx.Tx, r *rand.Rand) error {
	_, err := tx.Exec(ctx, `DELETE FROM phone_numbers WHERE (customer_id, kind) =
		(SELECT customer_id, kind FROM phone_numbers WHERE customer_id >= $1 ORDER BY customer_id, kind LIMIT 1)`,
		w.RandCustomer(r))
	return err
}

func (w *Workload) setPhone(ctx context.Context, tx pgx.Tx, r *rand.Rand) error {
	_, err := tx.Exec(ctx, `INSERT INTO phone_numbers SELECT `+SomeCustomer+`, $2, $3
		ON CONFLICT (customer_id, kind) DO UPDATE SET number = excluded.number`,
		w.RandCustomer(r), pick(r, phoneKinds), phone(r))
	return err
}

// cancelOrder deletes a new order; its lines go with it (ON DELETE CASCADE).
func (w *Workload) cancelOrder(ctx context.Context, tx pgx.Tx, r *rand.Rand) error {
	_, err := tx.Exec(ctx, `DELETE FROM orders WHERE id = (SELECT id FROM orders WHERE id >= $1 AND status = 'new' ORDER BY id LIMIT 1)`,
		w.RandOrder(r)*9/10)
	return err
}

// BigTransaction inserts bigOrders orders with bigLines lines each and
// raises every article's price, all in one transaction. The customers it
// picks are locked FOR KEY SHARE: otherwise a concurrent transaction may
// delete one (or change its key) between the pick and the foreign-key
// check, which fails the whole transaction (SQLSTATE 23503). A picked
// customer deleted meanwhile is skipped instead; a changed key is followed.
// A deadlock with a transaction deleting several customers is retried.
func (w *Workload) BigTransaction(ctx context.Context) error {
	start := time.Now()
	var orders, lines, maxID int64
	err := retryDeadlock(ctx, func() error {
		return pgx.BeginFunc(ctx, w.pool, func(tx pgx.Tx) error {
			err := tx.QueryRow(ctx, `WITH o AS (
				INSERT INTO orders (customer_id, ordered_at, status)
				SELECT id, now(), 'paid' FROM customers ORDER BY random() LIMIT $1 FOR KEY SHARE
				RETURNING id),
			l AS (
				INSERT INTO order_lines (order_id, line_no, article_id, qty)
				SELECT o.id, g, 1 + (random() * 199)::int, 1 + (random() * 9)::int FROM o, generate_series(1, $2::int) g
				RETURNING 1)
			SELECT (SELECT count(*) FROM o), (SELECT count(*) FROM l), (SELECT max(id) FROM o)`,
				bigOrders, bigLines).Scan(&orders, &lines, &maxID)
			if err != nil {
				return err
			}
			_, err = tx.Exec(ctx, `UPDATE articles SET price = round(price * 1.03, 2)`)
			return err
		})
	})
	if err != nil {
		return fmt.Errorf("large transaction: %w", err)
	}
	storeMax(&w.maxOrder, maxID)
	w.bigTxns.Add(1)
	w.say("committed one large transaction: %d orders, %d order lines and a 3%% price rise on all 200 articles (%s)",
		orders, lines, time.Since(start).Round(time.Millisecond))
	return nil
}

// ChangeCustomerKey changes the primary key of the customer with the most
// orders; ON UPDATE CASCADE rewrites the keys of its orders and phone numbers
// in the same transaction.
func (w *Workload) ChangeCustomerKey(ctx context.Context) error {
	var id, orders, phones int64
	err := pgx.BeginFunc(ctx, w.pool, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `SELECT customer_id, count(*) FROM orders WHERE customer_id < $1
			GROUP BY customer_id ORDER BY count(*) DESC, customer_id LIMIT 1`, keyChangeN).Scan(&id, &orders)
		if err != nil {
			return err
		}
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM phone_numbers WHERE customer_id = $1`, id).Scan(&phones); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE customers SET id = id + $2, updated_at = now() WHERE id = $1`, id, keyChangeN)
		return err
	})
	if err != nil {
		return fmt.Errorf("primary key change: %w", err)
	}
	w.keyChanges.Add(1)
	w.say("changed the primary key of customer %d to %d; its %s and %s follow (ON UPDATE CASCADE)",
		id, id+keyChangeN, plural(orders, "order"), plural(phones, "phone number"))
	return nil
}

func storeMax(a *atomic.Int64, v int64) {
	for {
		cur := a.Load()
		if v <= cur || a.CompareAndSwap(cur, v) {
			return
		}
	}
}

func plural(n int64, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// retryDeadlock runs f again, up to 3 times in all, when the server chose
// its transaction as a deadlock's victim (SQLSTATE 40P01).
func retryDeadlock(ctx context.Context, f func() error) error {
	var err error
	for range 3 {
		var pgErr *pgconn.PgError
		if err = f(); !errors.As(err, &pgErr) || pgErr.Code != "40P01" || ctx.Err() != nil {
			return err
		}
	}
	return err
}
