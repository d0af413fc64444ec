package postgres

import (
	"context"

	"github.com/sluicecdc/sluice/pkg/config"
	"github.com/sluicecdc/sluice/pkg/connector"
	"github.com/sluicecdc/sluice/pkg/pipeline"
)

// Connector is the postgres source kind (its settings are source.postgres
// in config.Config).
var Connector = connector.Source{
	Kind: config.Kind{Name: "postgres"},
	Open: func(ctx context.Context, e connector.Env) (pipeline.Source, error) {
		s := &e.Config.Source
		src, err := New(ctx, Options{
			DSN: s.DSN, Tables: s.Tables, Exclude: s.Exclude,
			Slot: s.Postgres.Slot, Publication: s.Postgres.Publication, Pipeline: e.Config.Name,
			SnapshotWorkers: s.Postgres.SnapshotWorkers, SpillDir: e.SpillDir, Log: e.Log, Reconnecting: e.Reconnecting,
		})
		if err != nil {
			return nil, err // not a nil *Source inside the interface
		}
		return src, nil
	},
	SnapshotWorkers: func(c *config.Config) int { return c.Source.Postgres.SnapshotWorkers },
	Slot:            func(c *config.Config) string { return c.Source.Postgres.Slot },
	Classify:        classify,
}
