package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// TestVerifyTransformsAndHistory: a table filtered by a where, with a
// column dropped and one renamed, going into a table of another name
// (merge), and the same source into a history target (a second pipeline)
// verify as equal while the rows change; a filtered-out row added to the
// merge target, a changed row there, and a wrong current version in the
// history target are found.
func TestVerifyTransformsAndHistory(t *testing.T) {
	t.Parallel()
	e := newVerifyEnv(t, "postgres", "postgres", "batch:\n  rows: 2000\n")
	e.from.exec(t, `CREATE TABLE customers (id int PRIMARY KEY, name text NOT NULL, country text, ssn text);
		INSERT INTO customers SELECT g, 'name ' || g, CASE WHEN g % 3 = 0 THEN 'DE' ELSE 'NL' END, 'ssn' || g FROM generate_series(1, 300) g;
		CREATE TABLE dim (id int PRIMARY KEY, v text);
		INSERT INTO dim SELECT g, 'v' || g FROM generate_series(1, 200) g;`)
	b, err := os.ReadFile(e.cfg)
	if err != nil {
		t.Fatal(err)
	}
	merge := string(b) + `transforms:
  - tables: ["public.customers"]
    columns: {exclude: [ssn], rename: {name: full_name}}
    where: "country == 'NL'"
    target: {table: clients}
`
	if err := os.WriteFile(e.cfg, []byte(merge), 0o600); err != nil {
		t.Fatal(err)
	}
	dst := e.to.(*pgEnd)
	if err := dst.c.CreateDB(context.Background(), "hist"); err != nil {
		t.Fatal(err)
	}
	hist := filepath.Join(e.dir, "hist.yaml")
	histCfg := fmt.Sprintf(`name: hist
source:
  kind: postgres
  dsn: %s
  tables: ["public.*"]
sink:
  kind: postgres
  dsn: %s
  mode: history
checkpoint:
  path: %s
`, e.from.dsn(), dst.c.DSN("hist"), filepath.Join(e.dir, "hist.checkpoint"))
	if err := os.WriteFile(hist, []byte(histCfg), 0o600); err != nil {
		t.Fatal(err)
	}
	p1 := e.start()
	p2 := startConfig(t, e.dir, hist)
	for _, cfg := range []string{e.cfg, hist} {
		waitVerified(t, e, cfg, 2*time.Minute)
	}

	// Changes to rows 1..200 while verify runs: countries flip (rows leave
	// and enter the filter), names and versions change.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var txns atomic.Int64
	var loadErr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		ctx := context.Background()
		conn, err := pgx.Connect(ctx, e.from.dsn())
		if err != nil {
			loadErr = err
			return
		}
		defer conn.Close(ctx)
		rng := rand.New(rand.NewPCG(1, 2))
		for {
			select {
			case <-stop:
				return
			default:
			}
			id := rng.IntN(200) + 1
			_, err := conn.Exec(ctx, fmt.Sprintf(`UPDATE customers SET country = CASE WHEN country = 'NL' THEN 'DE' ELSE 'NL' END, name = 'name %d' WHERE id = %d;
				UPDATE dim SET v = 'v%d' WHERE id = %d`, rng.IntN(1000), id, rng.IntN(1000), rng.IntN(100)+1))
			if err != nil {
				loadErr = err
				return
			}
			txns.Add(1)
			time.Sleep(2 * time.Millisecond)
		}
	}()
	for i := range 5 {
		for _, cfg := range []string{e.cfg, hist} {
			code, rep, out := e.runVerify(cfg)
			if code != 0 || rep.Equal != 2 {
				t.Fatalf("run %d of %s under load: exit %d, want 0 with 2 tables equal\n%s", i+1, filepath.Base(cfg), code, out)
			}
			if i == 0 {
				for _, tb := range rep.Tables {
					t.Logf("%s: %s → %s: %d rows, %.2fs", filepath.Base(cfg), tb.Table, tb.Target, tb.Rows, tb.Seconds)
				}
			}
		}
	}

	// Hand-made differences on rows the changes do not touch.
	e.to.exec(t, `INSERT INTO public.clients (id, full_name, country) VALUES (1000, 'filtered out', 'DE')`)
	e.to.exec(t, `UPDATE public.clients SET full_name = 'wrong' WHERE id = 250`)
	dst.c.Exec(context.Background(), "hist", `UPDATE public.dim SET v = 'wrong' WHERE id = 150 AND _current`)
	code, rep, out := e.runVerify(e.cfg)
	if got, want := diffKeys(rep.table("public.customers")), []string{"changed 250", "extra 1000"}; code != 1 || !slices.Equal(got, want) {
		t.Errorf("merge with transforms: exit %d, differences %q; want 1, %q\n%s", code, got, want, out)
	}
	if rep.table("public.customers").Target != "public.clients" {
		t.Errorf("merge with transforms: target %q, want public.clients", rep.table("public.customers").Target)
	}
	text, textCode := verifyText(t, e.cfg)
	if textCode != 1 || !strings.Contains(text, "DIFFER") || !strings.Contains(text, "    extra    id=1000\n") || !strings.Contains(text, "    changed  id=250\n") ||
		!strings.Contains(text, "public.customers → public.clients") || !strings.Contains(text, "DIFFERENT: 2 tables: 1 equal, 1 differ") {
		t.Errorf("verify without --json: exit %d, output\n%s", textCode, text)
	}
	t.Logf("verify without --json:\n%s", text)
	code, rep, out = e.runVerify(e.cfg, "--table", "public.d*")
	if code != 0 || len(rep.Tables) != 1 || rep.table("public.dim").Status != "equal" {
		t.Errorf("verify --table public.d*: exit %d, want 0 with public.dim alone, equal\n%s", code, out)
	}
	code, rep, out = e.runVerify(hist)
	if got, want := diffKeys(rep.table("public.dim")), []string{"changed 150"}; code != 1 || !slices.Equal(got, want) {
		t.Errorf("history: exit %d, differences %q; want 1, %q\n%s", code, got, want, out)
	}
	if rep.table("public.customers").Status != "equal" {
		t.Errorf("history: customers %s, want equal\n%s", rep.table("public.customers").Status, out)
	}
	close(stop)
	wg.Wait()
	if loadErr != nil {
		t.Fatal(loadErr)
	}
	t.Logf("changes: %d transactions", txns.Load())
	p1.stop(t)
	p2.stop(t)
}

// waitVerified runs verify until it exits 0 (the initial copy is done).
func waitVerified(t *testing.T, e *verifyEnv, cfg string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		code, _, out := e.runVerify(cfg)
		if code == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: verify did not exit 0 within %v:\n%s", filepath.Base(cfg), timeout, out)
		}
		time.Sleep(time.Second)
	}
}

// startConfig starts sluice run with another config.
func startConfig(t *testing.T, dir, cfg string) *proc {
	t.Helper()
	logPath := filepath.Join(dir, fmt.Sprintf("sluice-%s-%d.log", strings.TrimSuffix(filepath.Base(cfg), ".yaml"), time.Now().UnixNano()))
	f, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(binary, "run", "--config", cfg)
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proc{cmd: cmd, log: logPath, done: make(chan error, 1)}
	go func() { p.done <- cmd.Wait(); f.Close() }()
	t.Cleanup(func() { cmd.Process.Kill() })
	return p
}

// verifyText runs sluice verify without --json and returns its output and
// exit code.
func verifyText(t *testing.T, cfg string) (string, int) {
	t.Helper()
	out, err := exec.Command(binary, "verify", "--config", cfg).CombinedOutput()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return string(out), ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return string(out), 0
}
