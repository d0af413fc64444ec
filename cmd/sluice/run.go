package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/rs/zerolog"

	"github.com/sluicecdc/sluice/checkpoint/file"
	"github.com/sluicecdc/sluice/pkg/config"
	"github.com/sluicecdc/sluice/pkg/pipeline"
	pgsink "github.com/sluicecdc/sluice/sink/postgres"
	pgsource "github.com/sluicecdc/sluice/source/postgres"
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
	if cfg.Source.Kind != "postgres" {
		return fmt.Errorf("source.kind: %q is not supported yet (supported: postgres)", cfg.Source.Kind)
	}
	src, err := pgsource.New(ctx, pgsource.Options{
		DSN: cfg.Source.DSN, Tables: cfg.Source.Tables, Exclude: cfg.Source.Exclude,
		Slot: cfg.Source.Postgres.Slot, Publication: cfg.Source.Postgres.Publication,
		SnapshotWorkers: cfg.Source.Postgres.SnapshotWorkers, SpillDir: os.Getenv("SLUICE_SPILL_DIR"),
		Log: log.With().Str("component", "source").Logger(),
	})
	if err != nil {
		return fail(err)
	}
	defer src.Close()
	sink, err := pgsink.New(ctx, pgsink.Options{DSN: cfg.Sink.DSN, Schema: cfg.Sink.Schema, Pipeline: cfg.Name})
	if err != nil {
		return fail(err)
	}
	defer sink.Close()
	p := pipeline.New(src, sink, file.New(cfg.Checkpoint.Path), pipeline.Options{
		Name: cfg.Name, SourceKind: cfg.Source.Kind,
		Snapshot: cfg.Source.Snapshot == "initial", Resnapshot: resnapshot,
		SnapshotWorkers: cfg.Source.Postgres.SnapshotWorkers,
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
	if cfg.Source.Kind != "postgres" {
		problems = append(problems, fmt.Sprintf("source.kind: %q is not supported yet (supported: postgres)", cfg.Source.Kind))
	} else if src, err := pgsource.New(ctx, pgsource.Options{DSN: cfg.Source.DSN, Tables: cfg.Source.Tables,
		Exclude: cfg.Source.Exclude, Slot: cfg.Source.Postgres.Slot, Publication: cfg.Source.Postgres.Publication,
		Log: zerolog.Nop()}); err != nil {
		problems = append(problems, fmt.Sprintf("source: %v (check source.dsn and that the server accepts connections from here)", err))
	} else {
		problems = append(problems, src.Check(ctx)...)
		src.Close()
	}
	problems = append(problems, pgsink.Check(ctx, cfg.Sink.DSN)...)
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
