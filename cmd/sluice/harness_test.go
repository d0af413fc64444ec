package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sluicecdc/sluice/internal/pgtest"
)

// binary is the sluice binary built once for the end-to-end tests.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "sluice-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "sluice")
	if out, err := exec.Command("go", "build", "-tags", "sluicetest", "-o", binary, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build sluice: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// env is a source and a target cluster with a database each, and a config.
type env struct {
	t        *testing.T
	src, dst *pgtest.Cluster
	dir      string
	cfg      string
}

// newEnv starts a source and a target cluster; sinkExtra is YAML added to
// the sink section (e.g. "batch:\n  rows: 100").
func newEnv(t *testing.T, sinkExtra string) *env {
	return newEnvWith(t, sinkExtra, nil)
}

// newEnvWith also sets postgresql.conf settings on the source.
func newEnvWith(t *testing.T, sinkExtra string, srcSettings map[string]string) *env {
	t.Helper()
	e := &env{t: t, dir: t.TempDir()}
	e.src = pgtest.Start(t, pgtest.Options{Settings: srcSettings})
	e.dst = pgtest.Start(t, pgtest.Options{})
	ctx := context.Background()
	if err := e.src.CreateDB(ctx, "app"); err != nil {
		t.Fatal(err)
	}
	if err := e.dst.CreateDB(ctx, "dwh"); err != nil {
		t.Fatal(err)
	}
	e.cfg = filepath.Join(e.dir, "sluice.yaml")
	cfg := fmt.Sprintf(`name: test
source:
  kind: postgres
  dsn: %s
  tables: ["public.*"]
sink:
  kind: postgres
  dsn: %s
%scheckpoint:
  path: %s
log:
  level: debug
`, e.src.DSN("app"), e.dst.DSN("dwh"), indent(sinkExtra), filepath.Join(e.dir, "test.checkpoint"))
	if err := os.WriteFile(e.cfg, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *env) srcExec(sql string) {
	e.t.Helper()
	if err := e.src.Exec(context.Background(), "app", sql); err != nil {
		e.t.Fatalf("source: %v\n%s", err, sql)
	}
}

func (e *env) dstExec(sql string) {
	e.t.Helper()
	if err := e.dst.Exec(context.Background(), "dwh", sql); err != nil {
		e.t.Fatalf("target: %v\n%s", err, sql)
	}
}

func indent(s string) string {
	if s == "" {
		return ""
	}
	return "  " + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n  ") + "\n"
}

// proc is a running sluice process.
type proc struct {
	cmd  *exec.Cmd
	log  string
	done chan error
}

func (e *env) start(args ...string) *proc {
	e.t.Helper()
	logPath := filepath.Join(e.dir, fmt.Sprintf("sluice-%d.log", time.Now().UnixNano()))
	f, err := os.Create(logPath)
	if err != nil {
		e.t.Fatal(err)
	}
	cmd := exec.Command(binary, append([]string{"run", "--config", e.cfg}, args...)...)
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		e.t.Fatal(err)
	}
	p := &proc{cmd: cmd, log: logPath, done: make(chan error, 1)}
	go func() { p.done <- cmd.Wait(); f.Close() }()
	e.t.Cleanup(func() { cmd.Process.Kill() })
	return p
}

func (p *proc) logText() string {
	b, _ := os.ReadFile(p.log)
	return string(b)
}

// stop sends SIGTERM and waits for a clean exit.
func (p *proc) stop(t *testing.T) {
	t.Helper()
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-p.done:
		if err != nil {
			t.Fatalf("sluice exited with %v after SIGTERM; log:\n%s", err, p.logText())
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("sluice did not stop within 60s of SIGTERM; log:\n%s", p.logText())
	}
}

// kill9 kills the process without warning.
func (p *proc) kill9() {
	p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// rows returns every row of a table as text, sorted, for row-by-row comparison.
func rows(t *testing.T, dsn, table string) ([]string, error) {
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return nil, err
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "SET TimeZone = 'UTC'; SET extra_float_digits = 3"); err != nil {
		return nil, err
	}
	r, err := conn.Query(ctx, fmt.Sprintf("SELECT r_o_w_::text FROM %s r_o_w_ ORDER BY 1", table))
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(r, pgx.RowTo[string])
}

// diffRows describes how two sorted row lists differ ("" when equal).
func diffRows(src, dst []string) string {
	if len(src) == len(dst) {
		same := true
		for i := range src {
			if src[i] != dst[i] {
				same = false
				break
			}
		}
		if same {
			return ""
		}
	}
	count := map[string]int{}
	for _, r := range src {
		count[r]++
	}
	for _, r := range dst {
		count[r]--
	}
	var b strings.Builder
	fmt.Fprintf(&b, "source has %d rows, target %d", len(src), len(dst))
	n := 0
	for r, c := range count {
		if c != 0 && n < 10 {
			fmt.Fprintf(&b, "\n  %+d × %s", c, r)
			n++
		}
	}
	return b.String()
}

// waitEqual waits until every table is equal row for row in source and
// target, and fails with the differences when it does not happen in time.
func (e *env) waitEqual(timeout time.Duration, p *proc, tables ...string) {
	e.t.Helper()
	deadline := time.Now().Add(timeout)
	var last string
	for {
		last = ""
		for _, tbl := range tables {
			s, err := rows(e.t, e.src.DSN("app"), tbl)
			if err != nil {
				e.t.Fatalf("read source %s: %v", tbl, err)
			}
			d, err := rows(e.t, e.dst.DSN("dwh"), tbl)
			if err != nil {
				last = fmt.Sprintf("%s: %v", tbl, err)
				break
			}
			if diff := diffRows(s, d); diff != "" {
				last = tbl + ": " + diff
				break
			}
		}
		if last == "" {
			return
		}
		if time.Now().After(deadline) {
			logText := ""
			if p != nil {
				logText = p.logText()
				if len(logText) > 6000 {
					logText = "..." + logText[len(logText)-6000:]
				}
			}
			e.t.Fatalf("target did not match source within %v: %s\nsluice log:\n%s", timeout, last, logText)
		}
		if p != nil {
			select {
			case err := <-p.done:
				e.t.Fatalf("sluice exited (%v) before the target matched: %s\nlog:\n%s", err, last, p.logText())
			default:
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func sprintf(format string, args ...any) string { return fmt.Sprintf(format, args...) }
