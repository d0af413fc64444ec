package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// verifyEnv is a source and a target of one engine each, a sluice config
// with the admin endpoint on, and a pgbench-like write load.
type verifyEnv struct {
	*xenv
	addr string
	ns   string // the source schema: public or app
}

func newVerifyEnv(t *testing.T, srcKind, dstKind, sinkExtra string) *verifyEnv {
	t.Helper()
	x := newXEnv(t, srcKind, dstKind, sinkExtra)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	b, err := os.ReadFile(x.cfg)
	if err != nil {
		t.Fatal(err)
	}
	cfg := string(b) + fmt.Sprintf("http:\n  listen: %s\n  admin: true\n", addr)
	if err := os.WriteFile(x.cfg, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	ns := "public"
	if srcKind == "mysql" {
		ns = "app"
	}
	return &verifyEnv{xenv: x, addr: addr, ns: ns}
}

// runVerify runs sluice verify with --json and returns its exit code and
// report.
func (e *verifyEnv) runVerify(cfg string, args ...string) (int, verifyReport, string) {
	e.t.Helper()
	cmd := exec.Command(binary, append([]string{"verify", "--config", cfg, "--json"}, args...)...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		e.t.Fatal(err)
	}
	var rep verifyReport
	if jerr := json.Unmarshal(out.Bytes(), &rep); jerr != nil {
		e.t.Fatalf("verify printed no JSON report (%v): %s\nstderr: %s", jerr, out.String(), errb.String())
	}
	return code, rep, out.String() + errb.String()
}

// table returns the report's line of a source table.
func (r verifyReport) table(name string) verifyTable {
	for _, t := range r.Tables {
		if t.Table == name {
			return t
		}
	}
	return verifyTable{}
}

// diffKeys lists a table's differences as "kind key" (keyed) or "kind
// row source/target" (keyless), sorted.
func diffKeys(t verifyTable) []string {
	var out []string
	for _, d := range t.Diffs {
		if d.Key != nil {
			out = append(out, d.Kind+" "+strings.Join(d.Key, ","))
		} else {
			out = append(out, fmt.Sprintf("%s %s %d/%d", d.Kind, d.Row, d.Source, d.Target))
		}
	}
	sort.Strings(out)
	return out
}

// load is a pgbench-like write load on the source: each transaction moves
// an amount between an account, a teller and a branch and logs it in the
// keyless history table; every 8th also inserts an account above 1,000,000
// and deletes an earlier one. Accounts 1..nTouched only are updated.
type load struct {
	stop  chan struct{}
	wg    sync.WaitGroup
	txns  atomic.Int64
	errMu sync.Mutex
	err   error
}

const nAccounts, nTouched = 20000, 10000

// pgbench creates and fills the pgbench tables on the source.
func (e *verifyEnv) pgbench() {
	e.t.Helper()
	ns := e.ns
	if e.from.kind() == "postgres" {
		e.from.exec(e.t, `CREATE TABLE branches (bid int PRIMARY KEY, bbalance int NOT NULL);
			CREATE TABLE tellers (tid int PRIMARY KEY, bid int NOT NULL, tbalance int NOT NULL);
			CREATE TABLE accounts (aid int PRIMARY KEY, bid int NOT NULL, abalance int NOT NULL, filler char(84));
			CREATE TABLE history (tid int, bid int, aid int, delta int, mtime timestamp(6));
			ALTER TABLE history REPLICA IDENTITY FULL;
			INSERT INTO branches SELECT g, 0 FROM generate_series(1, 10) g;
			INSERT INTO tellers SELECT g, (g - 1) / 10 + 1, 0 FROM generate_series(1, 100) g;
			INSERT INTO accounts SELECT g, (g - 1) / 2000 + 1, 0, 'x' FROM generate_series(1, 20000) g;`)
		return
	}
	e.from.exec(e.t, `CREATE TABLE `+ns+`.branches (bid int PRIMARY KEY, bbalance int NOT NULL);
		CREATE TABLE `+ns+`.tellers (tid int PRIMARY KEY, bid int NOT NULL, tbalance int NOT NULL);
		CREATE TABLE `+ns+`.accounts (aid int PRIMARY KEY, bid int NOT NULL, abalance int NOT NULL, filler char(84));
		CREATE TABLE `+ns+`.history (tid int, bid int, aid int, delta int, mtime datetime(6));
		INSERT INTO `+ns+`.branches SELECT seq, 0 FROM app.seq_1_to_10;
		INSERT INTO `+ns+`.tellers SELECT seq, (seq - 1) DIV 10 + 1, 0 FROM app.seq_1_to_100;
		INSERT INTO `+ns+`.accounts SELECT seq, (seq - 1) DIV 2000 + 1, 0, 'x' FROM app.seq_1_to_20000;`)
}

// startLoad runs workers transactions on the source until stopped.
func (e *verifyEnv) startLoad(workers int) *load {
	l := &load{stop: make(chan struct{})}
	ctx := context.Background()
	for w := range workers {
		tx, closeFn, err := e.txRunner(ctx)
		if err != nil {
			e.t.Fatal(err)
		}
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			defer closeFn()
			rng := rand.New(rand.NewPCG(uint64(w), 7))
			for i := 0; ; i++ {
				select {
				case <-l.stop:
					return
				default:
				}
				aid, tid := rng.IntN(nTouched)+1, rng.IntN(100)+1
				bid, delta := (tid-1)/10+1, rng.IntN(10001)-5000
				stmts := []string{
					fmt.Sprintf("UPDATE %s.accounts SET abalance = abalance + %d WHERE aid = %d", e.ns, delta, aid),
					fmt.Sprintf("UPDATE %s.tellers SET tbalance = tbalance + %d WHERE tid = %d", e.ns, delta, tid),
					fmt.Sprintf("UPDATE %s.branches SET bbalance = bbalance + %d WHERE bid = %d", e.ns, delta, bid),
					fmt.Sprintf("INSERT INTO %s.history VALUES (%d, %d, %d, %d, CURRENT_TIMESTAMP)", e.ns, tid, bid, aid, delta),
				}
				if i%8 == 0 {
					n := 1000000 + w*1000000/10 + i/8
					stmts = append(stmts, fmt.Sprintf("INSERT INTO %s.accounts VALUES (%d, 1, %d, 'new')", e.ns, n, delta))
					if i >= 40 {
						stmts = append(stmts, fmt.Sprintf("DELETE FROM %s.accounts WHERE aid = %d", e.ns, n-5))
					}
				}
				if err := tx(ctx, stmts); err != nil {
					l.errMu.Lock()
					l.err = err
					l.errMu.Unlock()
					return
				}
				l.txns.Add(1)
				time.Sleep(2 * time.Millisecond) // two shared cores: leave room for sluice and verify
			}
		}()
	}
	return l
}

