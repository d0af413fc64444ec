package examples_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sluicecdc/sluice/internal/pgtest"
)

// TestComposeSetupLocally runs what `docker compose up` runs, without
// Docker: examples/docker/source-init.sql on a fresh source database, then
// sluice with examples/docker/sluice.yaml (hosts and checkpoint path pointed
// at local clusters through SLUICE_* overrides), and checks the target.
func TestComposeSetupLocally(t *testing.T) {
	t.Parallel()
	bin := buildSluice(t)
	ctx := runWithTimeout(t, 3*time.Minute)
	src := pgtest.Start(t, pgtest.Options{})
	dst := pgtest.Start(t, pgtest.Options{})
	if err := src.CreateDB(ctx, "crm"); err != nil {
		t.Fatal(err)
	}
	if err := dst.CreateDB(ctx, "dwh"); err != nil {
		t.Fatal(err)
	}
	initSQL, err := os.ReadFile("docker/source-init.sql")
	if err != nil {
		t.Fatal(err)
	}
	if err := src.Exec(ctx, "crm", string(initSQL)); err != nil {
		t.Fatalf("docker/source-init.sql: %v", err)
	}

	dir := t.TempDir()
	var out syncBuffer
	cmd := exec.Command(bin, "run", "--config", "docker/sluice.yaml")
	cmd.Env = append(os.Environ(),
		"SOURCE_PASSWORD=unused", "TARGET_PASSWORD=unused",
		"SLUICE_SOURCE_DSN="+src.DSN("crm"), "SLUICE_SINK_DSN="+dst.DSN("dwh"),
		"SLUICE_CHECKPOINT_PATH="+filepath.Join(dir, "crm-to-dwh.checkpoint"),
		"SLUICE_HTTP_LISTEN="+freeAddr(t))
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() { cmd.Process.Kill() })

	tables := []string{"customers", "articles", "orders", "order_lines", "phone_numbers"}
	waitEqual(t, ctx, src.DSN("crm"), dst.DSN("dwh"), tables, done, &out)
	runHealthchecks(t, ctx, bin, readCompose(t), "sluice", cmd.Env)
	if err := src.Exec(ctx, "crm", `
		INSERT INTO customers (name, email, country) VALUES ('New Customer', 'new@example.com', 'NL');
		UPDATE articles SET price = price * 1.10 WHERE id <= 10;
		UPDATE orders SET status = 'shipped' WHERE status = 'paid';
		DELETE FROM phone_numbers WHERE customer_id % 3 = 0;
		UPDATE customers SET id = id + 1000 WHERE id = 7;
		DELETE FROM orders WHERE id % 10 = 0;`); err != nil {
		t.Fatal(err)
	}
	waitEqual(t, ctx, src.DSN("crm"), dst.DSN("dwh"), tables, done, &out)

	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("sluice exited with %v after SIGTERM; output:\n%s", err, out.String())
		}
	case <-ctx.Done():
		t.Fatalf("sluice did not exit after SIGTERM; output:\n%s", out.String())
	}
}

// TestDemo runs `go run ./examples/demo` in a short mode and expects the
// OK verdict, a clean SIGTERM exit and the crash phase.
func TestDemo(t *testing.T) {
	t.Parallel()
	ctx := runWithTimeout(t, 3*time.Minute)
	cmd := exec.CommandContext(ctx, "go", "run", "./examples/demo", "-duration", "3s", "-build")
	cmd.Dir = root
	cmd.WaitDelay = 10 * time.Second
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go run ./examples/demo -duration 3s: %v (context: %v)\n%s", err, ctx.Err(), out)
	}
	for _, want := range []string{
		"snapshot copied: the target equals the source row for row",
		"committed one large transaction: 600 orders, 3000 order lines",
		"changed the primary key of customer",
		"phase 1: target equals source row for row in all 5 tables",
		"sluice: signal: killed",
		"phase 2 (after kill -9): target equals source row for row in all 5 tables",
		"sluice exited with status 0",
		"OK: target equals source row for row in all 5 tables",
		"clusters and temp files removed",
	} {
		if !bytes.Contains(out, []byte(want)) {
			t.Errorf("the demo's output lacks %q", want)
		}
	}
	if t.Failed() {
		t.Logf("demo output:\n%s", out)
	}
}

