package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/sluicecdc/sluice/checkpoint/file"
	"github.com/sluicecdc/sluice/pkg/config"
	"github.com/sluicecdc/sluice/pkg/metrics"
	"github.com/sluicecdc/sluice/pkg/pipeline"
)

// newLogger makes the process log: JSON lines with RFC3339Nano timestamps,
// or zerolog's human console format with log.format: console, or when
// log.format is not set and w is an interactive terminal.
func newLogger(c config.Log, w io.Writer, tty bool) zerolog.Logger {
	zerolog.TimeFieldFormat = time.RFC3339Nano
	level, err := zerolog.ParseLevel(c.Level)
	if err != nil {
		level = zerolog.InfoLevel
	}
	if c.Format == "console" || c.Format == "" && tty {
		w = zerolog.ConsoleWriter{Out: w, TimeFormat: time.RFC3339Nano, NoColor: !tty}
	}
	return zerolog.New(w).Level(level).With().Timestamp().Logger()
}

// isTerminal tells whether w is an interactive terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && (isatty.IsTerminal(f.Fd()) || isatty.IsCygwinTerminal(f.Fd()))
}

func runPipeline(ctx context.Context, path string, resnapshot bool, stderr io.Writer) error {
	cfg, err := loadConfig(path)
	if err != nil {
		return err
	}
	tty := isTerminal(stderr)
	secret := secrets(cfg)
	logOut := &switchWriter{w: stderr}
	log := newLogger(cfg.Log, newRedactor(logOut, secret), tty).With().Str("pipeline", cfg.Name).Logger()
	fail := func(err error) error {
		log.Error().Err(err).Msg("pipeline stopped")
		return errReported
	}
	log.Info().Str("version", version).Str("source", config.RedactDSN(cfg.Source.DSN)).Str("sink", config.RedactDSN(cfg.Sink.DSN)).Msg("starting")
	m := metrics.New(info(cfg))
	var adm *admin
	if cfg.HTTP.Admin {
		adm = &admin{}
	}
	if cfg.HTTP.Listen != "" {
		srv, err := startHTTP(cfg.HTTP.Listen, m, secret, log.With().Str("component", "http").Logger(), adm)
		if err != nil {
			return fail(err)
		}
		defer srv.close()
	}
	bg, stopBG := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() { stopBG(); wg.Wait() }()
	progressEvery := time.Duration(0) // the pipeline's default: a log line per table every 10 s
	if tty {
		progressEvery = -1 // bars instead
		wg.Go(func() { showProgress(bg, m, stderr, logOut) })
	}
	// With http.listen, every probeEvery; otherwise less often, still to
	// warn when the slot's WAL grows dangerous.
	every := probeEvery
	if cfg.HTTP.Listen == "" {
		every = probeQuiet
	}
	wg.Go(func() { probe(bg, cfg, m, secret, every, log.With().Str("component", "probe").Logger()) })
	r := &retrier{log: log, retried: m.Retry, state: m.State}
	for {
		began := time.Now()
		streamed := false
		obs := attemptObserver{Observer: m, streaming: func() { streamed = true }, flushed: r.flushed}
		err := runAttempt(ctx, cfg, resnapshot, log, m, obs, progressEvery, adm)
		if err == nil {
			return nil
		}
		if streamed {
			resnapshot = false // it was done; a retry goes on from the checkpoint
		}
		if ctx.Err() != nil && (errors.Is(err, context.Canceled) || transient(err)) {
			// SIGTERM/SIGINT ended the attempt: its error is the stop
			// itself (a cancelled query, a connection closed under it).
			if streamed {
				log.Info().Msg("stopped; everything applied is checkpointed")
			} else {
				// A phase that cannot stop half way (the snapshot, the
				// target's setup): nothing it did counts as applied.
				log.Info().Msg("stopped before the phase under way finished (the next run starts it again)")
			}
			return nil
		}
		if !r.again(ctx, err, time.Since(began)) {
			if ctx.Err() != nil && transient(err) {
				log.Info().Msg("stopped while retrying; everything applied is checkpointed")
				return nil
			}
			return fail(err)
		}
	}
}

