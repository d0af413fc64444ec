package main

// The Kafka comparison (-engine kafka): how long until the last record of a
// load is readable in Kafka (read_committed) when sluice publishes the
// changes, against how long PostgreSQL's own subscriber takes to apply the
// same load to a table. Both are measured catching up: the replicator is
// created and warmed up with one row, paused (the subscription disabled,
// sluice stopped; each slot keeps the WAL), the load commits, and the time
// runs from the replicator's resumption (ALTER SUBSCRIPTION ... ENABLE,
// the start of the sluice process) until the last row is applied or
// readable. Measured live, both merely keep pace with the load, so the
// ratio says nothing. Each replicator runs ALONE: per run a fresh
// subscription or a fresh sluice pipeline with a topic of its own, so
// neither decodes or applies the other's load; the order alternates
// between runs.

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicecdc/sluice/internal/kafkatest"
	"github.com/sluicecdc/sluice/internal/pgtest"
)

// kEnv is the running Kafka comparison: a source and a native target
// cluster, a broker process, and per run a subscription or a sluice.
type kEnv struct {
	opts     options
	bin      string
	dir      string
	src      *pgtest.Cluster
	nat      *pgtest.Cluster
	broker   *kafkatest.Broker
	srcConns []*pgx.Conn // the source connections the workloads write with
	natConn  *pgx.Conn
	// sample connections, for the CPU samplers that run beside the polls
	srcSample, natSample *pgx.Conn
	logPath              string // the last sluice log

	stopSampling chan struct{} // ends a run's CPU sampling

	pgVersion, settings, sluiceVer string
	cleanups                       []func()
}

// kResult is one run of one replicator.
type kResult struct {
	load, took time.Duration
	cpu        time.Duration // native: the apply worker; kafka: sluice
	brokerCPU  time.Duration // kafka only
	walsender  time.Duration // the source's walsender serving the replicator
	rssKB      int64         // kafka only: sluice's peak RSS
}

func (k *kEnv) defer_(f func()) { k.cleanups = append(k.cleanups, f) }

func (k *kEnv) cleanup() {
	for i := len(k.cleanups) - 1; i >= 0; i-- {
		k.cleanups[i]()
	}
	k.cleanups = nil
}

func (k *kEnv) setup(ctx context.Context) error {
	var err error
	if k.dir, err = os.MkdirTemp("", "sluice-bench-kafka-"); err != nil {
		return err
	}
	k.defer_(func() { os.RemoveAll(k.dir) })
	step("starting 2 PostgreSQL clusters (fsync on) and a Kafka broker (kfake, its own process)")
	opts := pgtest.Options{Fsync: true, Settings: clusterSettings}
	var wg sync.WaitGroup
	var errs [2]error
	var cs [2]*pgtest.Cluster
	for i := range cs {
		wg.Go(func() { cs[i], errs[i] = pgtest.StartCluster(ctx, opts) })
	}
	wg.Wait()
	for _, c := range cs {
		if c != nil {
			k.defer_(func() { _ = c.Remove() })
		}
	}
	if err := errors.Join(errs[:]...); err != nil {
		return err
	}
	k.src, k.nat = cs[0], cs[1]
	bdir := filepath.Join(k.dir, "broker")
	if err := os.MkdirAll(bdir, 0o700); err != nil {
		return err
	}
	if k.broker, err = kafkatest.StartBroker(bdir); err != nil {
		return err
	}
	k.defer_(func() { _ = k.broker.Stop() })
	for _, c := range cs {
		if err := c.CreateDB(ctx, dbName); err != nil {
			return err
		}
		if err := c.Exec(ctx, dbName, schemaSQL); err != nil {
			return err
		}
	}
	for range writers {
		c, err := pgx.Connect(ctx, k.src.DSN(dbName))
		if err != nil {
			return err
		}
		k.defer_(func() { c.Close(context.Background()) })
		k.srcConns = append(k.srcConns, c)
	}
	if k.natConn, err = pgx.Connect(ctx, k.nat.DSN(dbName)); err != nil {
		return err
	}
	k.defer_(func() { k.natConn.Close(context.Background()) })
	if k.natSample, err = pgx.Connect(ctx, k.nat.DSN(dbName)); err != nil {
		return err
	}
	k.defer_(func() { k.natSample.Close(context.Background()) })
	if k.srcSample, err = pgx.Connect(ctx, k.src.DSN(dbName)); err != nil {
		return err
	}
	k.defer_(func() { k.srcSample.Close(context.Background()) })
	if k.pgVersion, k.settings, err = pgSettings(ctx, k.srcConns[0]); err != nil {
		return err
	}
	if out, err := execOutput(ctx, k.bin, "version"); err == nil {
		k.sluiceVer = out
	}
	// The subscriber's launcher starts an apply worker at most once per
	// wal_retrieve_retry_interval (5 s by default), counted from the last
	// start of any worker: with a fresh subscription per run, the default
	// would add up to 5 s of waiting to native's time after ENABLE.
	if err := k.nat.Exec(ctx, dbName, `ALTER SYSTEM SET wal_retrieve_retry_interval = '50ms'`); err != nil {
		return err
	}
	if err := k.nat.Exec(ctx, dbName, `SELECT pg_reload_conf()`); err != nil {
		return err
	}
	return k.src.Exec(ctx, dbName, `CREATE PUBLICATION native_pub FOR TABLE bench_rows`)
}