// TestDemoInterrupt sends the demo SIGINT (Ctrl-C) in the middle of its
// live phase and checks that it stops sluice, removes the clusters and its
// temp dir, and exits 130.
func TestDemoInterrupt(t *testing.T) {
	t.Parallel()
	ctx := runWithTimeout(t, 3*time.Minute)
	demo := filepath.Join(t.TempDir(), "demo")
	build := exec.CommandContext(ctx, "go", "build", "-o", demo, "./examples/demo")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./examples/demo: %v\n%s", err, out)
	}
	cmd := exec.Command(demo, "-duration", "60s", "-build")
	cmd.Dir = root
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	t.Cleanup(func() { cmd.Process.Kill() })

	var out syncBuffer
	live := make(chan struct{})
	drained := make(chan struct{}) // the output was read to its end
	go func() {
		defer close(drained)
		sc := bufio.NewScanner(pr)
		sc.Buffer(nil, 1<<20)
		signaled := false
		for sc.Scan() {
			out.Write(append(sc.Bytes(), '\n'))
			if !signaled && strings.Contains(sc.Text(), "[  2s] source:") {
				signaled = true
				close(live)
			}
		}
	}()
	select {
	case <-live:
	case <-ctx.Done():
		t.Fatalf("the demo did not reach its live phase; output:\n%s", out.String())
	}
	cmd.Process.Signal(os.Interrupt)
	waitErr := make(chan error, 1)
	go func() { waitErr <- cmd.Wait() }()
	select {
	case err = <-waitErr:
	case <-ctx.Done():
		t.Fatalf("the demo did not exit after SIGINT; output:\n%s", out.String())
	}
	select { // Wait returning does not mean the pipe's last lines were read
	case <-drained:
	case <-ctx.Done():
		t.Fatalf("the demo's output did not end; output:\n%s", out.String())
	}
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 130 {
		t.Fatalf("the demo exited with %v after SIGINT, want status 130; output:\n%s", err, out.String())
	}
	text := out.String()
	if !strings.Contains(text, "interrupted; everything is cleaned up") {
		t.Errorf("no cleanup message; output:\n%s", text)
	}
	// The servers are gone...
	for _, m := range regexp.MustCompile(`(source|target): postgres://postgres@(127\.0\.0\.1:\d+)/`).FindAllStringSubmatch(text, -1) {
		if c, err := net.DialTimeout("tcp", m[2], time.Second); err == nil {
			c.Close()
			t.Errorf("the %s server still listens on %s", m[1], m[2])
		}
	}
	// ...and so are the temp dir and the sluice process.
	cfg := regexp.MustCompile(`config (\S+/sluice\.yaml):`).FindStringSubmatch(text)
	if cfg == nil {
		t.Fatalf("no config path in the output:\n%s", text)
	}
	if _, err := os.Stat(filepath.Dir(cfg[1])); !os.IsNotExist(err) {
		t.Errorf("the demo's temp dir %s is still there (%v)", filepath.Dir(cfg[1]), err)
	}
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		if b, err := os.ReadFile(p); err == nil && bytes.Contains(b, []byte(cfg[1])) {
			t.Errorf("a process still runs with the demo's config: %s: %q", p, bytes.ReplaceAll(b, []byte{0}, []byte{' '}))
		}
	}
}

// waitEqual waits until every table is equal row for row in the source
// (schema public) and the target (schema crm).
func waitEqual(t *testing.T, ctx context.Context, srcDSN, dstDSN string, tables []string, exited chan error, out *syncBuffer) {
	t.Helper()
	var last string
	for {
		last = ""
		for _, tbl := range tables {
			s, err := tableRows(ctx, srcDSN, "public", tbl)
			if err != nil {
				t.Fatalf("source %s: %v", tbl, err)
			}
			d, err := tableRows(ctx, dstDSN, "crm", tbl)
			switch {
			case err != nil:
				last = fmt.Sprintf("target %s: %v", tbl, err)
			case !slices.Equal(s, d):
				last = fmt.Sprintf("%s: source has %d rows, target %d, or they differ", tbl, len(s), len(d))
			}
			if last != "" {
				break
			}
		}
		if last == "" {
			return
		}
		select {
		case err := <-exited:
			t.Fatalf("sluice exited (%v) before the target matched (%s); output:\n%s", err, last, out.String())
		case <-ctx.Done():
			t.Fatalf("the target did not match the source: %s; output:\n%s", last, out.String())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func tableRows(ctx context.Context, dsn, schema, table string) ([]string, error) {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "SET TimeZone = 'UTC'"); err != nil {
		return nil, err
	}
	rows, err := conn.Query(ctx, fmt.Sprintf("SELECT t::text FROM %s t ORDER BY 1", pgx.Identifier{schema, table}.Sanitize()))
	if err != nil {
		return nil, err
	}
	list, err := pgx.CollectRows(rows, pgx.RowTo[string])
	slices.Sort(list)
	return list, err
}

// syncBuffer is a bytes.Buffer safe for a writer and a reader goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
