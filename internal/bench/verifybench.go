package main

// The verify measurement (-engine verify): `sluice verify` of one large
// table whose target equals its source (PostgreSQL → PostgreSQL, sluice
// streaming, nothing else running), against the obvious alternative: the
// table dumped with COPY (SELECT ... ORDER BY key) TO STDOUT from both
// servers at once and hashed (md5) on the client. Per run: wall time,
// rows/s and the CPU seconds the source cluster's processes spent. The
// table is copied once by sluice's initial snapshot; then -runs rounds of
// verify and dump-and-hash alternate. Both must find the sides equal.

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"golang.org/x/sync/errgroup"
)

// vfMeasure is one timed comparison.
type vfMeasure struct {
	took   time.Duration
	srcCPU time.Duration
}

type vfReport struct {
	rows         int64
	verify, dump []vfMeasure
}

func runVerifyBench(ctx context.Context, o options, bin string) (*vfReport, int) {
	b := &bfEnv{opts: o, bin: bin, rows: o.vfRows}
	defer b.cleanup()
	if err := b.setup(ctx); err != nil {
		return nil, fail(ctx, o, b.logPath, err)
	}
	rep, err := b.verifyRuns(ctx)
	if err != nil {
		return nil, fail(ctx, o, b.logPath, err)
	}
	fmt.Println()
	fmt.Println("Verify:")
	fmt.Print(rep.text())
	return rep, 0
}

func (b *bfEnv) verifyRuns(ctx context.Context) (*vfReport, error) {
	const db = "vf"
	if err := b.tgt.CreateDB(ctx, db); err != nil {
		return nil, err
	}
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	cfgPath := filepath.Join(b.dir, "vf.yaml")
	cfg := fmt.Sprintf(`name: vf
source:
  kind: postgres
  dsn: %s
  tables: ["public.bf_rows"]
  snapshot: initial
sink:
  kind: postgres
  dsn: %s
checkpoint:
  path: %s
log:
  level: %s
  format: json
http:
  listen: %s
  admin: true
`, b.src.DSN(dbName), b.tgt.DSN(db), filepath.Join(b.dir, "vf.checkpoint"), b.opts.logLevel, addr)
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		return nil, err
	}
	f, err := os.CreateTemp("", "sluice-bench-verify-*.log")
	if err != nil {
		return nil, err
	}
	b.logPath = f.Name()
	proc, err := startSluice(b.bin, cfgPath, f)
	if err != nil {
		return nil, err
	}
	defer func() {
		proc.stop(30 * time.Second)
		b.srcConn.Exec(context.Background(), "SELECT pg_drop_replication_slot('sluice_vf')")
		b.srcConn.Exec(context.Background(), "DROP PUBLICATION IF EXISTS sluice_vf")
	}()
	step("verify: sluice copies the table (initial snapshot)")
	if _, err := b.waitLog(ctx, proc, "snapshot done", 0, 20*time.Minute); err != nil {
		return nil, err
	}
	if err := b.waitStreaming(ctx, proc, addr); err != nil {
		return nil, err
	}
	rep := &vfReport{rows: b.rows}
	for i := range b.opts.runs {
		v, err := b.timeVerify(ctx, cfgPath)
		if err != nil {
			return nil, err
		}
		d, err := b.timeDump(ctx, db)
		if err != nil {
			return nil, err
		}
		rep.verify, rep.dump = append(rep.verify, v), append(rep.dump, d)
		step(fmt.Sprintf("verify run %d: sluice verify %.2fs (%.0f rows/s, source cpu %.2fs); dump-and-hash %.2fs (%.0f rows/s, source cpu %.2fs)",
			i+1, v.took.Seconds(), float64(b.rows)/v.took.Seconds(), v.srcCPU.Seconds(),
			d.took.Seconds(), float64(b.rows)/d.took.Seconds(), d.srcCPU.Seconds()))
	}
	return rep, nil
}

// timeVerify runs `sluice verify`, which must find the table equal.
func (b *bfEnv) timeVerify(ctx context.Context, cfgPath string) (vfMeasure, error) {
	src0 := b.sourceCPU()
	start := time.Now()
	out, err := exec.CommandContext(ctx, b.bin, "verify", "--config", cfgPath, "--json").Output()
	m := vfMeasure{took: time.Since(start), srcCPU: b.sourceCPU() - src0}
	var rep struct {
		Equal int `json:"equal"`
		Exit  int `json:"exit"`
	}
	if jerr := json.Unmarshal(out, &rep); jerr != nil || rep.Equal != 1 || rep.Exit != 0 {
		return m, fmt.Errorf("sluice verify did not find the table equal (%v):\n%s", err, out)
	}
	return m, nil
}

