package main

import (
	"context"
	"fmt"
	"os"
	"slices"

	"github.com/rs/zerolog"

	"github.com/sluicecdc/sluice/pkg/change"
	"github.com/sluicecdc/sluice/pkg/config"
	"github.com/sluicecdc/sluice/pkg/connector"
	"github.com/sluicecdc/sluice/pkg/pipeline"
	"github.com/sluicecdc/sluice/pkg/signal"
	"github.com/sluicecdc/sluice/pkg/transform"
	"github.com/sluicecdc/sluice/sink/jsonl"
	kafkasink "github.com/sluicecdc/sluice/sink/kafka"
	mysink "github.com/sluicecdc/sluice/sink/mysql"
	natssink "github.com/sluicecdc/sluice/sink/nats"
	pgsink "github.com/sluicecdc/sluice/sink/postgres"
	"github.com/sluicecdc/sluice/sink/webhook"
	kafkasource "github.com/sluicecdc/sluice/source/kafka"
	mysource "github.com/sluicecdc/sluice/source/mysql"
	pgsource "github.com/sluicecdc/sluice/source/postgres"
)

// kinds are the source and sink kinds this program supports, one line
// each; everything a kind needs lives in its own package.
var kinds = connector.New(
	pgsource.Connector,
	mysource.Connector,
	pgsink.Connector,
	mysink.Connector,
	kafkasink.Connector,
	jsonl.Connector,
	webhook.Connector,
	natssink.Connector,
	kafkasource.Connector,
)

// loadConfig reads a config file that may use any of the kinds.
func loadConfig(path string) (*config.Config, error) {
	cfg, err := kinds.Load(path)
	if err == nil {
		kafkasource.ForMember(cfg) // each member of a kafka source's group keeps its own positions row
	}
	return cfg, err
}

// env is what a kind gets to open or check itself.
func kindEnv(cfg *config.Config, log zerolog.Logger) connector.Env {
	return connector.Env{Config: cfg, Version: version, Log: log, SpillDir: os.Getenv("SLUICE_SPILL_DIR")}
}

// openSource connects the log reader cfg.Source.Kind names, with the
// signal table and the transforms the config asks for; reconnecting (may
// be nil) hears of lost connections.
func openSource(ctx context.Context, cfg *config.Config, log zerolog.Logger, reconnecting func(lost bool)) (pipeline.Source, error) {
	src, err := openSignalledReader(ctx, cfg, log, reconnecting)
	if err != nil {
		return nil, err
	}
	set, err := compileTransforms(cfg)
	if err != nil || set == nil {
		if err != nil {
			src.Close()
		}
		return src, err
	}
	return transform.Wrap(src, set), nil
}

// openSignalledReader connects the log reader; with
// source.snapshot_signals, the signal table is added to its selection (so
// it is in the stream: for PostgreSQL, in the publication) and its rows
// are taken out of the stream as back-fill requests (pkg/signal).
func openSignalledReader(ctx context.Context, cfg *config.Config, log zerolog.Logger, reconnecting func(lost bool)) (pipeline.Source, error) {
	env := kindEnv(cfg, log)
	env.Reconnecting = reconnecting
	if !cfg.Source.SnapshotSignals {
		return openLogReader(ctx, env)
	}
	id, err := change.ParseTableID(cfg.Source.SignalTable)
	if err != nil {
		return nil, fmt.Errorf("source.signal_table: %w", err)
	}
	c := *cfg
	c.Source.Tables = append(slices.Clone(cfg.Source.Tables), id.String())
	if id.MatchesAny(cfg.Source.Exclude) {
		return nil, fmt.Errorf("source.exclude %v leaves out the signal table %s (source.signal_table): change the pattern", cfg.Source.Exclude, id)
	}
	env.Config = &c
	src, err := openLogReader(ctx, env)
	if err != nil {
		return nil, err
	}
	return signal.Wrap(src, id, cfg.Source.Kind, log), nil
}

// openLogReader connects the log reader alone, without the transforms.
func openLogReader(ctx context.Context, e connector.Env) (pipeline.Source, error) {
	k, err := kinds.Source(e.Config)
	if err != nil {
		return nil, err
	}
	return k.Open(ctx, e)
}

