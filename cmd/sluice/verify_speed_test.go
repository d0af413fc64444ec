package main

import (
	"context"
	"crypto/md5"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// countingHash is an MD5 that counts the bytes it is given.
type countingHash struct {
	h io.Writer
	n int64
}

func (c *countingHash) Write(p []byte) (int, error) { c.n += int64(len(p)); return c.h.Write(p) }

// TestVerifySpeed verifies a 1,000,000-row table PostgreSQL → PostgreSQL
// (equal, sluice idle) and, for comparison, dumps the same table from both
// servers at once with COPY (SELECT ...) TO STDOUT into an MD5, as a
// dump-and-hash check would; it logs both times and the bytes the dump
// moves. It asserts that verify finds every row equal.
func TestVerifySpeed(t *testing.T) {
	t.Parallel()
	const rows = 1000000
	e := newVerifyEnv(t, "postgres", "postgres", "batch:\n  rows: 50000\n")
	e.from.exec(t, fmt.Sprintf(`CREATE TABLE big (id bigint PRIMARY KEY, a int, b text, c timestamptz, d numeric(12,2));
		INSERT INTO big SELECT g, g %% 1000, 'row ' || g, '2024-01-01'::timestamptz + g * interval '1 second', g / 7.0
		FROM generate_series(1, %d) g`, rows))
	p := e.start()
	dst := e.to.(*pgEnd)
	ctx := context.Background()
	deadline := time.Now().Add(5 * time.Minute)
	for {
		n, err := dst.c.QueryValue(ctx, "dwh", "SELECT count(*) FROM public.big")
		if err == nil && n == fmt.Sprint(rows) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the snapshot did not copy %d rows in time (%s, %v)", rows, n, err)
		}
		time.Sleep(time.Second)
	}
	start := time.Now()
	vctx, cancel := context.WithTimeout(ctx, 150*time.Second)
	defer cancel()
	cmd := exec.CommandContext(vctx, binary, "verify", "--config", e.cfg, "--json")
	vout, verr := cmd.Output()
	took := time.Since(start)
	if vctx.Err() != nil {
		t.Fatalf("verify did not end in 150s: %v\n%s", verr, vout)
	}
	code := 0
	var ee *exec.ExitError
	if errors.As(verr, &ee) {
		code = ee.ExitCode()
	}
	var rep verifyReport
	if err := json.Unmarshal(vout, &rep); err != nil {
		t.Fatalf("verify printed no report (%v): %s", err, vout)
	}
	out := string(vout)
	big := rep.table("public.big")
	if code != 0 || big.Status != "equal" || big.Rows != rows {
		t.Fatalf("verify: exit %d, big %s with %d rows; want 0, equal, %d rows\n%s", code, big.Status, big.Rows, rows, out)
	}
	t.Logf("verify: %d rows in %v (%.0f rows/s), %d chunks, %.2fs in the table itself", rows, took.Round(time.Millisecond),
		float64(rows)/took.Seconds(), big.Chunks, big.Seconds)

	start = time.Now()
	var wg sync.WaitGroup
	sums := make([]string, 2)
	sizes := make([]int64, 2)
	errs := make([]error, 2)
	for i, dsn := range []string{e.from.dsn(), e.to.dsn()} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			conn, err := pgx.Connect(ctx, dsn)
			if err != nil {
				errs[i] = err
				return
			}
			defer conn.Close(ctx)
			h := md5.New()
			c := &countingHash{h: h}
			_, errs[i] = conn.PgConn().CopyTo(ctx, c, "COPY (SELECT id, a, b, c, d FROM public.big ORDER BY id) TO STDOUT")
			sums[i], sizes[i] = fmt.Sprintf("%x", h.Sum(nil)), c.n
		}()
	}
	wg.Wait()
	dump := time.Since(start)
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if sums[0] != sums[1] {
		t.Fatalf("dump-and-hash: the tables differ (%s, %s)", sums[0], sums[1])
	}
	t.Logf("dump-and-hash (COPY of both servers at once into MD5): %v (%.0f rows/s), %d bytes from each server",
		dump.Round(time.Millisecond), float64(rows)/dump.Seconds(), sizes[0])
	p.stop(t)
}