// runAttempt connects to the source and the target and runs the pipeline
// until ctx ends (nil) or it fails.
func runAttempt(ctx context.Context, cfg *config.Config, resnapshot bool, log zerolog.Logger, m *metrics.Metrics,
	obs pipeline.Observer, progressEvery time.Duration, adm *admin) error {
	src, err := openSource(ctx, cfg, log.With().Str("component", "source").Logger(), m.SourceReconnecting)
	if err != nil {
		m.Error("source", err)
		m.State(pipeline.StateFailed, err)
		return err
	}
	defer src.Close()
	// Two tables into one target table are refused before the target is
	// touched (the pipeline would refuse them at their first row).
	if c, ok := src.(interface{ Claim(context.Context) error }); ok {
		if err := c.Claim(ctx); err != nil {
			m.Error("source", err)
			m.State(pipeline.StateFailed, err)
			return err
		}
	}
	sink, err := openSink(ctx, cfg, log.With().Str("component", "sink").Logger())
	if err != nil {
		m.Error("apply", err)
		m.State(pipeline.StateFailed, err)
		return err
	}
	defer sink.Close()
	if c := sourceCollector(src); c != nil { // a source with metrics of its own
		m.SetSourceCollector(c)
		defer m.SetSourceCollector(nil)
	}
	if c, ok := sink.(prometheus.Collector); ok { // a sink with metrics of its own
		m.SetSinkCollector(c)
		defer m.SetSinkCollector(nil)
	}
	p := pipeline.New(src, sink, file.ForPipeline(cfg.Checkpoint.Path, cfg.Name), pipeline.Options{
		Name: cfg.Name, SourceKind: cfg.Source.Kind,
		// A kafka source's snapshot is in its topics (op r events).
		Snapshot: cfg.Source.Snapshot == "initial" && cfg.Source.Kind != "kafka", Resnapshot: resnapshot,
		SnapshotWorkers: snapshotWorkers(cfg),
		BatchRows:       cfg.Sink.Batch.Rows, BatchBytes: cfg.Sink.Batch.Bytes, BatchWait: cfg.Sink.Batch.Wait,
		Log: log, Observer: obs, ProgressEvery: progressEvery,
	})
	adm.set(p)
	defer adm.set(nil)
	return p.Run(ctx)
}

// info describes the pipeline for /status, without secrets.
func info(cfg *config.Config) metrics.Info {
	i := metrics.Info{Pipeline: cfg.Name, Version: version,
		SourceKind: cfg.Source.Kind, Source: config.RedactDSN(cfg.Source.DSN),
		SinkKind: cfg.Sink.Kind, Sink: config.RedactDSN(cfg.Sink.DSN)}
	i.Slot = slotOf(cfg)
	return i
}

// check prints every problem with its fix; any problem fails the command.
func check(ctx context.Context, path string, offline bool, stdout io.Writer) error {
	cfg, err := loadConfig(path)
	if err != nil {
		return err
	}
	if offline {
		fmt.Fprintf(stdout, "config %s: ok\n", path)
		return nil
	}
	var problems []string
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	src, err := openSource(ctx, cfg, zerolog.Nop(), nil)
	if err != nil {
		problems = append(problems, fmt.Sprintf("source: %v (check source.dsn and that the server accepts connections from here)", err))
		src = nil
	} else {
		defer src.Close()
		problems = append(problems, checkSource(ctx, src)...)
	}
	problems = append(problems, checkSink(ctx, cfg, src)...)
	for _, p := range problems {
		fmt.Fprintln(stdout, "problem:", p)
	}
	if len(problems) > 0 {
		fmt.Fprintf(stdout, "%d problem(s) found\n", len(problems))
		return errReported
	}
	fmt.Fprintln(stdout, "ok: source and target are ready")
	return nil
}

// sourceCollector finds the metrics of the log reader under the source's
// wrappers (transforms, signals); nil when it has none.
func sourceCollector(src pipeline.Source) prometheus.Collector {
	for src != nil {
		if c, ok := src.(prometheus.Collector); ok {
			return c
		}
		u, ok := src.(interface{ Unwrap() pipeline.Source })
		if !ok {
			return nil
		}
		src = u.Unwrap()
	}
	return nil
}
