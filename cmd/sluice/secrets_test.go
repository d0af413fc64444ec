package main

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestSecretsNeverLogged puts a password in both DSNs (the test servers
// trust every local connection, so it is accepted and ignored) and checks it
// appears nowhere: not in the run log, not in errors, not in check output,
// not in /metrics, /status or /readyz, not in `sluice status`.
func TestSecretsNeverLogged(t *testing.T) {
	const secret = "S3cr3t-Pa55w0rd"
	e := newEnv(t, "")
	e.srcExec(`CREATE TABLE t (id int PRIMARY KEY);`)
	cfg, err := os.ReadFile(e.cfg)
	if err != nil {
		t.Fatal(err)
	}
	withPw := strings.ReplaceAll(string(cfg), "postgres://postgres@", "postgres://postgres:${DB_PASSWORD}@")
	if err := os.WriteFile(e.cfg, []byte(withPw), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("DB_PASSWORD", secret)
	base := e.withHTTP()

	p := e.start()
	e.srcExec(`INSERT INTO t VALUES (1);`)
	e.waitEqual(30*time.Second, p, "t")
	waitHTTP(t, p, base+"/readyz", 200, 30*time.Second)
	time.Sleep(probeEvery + time.Second) // the source and target have been probed
	for _, path := range []string{"/metrics", "/status", "/readyz", "/healthz"} {
		if code, body := get(t, base+path); code != 200 || strings.Contains(body, secret) {
			t.Fatalf("%s (%d) leaks the password or fails:\n%s", path, code, body)
		}
	}
	for _, args := range [][]string{{"status", "--config", e.cfg}, {"status", "--json", "--config", e.cfg}} {
		out, err := exec.Command(binary, args...).CombinedOutput()
		if err != nil || strings.Contains(string(out), secret) || !strings.Contains(string(out), "xxxxx@") {
			t.Fatalf("%v (%v) leaks the password or does not show the redacted DSN:\n%s", args, err, out)
		}
	}
	p.stop(t)
	if log := p.logText(); strings.Contains(log, secret) || !strings.Contains(log, "xxxxx@") {
		t.Fatalf("the run log leaks the password or does not show the redacted DSN:\n%s", log)
	}

	out, _ := exec.Command(binary, "check", "--config", e.cfg).CombinedOutput()
	if strings.Contains(string(out), secret) {
		t.Fatalf("check output leaks the password:\n%s", out)
	}

	// A source that refuses connections: the error must not quote the password.
	bad := strings.ReplaceAll(withPw, e.src.DSN("app")[len("postgres://postgres@"):], "127.0.0.1:1/app?sslmode=disable")
	if err := os.WriteFile(e.cfg, []byte(bad), 0o600); err != nil {
		t.Fatal(err)
	}
	// Offline status with the source refusing: its error is shown, not the password.
	out, err = exec.Command(binary, "status", "--config", e.cfg).CombinedOutput()
	if err != nil || strings.Contains(string(out), secret) || !strings.Contains(string(out), "127.0.0.1:1") {
		t.Fatalf("offline status (%v) leaks the password or hides the failing server:\n%s", err, out)
	}
	for _, args := range [][]string{{"run", "--config", e.cfg}, {"check", "--config", e.cfg}} {
		// run retries a refused connection with backoff until stopped; it
		// gets a few attempts, then SIGTERM.
		ctx, cancel := context.WithTimeout(context.Background(), 6*time.Second)
		cmd := exec.CommandContext(ctx, binary, args...)
		cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
		out, err := cmd.CombinedOutput()
		cancel()
		if err == nil && args[0] == "check" {
			t.Fatalf("%v: want a non-zero exit against a closed port\n%s", args, out)
		}
		if strings.Contains(string(out), secret) {
			t.Fatalf("%v leaks the password:\n%s", args, out)
		}
		if !strings.Contains(string(out), "127.0.0.1") {
			t.Fatalf("%v: the error should say which server failed:\n%s", args, out)
		}
	}
}