// compileTransforms compiles the config's rules with the target schema the
// sink kind applies; nil when no table changes its name, so no two can meet
// in one target table.
func compileTransforms(cfg *config.Config) (*transform.Set, error) {
	k, err := kinds.Sink(cfg)
	if err != nil {
		return nil, err
	}
	sinkSchema, schema := k.SplitSchema(cfg)
	if len(cfg.Transforms) == 0 && sinkSchema == "" {
		return nil, nil
	}
	_, key := k.TargetSchema(cfg)
	return transform.Compile(cfg.Transforms, transform.Options{Schema: schema, SinkSchema: sinkSchema, SchemaKey: key,
		SpillDir: os.Getenv("SLUICE_SPILL_DIR"), LogValues: cfg.Log.Values})
}

// snapshotWorkers is the configured number of parallel snapshot readers.
func snapshotWorkers(cfg *config.Config) int {
	k, err := kinds.Source(cfg)
	if err != nil || k.SnapshotWorkers == nil {
		return 0 // the pipeline's default
	}
	return k.SnapshotWorkers(cfg)
}

// openSink connects the target cfg.Sink.Kind names.
func openSink(ctx context.Context, cfg *config.Config, log zerolog.Logger) (pipeline.Sink, error) {
	k, err := kinds.Sink(cfg)
	if err != nil {
		return nil, err
	}
	return k.Open(ctx, kindEnv(cfg, log))
}

// pingSink tells whether the target can be reached now.
func pingSink(ctx context.Context, cfg *config.Config) error {
	k, err := kinds.Sink(cfg)
	if err != nil || k.Ping == nil {
		return err // nothing to reach
	}
	return k.Ping(ctx, kindEnv(cfg, zerolog.Nop()))
}

// checkSource lists the source's problems; src is the opened source.
func checkSource(ctx context.Context, src pipeline.Source) []string {
	if c, ok := src.(connector.Checker); ok {
		return c.Check(ctx)
	}
	return nil
}

// checkSink lists the target's problems with their fixes, for every
// selected table (src tells their shapes, when it can).
func checkSink(ctx context.Context, cfg *config.Config, src pipeline.Source) []string {
	k, err := kinds.Sink(cfg)
	if err != nil {
		return []string{err.Error()}
	}
	if k.Check == nil {
		return nil
	}
	e := kindEnv(cfg, zerolog.Nop())
	if src != nil {
		e.Targets = func(ctx context.Context) ([]connector.Target, error) { return targets(ctx, cfg, src) }
	}
	return k.Check(ctx, e)
}

// targets describes every selected table as it is now and as it reaches the
// sink, after the transforms.
func targets(ctx context.Context, cfg *config.Config, src pipeline.Source) ([]connector.Target, error) {
	inner := src
	if w, ok := src.(interface{ Unwrap() pipeline.Source }); ok {
		inner = w.Unwrap()
	}
	d, ok := inner.(pipeline.Describer)
	if !ok {
		return nil, nil
	}
	tables, err := d.DescribeTables(ctx)
	if err != nil {
		return nil, err
	}
	var set *transform.Set
	if len(cfg.Transforms) > 0 {
		k, err := kinds.Sink(cfg)
		if err != nil {
			return nil, err
		}
		_, ruleSchema := k.SplitSchema(cfg)
		if set, err = transform.Compile(cfg.Transforms, transform.Options{Schema: ruleSchema}); err != nil {
			return nil, nil // a config problem, reported when the source was opened
		}
	}
	var out []connector.Target
	for _, t := range tables {
		shape := t
		if set != nil {
			if shape, err = set.Table(t); err != nil {
				continue // the transforms' own check reports it
			}
		}
		out = append(out, connector.Target{Source: t.ID, Table: shape})
	}
	return out, nil
}

// teardownSink drops what the sink keeps for the pipeline.
func teardownSink(ctx context.Context, cfg *config.Config, dryRun bool) ([]string, error) {
	k, err := kinds.Sink(cfg)
	if err != nil || k.Teardown == nil {
		return nil, err
	}
	return k.Teardown(ctx, kindEnv(cfg, zerolog.Nop()), dryRun)
}

// slotOf names what the source server keeps for the pipeline ("" when
// nothing), for status.
func slotOf(cfg *config.Config) string {
	k, err := kinds.Source(cfg)
	if err != nil || k.Slot == nil {
		return ""
	}
	return k.Slot(cfg)
}