// runAll runs the bulk and small workloads, alternating which replicator
// goes first, and returns the results per workload: [run][0 native, 1 kafka].
func (k *kEnv) runAll(ctx context.Context) (*kReport, error) {
	rep := &kReport{env: k}
	next := int64(1)
	warm := int64(0)
	for _, w := range pgWorkloads(options{runs: k.opts.runs, only: k.opts.only}, k.srcConns) {
		if w.name != "bulk" && w.name != "small" {
			continue
		}
		rep.workloads = append(rep.workloads, w)
		var rs [][2]kResult
		for r := range w.runs {
			var pair [2]kResult
			for i := range 2 {
				which := (r + i) % 2 // run 0: native first; run 1: kafka first; ...
				lo, hi := next, next+w.rows-1
				next += w.rows
				warm--
				var res kResult
				var err error
				if which == 0 {
					step(fmt.Sprintf("%s run %d/%d: native subscription alone", w.name, r+1, w.runs))
					res, err = k.runNative(ctx, w, lo, hi, warm, len(rep.workloads)*100+r)
				} else {
					step(fmt.Sprintf("%s run %d/%d: sluice → Kafka alone", w.name, r+1, w.runs))
					res, err = k.runKafka(ctx, w, lo, hi, warm, len(rep.workloads)*100+r)
				}
				if err != nil {
					return nil, fmt.Errorf("%s run %d: %w", w.name, r+1, err)
				}
				pair[which] = res
			}
			fmt.Printf("          native %.2fs, kafka %.2fs, ratio %.2f\n", pair[0].took.Seconds(), pair[1].took.Seconds(),
				pair[1].took.Seconds()/pair[0].took.Seconds())
			rs = append(rs, pair)
		}
		rep.results = append(rep.results, rs)
	}
	return rep, nil
}

