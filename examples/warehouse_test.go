package examples_test

import (
	"bytes"
	"os/exec"
	"regexp"
	"strconv"
	"testing"
	"time"
)

// TestWarehouse runs `go run ./examples/warehouse` in a short mode and
// expects its OK verdict: both pipelines' snapshots, live changes and the
// kill -9 of the history pipeline verified against the source, and both
// pipelines' clean SIGTERM exit. It also checks that the changes made
// history (updates and deletes as versions), that orders left the mart's
// filter, and that sluice logged the DSNs without their passwords.
func TestWarehouse(t *testing.T) {
	t.Parallel()
	ctx := runWithTimeout(t, 3*time.Minute)
	start := time.Now()
	cmd := exec.CommandContext(ctx, "go", "run", "./examples/warehouse", "-duration", "3s", "-build")
	cmd.Dir = root
	cmd.WaitDelay = 10 * time.Second
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go run ./examples/warehouse -duration 3s: %v (context: %v)\n%s", err, ctx.Err(), out)
	}
	t.Logf("the warehouse example took %s", time.Since(start).Round(100*time.Millisecond))
	for _, want := range []string{
		"snapshot: the warehouse is as the source says",
		"committed one large transaction: 600 orders, 3000 order lines",
		"changed the primary key of customer",
		"deleted customers [",
		"reversed the payment of 10 paid orders",
		"phase 1: the warehouse is as the source says",
		"history pipeline: signal: killed",
		"phase 2 (after kill -9): the warehouse is as the source says",
		"the history pipeline exited with status 0",
		"the mart pipeline exited with status 0",
		"the customer with the most versions",
		"OK: current versions equal the source, every version is there once and they chain",
		"clusters and temp files removed",
		"postgres://postgres:xxxxx@127.0.0.1:", // sluice's own log shows the DSNs redacted
	} {
		if !bytes.Contains(out, []byte(want)) {
			t.Errorf("the warehouse example's output lacks %q", want)
		}
	}

	// The last verification's numbers: the history holds updates and
	// deletes, the articles' price changes, and the mart fewer orders than
	// the source (new orders are filtered out).
	phase2 := regexp.MustCompile(`phase 2 \(after kill -9\): the warehouse is as the source says, .*: ` +
		`dwh\.customers \d+ versions \((\d+) snapshot, (\d+) insert, (\d+) update, (\d+) delete\) .*` +
		`dwh\.articles \d+ versions \((\d+) snapshot, (\d+) update\) .*mart\.orders (\d+) of (\d+) orders`)
	m := phase2.FindSubmatch(out)
	if m == nil {
		t.Errorf("no phase 2 verification line with every kind of customer version (snapshot, insert, update, delete) and article updates")
	} else {
		n := func(i int) int { v, _ := strconv.Atoi(string(m[i])); return v }
		if n(1) != 2000 || n(2) == 0 || n(3) == 0 || n(4) == 0 {
			t.Errorf("customer versions: %d snapshot (want 2000), %d insert, %d update, %d delete (want some of each)", n(1), n(2), n(3), n(4))
		}
		if n(5) != 200 || n(6) < 400 { // two large transactions raise all 200 prices
			t.Errorf("article versions: %d snapshot (want 200), %d update (want at least 400)", n(5), n(6))
		}
		if n(7) == 0 || n(7) >= n(8) {
			t.Errorf("mart.orders holds %d of %d orders; want some, not all", n(7), n(8))
		}
	}
	if t.Failed() {
		t.Logf("warehouse output:\n%s", out)
	}
}