// timeDump dumps the table from both servers at once and hashes each
// stream; the hashes must agree.
func (b *bfEnv) timeDump(ctx context.Context, db string) (vfMeasure, error) {
	const q = "COPY (SELECT * FROM bf_rows ORDER BY id) TO STDOUT"
	src0 := b.sourceCPU()
	start := time.Now()
	var sums [2]string
	var g errgroup.Group
	for i, dsn := range []string{b.src.DSN(dbName), b.tgt.DSN(db)} {
		g.Go(func() error {
			c, err := pgconn.Connect(ctx, dsn)
			if err != nil {
				return err
			}
			defer c.Close(context.Background())
			h := md5.New()
			if _, err := c.CopyTo(ctx, h, q); err != nil {
				return err
			}
			sums[i] = hex.EncodeToString(h.Sum(nil))
			return nil
		})
	}
	err := g.Wait()
	m := vfMeasure{took: time.Since(start), srcCPU: b.sourceCPU() - src0}
	if err == nil && sums[0] != sums[1] {
		err = fmt.Errorf("dump-and-hash: source md5 %s, target %s", sums[0], sums[1])
	}
	return m, err
}

func vfStats(ms []vfMeasure, f func(vfMeasure) float64) (med, lo, hi float64) {
	xs := make([]float64, len(ms))
	for i, m := range ms {
		xs[i] = f(m)
	}
	lo, hi = xs[0], xs[0]
	for _, x := range xs {
		lo, hi = min(lo, x), max(hi, x)
	}
	return median(xs), lo, hi
}

func (r *vfReport) rowsTable() [][]string {
	row := func(name string, ms []vfMeasure) []string {
		t, tlo, thi := vfStats(ms, func(m vfMeasure) float64 { return m.took.Seconds() })
		c, clo, chi := vfStats(ms, func(m vfMeasure) float64 { return m.srcCPU.Seconds() })
		return []string{name, fmt.Sprintf("%.2f (%.2f–%.2f)", t, tlo, thi), fmt.Sprintf("%.0f", float64(r.rows)/t),
			fmt.Sprintf("%.2f (%.2f–%.2f)", c, clo, chi)}
	}
	return [][]string{
		{"", "seconds, median (range)", "rows/s (median)", "source CPU s, median (range)"},
		row("sluice verify", r.verify),
		row("COPY … TO STDOUT into md5, both servers", r.dump),
	}
}

func (r *vfReport) text() string {
	var s strings.Builder
	fmt.Fprintf(&s, "%d rows (bigint key, int, 64-char text, numeric, timestamptz), %d runs, both sides equal\n", r.rows, len(r.verify))
	for _, row := range r.rowsTable() {
		fmt.Fprintf(&s, "%-40s %-26s %-16s %s\n", row[0], row[1], row[2], row[3])
	}
	return s.String()
}

func (r *vfReport) markdown() string {
	var s strings.Builder
	fmt.Fprintf(&s, "%d rows, %d runs, both sides equal.\n\n", r.rows, len(r.verify))
	for i, row := range r.rowsTable() {
		s.WriteString("| " + strings.Join(row, " | ") + " |\n")
		if i == 0 {
			s.WriteString("|---|---|---|---|\n")
		}
	}
	return s.String()
}

// sourceCPU is the CPU time of the source cluster's processes, counting
// backends that exited too (their time is added to the postmaster's
// children's time, fields 16 and 17 of its stat, once it reaps them): the
// connections of `sluice verify` and of the dump end with them.
func (b *bfEnv) sourceCPU() time.Duration {
	time.Sleep(200 * time.Millisecond) // let the postmaster reap what just exited
	total := clusterCPU(b.src)
	data, err := os.ReadFile(filepath.Join(b.src.Dir, "postmaster.pid"))
	if err != nil {
		return total
	}
	pm := strings.TrimSpace(strings.SplitN(string(data), "\n", 2)[0])
	st, err := os.ReadFile("/proc/" + pm + "/stat")
	if err != nil {
		return total
	}
	i := strings.LastIndexByte(string(st), ')')
	f := strings.Fields(string(st[i+1:]))
	if len(f) < 15 {
		return total
	}
	cu, _ := strconv.ParseInt(f[13], 10, 64)
	cs, _ := strconv.ParseInt(f[14], 10, 64)
	return total + time.Duration(cu+cs)*time.Second/100 // USER_HZ
}