// runNative measures a fresh subscription catching up with ids lo..hi:
// it is created and warmed up with one row, disabled (its slot keeps the
// WAL), the load commits, and the time runs from ENABLE until the target
// holds every row.
func (k *kEnv) runNative(ctx context.Context, w workload, lo, hi, warm int64, n int) (kResult, error) {
	sub := fmt.Sprintf("native_sub_%d", n)
	conninfo := fmt.Sprintf("host=127.0.0.1 port=%d dbname=%s user=postgres", k.src.Port, dbName)
	if err := k.nat.Exec(ctx, dbName, fmt.Sprintf(`CREATE SUBSCRIPTION %s CONNECTION '%s' PUBLICATION native_pub WITH (copy_data = false, streaming = on)`, sub, conninfo)); err != nil {
		return kResult{}, err
	}
	defer func() { _ = k.nat.Exec(context.Background(), dbName, "DROP SUBSCRIPTION "+sub) }()
	if err := k.insertWarm(ctx, warm); err != nil {
		return kResult{}, err
	}
	if err := k.waitNative(ctx, warm, warm, 1, time.Minute); err != nil {
		return kResult{}, fmt.Errorf("warm-up: %w", err)
	}
	if err := k.nat.Exec(ctx, dbName, "ALTER SUBSCRIPTION "+sub+" DISABLE"); err != nil {
		return kResult{}, err
	}
	if err := k.waitSlotActive(ctx, sub, false, nil); err != nil {
		return kResult{}, err
	}
	l0 := time.Now()
	if err := w.load(ctx, lo, hi); err != nil {
		return kResult{}, fmt.Errorf("load: %w", err)
	}
	loaded := time.Since(l0)
	t0 := time.Now()
	if err := k.nat.Exec(ctx, dbName, "ALTER SUBSCRIPTION "+sub+" ENABLE"); err != nil {
		return kResult{}, err
	}
	var worker, sender int
	var cpu, snd time.Duration
	done := make(chan struct{})
	go func() { // the apply worker and walsender start after ENABLE; sample their CPU until the end
		defer close(done)
		for ctx.Err() == nil {
			if worker == 0 {
				_ = k.natSample.QueryRow(ctx, `SELECT coalesce(max(pid), 0) FROM pg_stat_subscription WHERE subname = $1 AND relid IS NULL`, sub).Scan(&worker)
			}
			if sender == 0 {
				_ = k.srcSample.QueryRow(ctx, `SELECT coalesce(max(active_pid), 0) FROM pg_replication_slots WHERE slot_name = $1 AND active`, sub).Scan(&sender)
			}
			if worker != 0 {
				cpu = max(cpu, cpuTime(worker))
			}
			if sender != 0 {
				snd = max(snd, cpuTime(sender))
			}
			select {
			case <-k.stopSampling:
				return
			case <-time.After(50 * time.Millisecond):
			}
		}
	}()
	err := k.waitNative(ctx, lo, hi, hi-lo+1, w.timeout)
	took := time.Since(t0)
	k.stopSampling <- struct{}{}
	<-done
	if err != nil {
		return kResult{}, err
	}
	if worker != 0 {
		cpu = max(cpu, cpuTime(worker))
	}
	if sender != 0 {
		snd = max(snd, cpuTime(sender))
	}
	return kResult{load: loaded, took: took, cpu: cpu, walsender: snd}, nil
}

func (k *kEnv) insertWarm(ctx context.Context, id int64) error {
	_, err := k.srcConns[0].Exec(ctx, `INSERT INTO bench_rows VALUES ($1, 0, 'warm-up', 0, now())`, id)
	return err
}

// waitNative polls the native target until it holds want rows in lo..hi.
func (k *kEnv) waitNative(ctx context.Context, lo, hi, want int64, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		var n int64
		if err := k.natConn.QueryRow(ctx, `SELECT count(*) FROM bench_rows WHERE id BETWEEN $1 AND $2`, lo, hi).Scan(&n); err != nil {
			return err
		}
		if n == want {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the native target holds %d of %d rows after %v", n, want, timeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(pollInterval):
		}
	}
}

