package main

import (
	"context"
	"fmt"
	"os"

	"github.com/rs/zerolog"

	"github.com/sluicecdc/sluice/pkg/config"
	"github.com/sluicecdc/sluice/pkg/mysqlconn"
	"github.com/sluicecdc/sluice/pkg/pipeline"
	"github.com/sluicecdc/sluice/pkg/transform"
	mysink "github.com/sluicecdc/sluice/sink/mysql"
	pgsink "github.com/sluicecdc/sluice/sink/postgres"
	mysource "github.com/sluicecdc/sluice/source/mysql"
	pgsource "github.com/sluicecdc/sluice/source/postgres"
)

// source is what the CLI needs of every log reader.
type source interface {
	pipeline.Source
	Check(ctx context.Context) []string
}

// openSource connects the log reader cfg.Source.Kind names, with the
// config's transforms applied to what it yields.
func openSource(ctx context.Context, cfg *config.Config, log zerolog.Logger) (source, error) {
	spill := os.Getenv("SLUICE_SPILL_DIR")
	src, err := openLogReader(ctx, cfg, spill, log)
	sinkSchema, schema := splitSchema(cfg)
	// Without rules or a schema every table keeps its own name: no two can
	// meet in one target table.
	if err != nil || len(cfg.Transforms) == 0 && sinkSchema == "" {
		return src, err
	}
	_, key := targetSchema(cfg)
	set, err := transform.Compile(cfg.Transforms, transform.Options{Schema: schema, SinkSchema: sinkSchema, SchemaKey: key,
		SpillDir: spill, LogValues: cfg.Log.Values})
	if err != nil {
		src.Close()
		return nil, err
	}
	return transform.Wrap(src, set), nil
}

// targetSchema is the schema (a MySQL target: database) every table goes
// into unless a transform names one, and the config key that says so:
// sink.schema, else the database a MySQL sink's DSN names (what a user
// who writes mysql://.../dwh expects). "" keeps each table's own schema.
func targetSchema(cfg *config.Config) (schema, key string) {
	if cfg.Sink.Schema != "" {
		return cfg.Sink.Schema, "sink.schema"
	}
	if cfg.Sink.Kind == "mysql" {
		if p, err := mysqlconn.Parse(cfg.Sink.DSN); err == nil && p.Database != "" {
			return p.Database, "sink.dsn"
		}
	}
	return "", ""
}

// splitSchema says who applies the target schema: the sink, unless a
// transform names a target schema; then the transforms apply it to every
// other table, so that the rule's schema wins.
func splitSchema(cfg *config.Config) (sink, transforms string) {
	schema, _ := targetSchema(cfg)
	for _, t := range cfg.Transforms {
		if t.Target.Schema != "" {
			return "", schema
		}
	}
	return schema, ""
}

func openLogReader(ctx context.Context, cfg *config.Config, spill string, log zerolog.Logger) (source, error) {
	s := &cfg.Source
	switch s.Kind {
	case "postgres":
		src, err := pgsource.New(ctx, pgsource.Options{
			DSN: s.DSN, Tables: s.Tables, Exclude: s.Exclude,
			Slot: s.Postgres.Slot, Publication: s.Postgres.Publication, Pipeline: cfg.Name,
			SnapshotWorkers: s.Postgres.SnapshotWorkers, SpillDir: spill, Log: log,
		})
		if err != nil {
			return nil, err
		}
		return src, nil
	case "mysql":
		src, err := mysource.New(ctx, mysource.Options{
			DSN: s.DSN, Tables: s.Tables, Exclude: s.Exclude,
			ServerID: s.MySQL.ServerID, SnapshotWorkers: s.MySQL.SnapshotWorkers, SpillDir: spill, Log: log,
		})
		if err != nil {
			return nil, err
		}
		return src, nil
	}
	return nil, fmt.Errorf("source.kind: %q is not supported (supported: postgres, mysql)", s.Kind)
}

// snapshotWorkers is the configured number of parallel snapshot readers.
func snapshotWorkers(cfg *config.Config) int {
	if cfg.Source.Kind == "mysql" {
		return cfg.Source.MySQL.SnapshotWorkers
	}
	return cfg.Source.Postgres.SnapshotWorkers
}

// openSink connects the target cfg.Sink.Kind names.
func openSink(ctx context.Context, cfg *config.Config, log zerolog.Logger) (pipeline.Sink, error) {
	schema, _ := splitSchema(cfg)
	// ForPipeline: in modes whose rows record their commit the sink takes
	// whole transactions only, not the parts of running ones.
	modes := cfg.Sink.ModeOptions()
	switch cfg.Sink.Kind {
	case "postgres":
		s, err := pgsink.New(ctx, pgsink.Options{DSN: cfg.Sink.DSN, Schema: schema, Pipeline: cfg.Name, Log: log, Mode: modes, LogValues: cfg.Log.Values})
		if err != nil {
			return nil, err
		}
		return s.ForPipeline(), nil
	case "mysql":
		s, err := mysink.New(ctx, mysink.Options{DSN: cfg.Sink.DSN, Schema: schema, Pipeline: cfg.Name, Log: log, Mode: modes, LogValues: cfg.Log.Values})
		if err != nil {
			return nil, err
		}
		return s.ForPipeline(), nil
	}
	return nil, fmt.Errorf("sink.kind: %q is not supported (supported: postgres, mysql)", cfg.Sink.Kind)
}

// checkSink lists the target's problems with their fixes.
func checkSink(ctx context.Context, cfg *config.Config) []string {
	switch cfg.Sink.Kind {
	case "postgres":
		return pgsink.Check(ctx, cfg.Sink.DSN)
	case "mysql":
		return mysink.Check(ctx, cfg.Sink.DSN)
	}
	return []string{fmt.Sprintf("sink.kind: %q is not supported (supported: postgres, mysql)", cfg.Sink.Kind)}
}

// checkTargetNames lists the names a PostgreSQL target would cut, for
// every selected table as it is now, after the transforms: the problems
// the sink would stop with (see pgsink.NameProblems).
func checkTargetNames(ctx context.Context, cfg *config.Config, src source) []string {
	if cfg.Sink.Kind != "postgres" {
		return nil
	}
	var inner pipeline.Source = src
	if w, ok := src.(interface{ Unwrap() pipeline.Source }); ok {
		inner = w.Unwrap()
	}
	d, ok := inner.(pipeline.Describer)
	if !ok {
		return nil
	}
	tables, err := d.DescribeTables(ctx)
	if err != nil {
		return []string{fmt.Sprintf("sink: cannot read the source tables' shapes to check their target names: %v", err)}
	}
	sinkSchema, ruleSchema := splitSchema(cfg)
	var set *transform.Set
	if len(cfg.Transforms) > 0 {
		if set, err = transform.Compile(cfg.Transforms, transform.Options{Schema: ruleSchema}); err != nil {
			return nil // a config problem, reported when the source was opened
		}
	}
	var problems []string
	for _, t := range tables {
		out := t
		if set != nil {
			if out, err = set.Table(t); err != nil {
				continue // the transforms' own check reports it
			}
		}
		problems = append(problems, pgsink.NameProblems(t.ID, out, sinkSchema)...)
	}
	return problems
}
