package mysql

import (
	"context"

	"github.com/sluicecdc/sluice/pkg/config"
	"github.com/sluicecdc/sluice/pkg/connector"
	"github.com/sluicecdc/sluice/pkg/pipeline"
)

// Connector is the mysql (MySQL and MariaDB) source kind (its settings are
// source.mysql in config.Config).
var Connector = connector.Source{
	Kind: config.Kind{Name: "mysql"},
	Open: func(ctx context.Context, e connector.Env) (pipeline.Source, error) {
		s := &e.Config.Source
		src, err := New(ctx, Options{
			DSN: s.DSN, Tables: s.Tables, Exclude: s.Exclude,
			ServerID: s.MySQL.ServerID, SnapshotWorkers: s.MySQL.SnapshotWorkers, SpillDir: e.SpillDir, Log: e.Log, Reconnecting: e.Reconnecting,
		})
		if err != nil {
			return nil, err // not a nil *Source inside the interface
		}
		return src, nil
	},
	SnapshotWorkers: func(c *config.Config) int { return c.Source.MySQL.SnapshotWorkers },
	Classify:        classify,
}