// runKafka measures a fresh sluice pipeline catching up with ids lo..hi
// into a topic of its own: started and warmed up with one row, stopped
// (SIGTERM; its slot keeps the WAL), the load commits, and the time runs
// from its restart until a read_committed consumer has read every record.
func (k *kEnv) runKafka(ctx context.Context, w workload, lo, hi, warm int64, n int) (kResult, error) {
	name := fmt.Sprintf("bench_k%d", n)
	prefix := fmt.Sprintf("k%d", n)
	topic := prefix + ".public.bench_rows"
	if err := k.createTopic(ctx, topic); err != nil {
		return kResult{}, err
	}
	cfg := fmt.Sprintf(`name: %s
source:
  kind: postgres
  dsn: %s
  tables: ["public.bench_rows"]
  snapshot: never
sink:
  kind: kafka
  kafka:
    brokers: ["%s"]
    topic_prefix: %s
    create_topics: {partitions: 6, replication_factor: 1}
checkpoint:
  path: %s
log:
  level: %s
`, name, k.src.DSN(dbName), k.broker.Addr(), prefix, filepath.Join(k.dir, name+".checkpoint"), k.opts.logLevel)
	cfgPath := filepath.Join(k.dir, name+".yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		return kResult{}, err
	}
	slot := "sluice_" + name
	defer func() {
		_, _ = k.srcConns[0].Exec(context.Background(), `SELECT pg_drop_replication_slot($1)`, slot)
	}()
	c, err := newCounter(k.broker.Addr(), topic)
	if err != nil {
		return kResult{}, err
	}
	defer c.close()

	// First start: create the slot and warm up.
	proc, err := k.startSluice(cfgPath)
	if err != nil {
		return kResult{}, err
	}
	// Not the slot's active flag: the slot is active while it is being
	// created, and a row committed before its consistent point is never
	// decoded. Sluice logs this once it streams from the created slot.
	if err := waitLogged(ctx, k.logPath, 0, `"streaming started"`, proc); err != nil {
		proc.stop(30 * time.Second)
		return kResult{}, err
	}
	if err := k.insertWarm(ctx, warm); err != nil {
		proc.stop(30 * time.Second)
		return kResult{}, err
	}
	if err := c.wait(ctx, 1, time.Minute, proc); err != nil {
		proc.stop(30 * time.Second)
		return kResult{}, fmt.Errorf("warm-up: %w", err)
	}
	if err := proc.stop(60 * time.Second); err != nil {
		return kResult{}, fmt.Errorf("stop sluice after the warm-up: %w", err)
	}
	if err := k.waitSlotActive(ctx, slot, false, nil); err != nil {
		return kResult{}, err
	}

	l0 := time.Now()
	if err := w.load(ctx, lo, hi); err != nil {
		return kResult{}, fmt.Errorf("load: %w", err)
	}
	loaded := time.Since(l0)

	// Second start: catch up.
	brk0 := cpuTime(k.broker.Pid())
	t0 := time.Now()
	proc, err = k.startSluice(cfgPath)
	if err != nil {
		return kResult{}, err
	}
	defer func() {
		if err := proc.stop(30 * time.Second); err != nil {
			fmt.Fprintf(os.Stderr, "bench: stop sluice: %v\n", err)
		}
	}()
	rss := newRSSSampler(proc.pid())
	defer rss.close()
	var sender int
	var snd time.Duration
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			if sender == 0 {
				_ = k.srcSample.QueryRow(ctx, `SELECT coalesce(max(active_pid), 0) FROM pg_replication_slots WHERE slot_name = $1 AND active`, slot).Scan(&sender)
			}
			if sender != 0 {
				snd = max(snd, cpuTime(sender))
			}
			select {
			case <-k.stopSampling:
				return
			case <-time.After(50 * time.Millisecond):
			}
		}
	}()
	want := hi - lo + 2 // and the warm-up row
	err = c.wait(ctx, want, w.timeout, proc)
	k.stopSampling <- struct{}{}
	<-done
	if err != nil {
		return kResult{}, err
	}
	took := c.doneAt().Sub(t0)
	if sender != 0 {
		snd = max(snd, cpuTime(sender))
	}
	res := kResult{load: loaded, took: took, cpu: cpuTime(proc.pid()), brokerCPU: cpuTime(k.broker.Pid()) - brk0,
		walsender: snd, rssKB: rss.peak()}
	if d := c.distinct(); d != want {
		return kResult{}, fmt.Errorf("topic %s holds %d records but %d distinct keys: duplicates", topic, want, d)
	}
	return res, nil
}

// startSluice starts `sluice run` with its log in a kept temp file.
func (k *kEnv) startSluice(cfgPath string) (*sluiceProc, error) {
	f, err := os.CreateTemp("", "sluice-bench-kafka-*.log")
	if err != nil {
		return nil, err
	}
	k.logPath = f.Name()
	return startSluice(k.bin, cfgPath, f)
}

// createTopic creates a run's topic before anyone reads or writes it, so
// the consumer never races the sink's creation of it.
func (k *kEnv) createTopic(ctx context.Context, topic string) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(k.broker.Addr()))
	if err != nil {
		return err
	}
	defer cl.Close()
	resp, err := kadm.NewClient(cl).CreateTopic(ctx, 6, 1, nil, topic)
	if err != nil {
		return fmt.Errorf("create topic %s: %w", topic, err)
	}
	if resp.Err != nil {
		return fmt.Errorf("create topic %s: %w", topic, resp.Err)
	}
	return nil
}

// waitSlotActive waits until a slot is (active) or is not (!active) in
// use by a walsender; p, when set, is a sluice that must not exit meanwhile.
func (k *kEnv) waitSlotActive(ctx context.Context, slot string, active bool, p *sluiceProc) error {
	deadline := time.Now().Add(90 * time.Second)
	for {
		var now bool
		err := k.srcConns[0].QueryRow(ctx, `SELECT coalesce(bool_or(active), false) FROM pg_replication_slots WHERE slot_name = $1`, slot).Scan(&now)
		if err != nil {
			return err
		}
		if now == active {
			return nil
		}
		if p != nil {
			if err := p.exited(); err != nil {
				return err
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("slot %s: active is not %v after 90s", slot, active)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}
