// Package examples_test keeps the examples, the Dockerfile and
// docker-compose.yml honest: every config loads, compose and the image agree
// on paths, users and variables, the compose setup's config and SQL work
// against real (local) PostgreSQL servers, and the demo runs to its OK
// verdict. Nothing here is skipped: a missing PostgreSQL or Go toolchain
// fails the tests.
package examples_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"
)

// root is the repository root; tests run in examples/.
const root = ".."

// configMount is where the image reads its config, and stateDir its volume.
const (
	configMount = "/etc/sluice/sluice.yaml"
	stateDir    = "/var/lib/sluice"
)

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

var (
	buildOnce   sync.Once
	builtBinary string
	buildErr    error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if builtBinary != "" {
		os.RemoveAll(filepath.Dir(builtBinary))
	}
	os.Exit(code)
}

// buildSluice builds the sluice binary once per test binary run.
func buildSluice(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "sluice-examples-")
		if err != nil {
			buildErr = err
			return
		}
		builtBinary = filepath.Join(dir, "sluice")
		cmd := exec.Command("go", "build", "-o", builtBinary, "./cmd/sluice")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build ./cmd/sluice: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return builtBinary
}

func runWithTimeout(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}
