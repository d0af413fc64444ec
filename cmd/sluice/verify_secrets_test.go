package main

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestVerifyCannotVerifyNoSecrets: when the servers cannot be reached,
// verify exits 2 and says why, in text and in JSON, and the password in
// the DSNs appears in neither.
func TestVerifyCannotVerifyNoSecrets(t *testing.T) {
	t.Parallel()
	const secret = "V3rify-S3cret-Pw"
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close() // nothing listens there now
	dir := t.TempDir()
	cfg := filepath.Join(dir, "v.yaml")
	body := fmt.Sprintf(`name: v
source:
  kind: postgres
  dsn: postgres://app:%s@127.0.0.1:%d/app?sslmode=disable&connect_timeout=3
sink:
  kind: postgres
  dsn: postgres://dwh:%s@127.0.0.1:%d/dwh?sslmode=disable&connect_timeout=3
checkpoint:
  path: %s
`, secret, port, secret, port, filepath.Join(dir, "v.checkpoint"))
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"verify", "--config", cfg}, {"verify", "--json", "--config", cfg}} {
		out, err := exec.Command(binary, args...).CombinedOutput()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 2 {
			t.Errorf("%v: %v, want exit 2\n%s", args, err, out)
		}
		if strings.Contains(string(out), secret) {
			t.Errorf("%v leaks the password:\n%s", args, out)
		}
		if !strings.Contains(string(out), "open source") {
			t.Errorf("%v does not say what failed:\n%s", args, out)
		}
	}
}
