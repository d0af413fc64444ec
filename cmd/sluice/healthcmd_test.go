package main

import (
	"bytes"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// runHealth runs the built binary's health command and returns its exit
// code, stdout and stderr.
func runHealth(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(binary, append([]string{"health"}, args...)...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			t.Fatalf("sluice health %v: %v", args, err)
		}
		code = ee.ExitCode()
	}
	return code, stdout.String(), stderr.String()
}

// TestHealthCommand probes a running PostgreSQL → PostgreSQL pipeline with
// http.listen: found through --config and through --url, ready while
// streaming; with the target server down the process stays live (/healthz,
// exit 0) but not ready (--ready, exit 1, saying the target is
// unreachable).
func TestHealthCommand(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "")
	base := e.withHTTP()
	e.srcExec(`CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t VALUES (1, 'a');`)
	p := e.start()
	waitHTTP(t, p, base+"/readyz", 200, 30*time.Second)

	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--config", e.cfg}, base + "/healthz: ok\n"},
		{[]string{"--config", e.cfg, "--ready"}, base + "/readyz: ready ("},
		{[]string{"--url", base}, base + "/healthz: ok\n"},
		{[]string{"--url", base + "/", "--ready"}, base + "/readyz: ready ("},
		{[]string{"--url", base + "/readyz", "--ready", "--timeout", "10s"}, base + "/readyz: ready ("},
		{[]string{"--url", base + "/healthz"}, base + "/healthz: ok\n"},
	} {
		code, out, errOut := runHealth(t, c.args...)
		if code != 0 || !strings.HasPrefix(out, c.want) || errOut != "" {
			t.Errorf("sluice health %v: exit %d, stdout %q, stderr %q; want exit 0 and %q", c.args, code, out, errOut, c.want)
		}
	}

	// The target goes away: the probe notices within a few seconds.
	if err := e.dst.Stop(); err != nil {
		t.Fatal(err)
	}
	waitHTTP(t, p, base+"/readyz", 503, 20*time.Second)
	code, out, errOut := runHealth(t, "--config", e.cfg, "--ready")
	if code != 1 || out != "" || !strings.Contains(errOut, base+"/readyz: HTTP 503") || !strings.Contains(errOut, "not ready: target unreachable") {
		t.Errorf("sluice health --ready with the target down: exit %d, stdout %q, stderr %q; want exit 1 saying the target is unreachable", code, out, errOut)
	}
	if strings.Count(strings.TrimSpace(errOut), "\n") != 0 {
		t.Errorf("sluice health --ready should fail with one line:\n%s", errOut)
	}
	if code, out, errOut := runHealth(t, "--config", e.cfg); code != 0 || out != base+"/healthz: ok\n" {
		t.Errorf("sluice health (liveness) with the target down: exit %d, stdout %q, stderr %q; want exit 0: the process runs", code, out, errOut)
	}
}

// TestHealthCommandUnreachable: nothing listening, or a listener that never
// answers, is exit 1 with a message that says so and what to check.
func TestHealthCommandUnreachable(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()

	code, out, errOut := runHealth(t, "--url", "http://"+closed)
	if code != 1 || out != "" {
		t.Errorf("closed port: exit %d, stdout %q; want exit 1 and nothing on stdout", code, out)
	}
	for _, want := range []string{"sluice: health: http://" + closed + "/healthz: not reachable", "connection refused", "is sluice running, with http.listen on that address?"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("closed port: stderr %q lacks %q", errOut, want)
		}
	}

	// A config whose http.listen nobody serves: the URL comes from it, the
	// unspecified address probed on the loopback.
	dir := t.TempDir()
	cfg := filepath.Join(dir, "sluice.yaml")
	_, port, _ := net.SplitHostPort(closed)
	writeHealthConfig(t, cfg, "http:\n  listen: 0.0.0.0:"+port+"\n")
	if code, _, errOut := runHealth(t, "--config", cfg, "--ready"); code != 1 || !strings.Contains(errOut, "http://127.0.0.1:"+port+"/readyz: not reachable") {
		t.Errorf("config with a closed http.listen: exit %d, stderr %q", code, errOut)
	}

	// Accepted, never answered.
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	start := time.Now()
	code, _, errOut = runHealth(t, "--url", "http://"+silent.Addr().String(), "--timeout", "300ms")
	if code != 1 || !strings.Contains(errOut, "no answer within 300ms") {
		t.Errorf("silent listener: exit %d, stderr %q; want exit 1, no answer within 300ms", code, errOut)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("silent listener: took %v despite --timeout 300ms", d)
	}
}

func writeHealthConfig(t *testing.T, path, extra string) {
	t.Helper()
	text := `name: health
source:
  kind: postgres
  dsn: postgres://u:s3cret-pw@127.0.0.1:1/app
  tables: ["public.*"]
sink:
  kind: postgres
  dsn: postgres://u:s3cret-pw@127.0.0.1:1/dwh
checkpoint:
  path: ` + filepath.Join(filepath.Dir(path), "health.checkpoint") + "\n" + extra
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestHealthCommandArgs: wrong combinations and values are refused before
// anything is asked, naming the flag; a config without http.listen says
// to set it; no secret of the config appears.
func TestHealthCommandArgs(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	noHTTP := filepath.Join(dir, "nohttp.yaml")
	writeHealthConfig(t, noHTTP, "")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--url", "http://127.0.0.1:9187", "--config", noHTTP}, "give --url or --config, not both"},
		{[]string{"--url", "ftp://127.0.0.1:9187"}, "want http://host:port[/path]"},
		{[]string{"--url", "127.0.0.1:9187"}, "want http://host:port[/path]"},
		{[]string{"--url", "http:///healthz"}, "names no host"},
		{[]string{"--url", "http://127.0.0.1:9187/healthz", "--ready"}, "--ready probes /readyz, but --url names /healthz"},
		{[]string{"--timeout", "0s"}, "--timeout 0s: want a positive duration"},
		{[]string{"--config", noHTTP}, "sets no http.listen, so sluice serves no /healthz to probe: set http.listen"},
		{[]string{"--config", filepath.Join(dir, "missing.yaml")}, "missing.yaml"},
		{[]string{"extra"}, `unexpected argument "extra"`},
		{[]string{"--bogus"}, "flag provided but not defined: -bogus"},
	} {
		var stdout, stderr bytes.Buffer
		code := run(append([]string{"health"}, c.args...), &stdout, &stderr)
		if code != 1 || stdout.Len() != 0 || !strings.Contains(stderr.String(), c.want) {
			t.Errorf("sluice health %v: exit %d, stdout %q, stderr %q; want exit 1 and %q", c.args, code, stdout.String(), stderr.String(), c.want)
		}
		if strings.Contains(stderr.String(), "s3cret-pw") {
			t.Errorf("sluice health %v shows the config's password: %s", c.args, stderr.String())
		}
	}
	var stdout bytes.Buffer
	if run([]string{"help"}, &stdout, &stdout); !strings.Contains(stdout.String(), "sluice health [--config FILE | --url URL] [--ready]") {
		t.Errorf("usage does not list the health command:\n%s", stdout.String())
	}
}