func (l *load) end(t *testing.T) {
	t.Helper()
	close(l.stop)
	l.wg.Wait()
	if l.err != nil {
		t.Fatalf("write load: %v", l.err)
	}
	t.Logf("write load: %d transactions", l.txns.Load())
}

// txRunner returns a function that runs statements in one source
// transaction on a connection of its own.
func (e *verifyEnv) txRunner(ctx context.Context) (func(context.Context, []string) error, func(), error) {
	if e.from.kind() == "postgres" {
		conn, err := pgx.Connect(ctx, e.from.dsn())
		if err != nil {
			return nil, nil, err
		}
		return func(ctx context.Context, stmts []string) error {
			return pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
				for _, s := range stmts {
					if _, err := tx.Exec(ctx, s); err != nil {
						return fmt.Errorf("%s: %w", s, err)
					}
				}
				return nil
			})
		}, func() { conn.Close(context.Background()) }, nil
	}
	db := e.from.(*myEnd).s.DB()
	return func(ctx context.Context, stmts []string) error {
		tx, err := db.BeginTx(ctx, &sql.TxOptions{})
		if err != nil {
			return err
		}
		for _, s := range stmts {
			if _, err := tx.ExecContext(ctx, s); err != nil {
				tx.Rollback()
				return fmt.Errorf("%s: %w", s, err)
			}
		}
		return tx.Commit()
	}, func() {}, nil
}
