package main

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestTargetOutage stops the target server for a while under a steady
// write load: sluice keeps running, restarts from its checkpoint with
// backoff (logging the episode once), and the target ends equal to the
// source row for row, with nothing lost and nothing doubled (a keyless
// table would show a doubled row).
func TestTargetOutage(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		src, dst string
		outage   time.Duration
	}{
		{"postgres", "postgres", 30 * time.Second},
		{"mysql", "mysql", 12 * time.Second},
	} {
		t.Run(c.src+"_to_"+c.dst, func(t *testing.T) {
			t.Parallel()
			x := newXEnv(t, c.src, c.dst, "")
			base := x.withHTTP()
			if c.src == "mysql" {
				x.from.exec(t, "CREATE TABLE app.ticks (id bigint AUTO_INCREMENT PRIMARY KEY, n int, at datetime(6)); CREATE TABLE app.log (n int, at datetime(6))")
			} else {
				x.from.exec(t, "CREATE TABLE ticks (id bigserial PRIMARY KEY, n int, at timestamptz); CREATE TABLE log (n int, at timestamptz); ALTER TABLE log REPLICA IDENTITY FULL")
			}
			tables := []string{"app.ticks", "app.log"}
			if c.src == "postgres" {
				tables = []string{"public.ticks", "public.log"}
			}
			p := x.start()
			x.waitSame(60*time.Second, p, tables...)

			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var written atomic.Int64
			writerDone := make(chan struct{})
			go func() {
				defer close(writerDone)
				for i := 1; ctx.Err() == nil; i++ {
					x.from.exec(t, fmt.Sprintf(`INSERT INTO %[1]s (n, at) VALUES (%[2]d, CURRENT_TIMESTAMP); INSERT INTO %[3]s VALUES (%[2]d, CURRENT_TIMESTAMP);
						UPDATE %[1]s SET n = n + 1 WHERE id = %[4]d; DELETE FROM %[1]s WHERE id = %[5]d`, tables[0], i, tables[1], i/2+1, i/3+1))
					written.Add(1)
					time.Sleep(5 * time.Millisecond)
				}
			}()
			time.Sleep(2 * time.Second)
			stopTarget, startTarget := targetControl(t, x)
			if err := stopTarget(); err != nil {
				t.Fatal(err)
			}
			t.Logf("target stopped for %v after %d write rounds", c.outage, written.Load())
			for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(200 * time.Millisecond) {
				code, body := get(t, base+"/readyz")
				if code == 503 && strings.Contains(body, `"retrying"`) {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("/readyz during the outage: %d %s", code, body)
				}
			}
			time.Sleep(c.outage)
			if err := startTarget(); err != nil {
				t.Fatal(err)
			}
			time.Sleep(3 * time.Second)
			cancel()
			<-writerDone
			x.waitSame(120*time.Second, p, tables...)
			select {
			case err := <-p.done:
				t.Fatalf("sluice exited (%v) instead of retrying; log:\n%s", err, p.logText())
			default:
			}
			log := p.logText()
			if n := strings.Count(log, "transient failure: restarting"); n != 1 {
				t.Errorf("the outage was logged %d times as a transient failure, want once", n)
			}
			if !strings.Contains(log, "recovered from the transient failure") {
				t.Errorf("no recovery in the log")
			}
			waitHTTP(t, p, base+"/readyz", 200, 20*time.Second)
			t.Logf("target equals source after a %v outage and %d write rounds", c.outage, written.Load())
			p.stop(t)
		})
	}
}

// targetControl stops and starts the target server of x.
func targetControl(t *testing.T, x *xenv) (stop, start func() error) {
	switch to := x.to.(type) {
	case *pgEnd:
		return to.c.Stop, func() error { return to.c.Start(context.Background()) }
	case *myEnd:
		return to.s.Stop, func() error { return to.s.Start(context.Background()) }
	}
	t.Fatalf("unknown target %T", x.to)
	return nil, nil
}
