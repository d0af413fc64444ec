package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/rs/zerolog"

	"github.com/sluicecdc/sluice/checkpoint/file"
	"github.com/sluicecdc/sluice/pkg/config"
	"github.com/sluicecdc/sluice/pkg/pipeline"
)

func newLogger(c config.Log, w io.Writer) zerolog.Logger {
	zerolog.TimeFieldFormat = time.RFC3339Nano
	level, err := zerolog.ParseLevel(c.Level)
	if err != nil {
		level = zerolog.InfoLevel
	}
	if c.Format == "console" {
		w = zerolog.ConsoleWriter{Out: w, TimeFormat: time.RFC3339Nano}
	}
	return zerolog.New(w).Level(level).With().Timestamp().Logger()
}

func runPipeline(ctx context.Context, path string, resnapshot bool, stderr io.Writer) error {
	cfg, err := config.Load(path)
	if err != nil {
		return err
	}
	log := newLogger(cfg.Log, stderr).With().Str("pipeline", cfg.Name).Logger()
	fail := func(err error) error {
		log.Error().Err(err).Msg("pipeline stopped")
		return errReported
	}
	log.Info().Str("version", version).Str("source", config.RedactDSN(cfg.Source.DSN)).Str("sink", config.RedactDSN(cfg.Sink.DSN)).Msg("starting")
	src, err := openSource(ctx, cfg, log.With().Str("component", "source").Logger())
	if err != nil {
		return fail(err)
	}
	defer src.Close()
	sink, err := openSink(ctx, cfg, log.With().Str("component", "sink").Logger())
	if err != nil {
		return fail(err)
	}
	defer sink.Close()
	p := pipeline.New(src, sink, file.New(cfg.Checkpoint.Path), pipeline.Options{
		Name: cfg.Name, SourceKind: cfg.Source.Kind,
		Snapshot: cfg.Source.Snapshot == "initial", Resnapshot: resnapshot,
		SnapshotWorkers: snapshotWorkers(cfg),
		BatchRows:       cfg.Sink.Batch.Rows, BatchBytes: cfg.Sink.Batch.Bytes, BatchWait: cfg.Sink.Batch.Wait,
		Log: log,
	})
	if err := p.Run(ctx); err != nil {
		return fail(err)
	}
	return nil
}

// check prints every problem with its fix; any problem fails the command.
func check(ctx context.Context, path string, offline bool, stdout io.Writer) error {
	cfg, err := config.Load(path)
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
	if src, err := openSource(ctx, cfg, zerolog.Nop()); err != nil {
		problems = append(problems, fmt.Sprintf("source: %v (check source.dsn and that the server accepts connections from here)", err))
	} else {
		problems = append(problems, src.Check(ctx)...)
		src.Close()
	}
	problems = append(problems, checkSink(ctx, cfg)...)
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
