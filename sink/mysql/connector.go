package mysql

import (
	"context"
	"fmt"

	"github.com/sluicecdc/sluice/pkg/config"
	"github.com/sluicecdc/sluice/pkg/connector"
	"github.com/sluicecdc/sluice/pkg/mysqlconn"
	"github.com/sluicecdc/sluice/pkg/pipeline"
	"github.com/sluicecdc/sluice/sink/mode"
	"github.com/sluicecdc/sluice/sink/schemachange"
)

// Connector is the mysql (MySQL and MariaDB) sink kind.
var Connector = connector.Sink{
	Kind: config.Kind{Name: "mysql", SQL: true, Validate: mode.ValidateConfig},
	Open: func(ctx context.Context, e connector.Env) (pipeline.Sink, error) {
		c := e.Config
		schema, _ := connector.SplitSchema(c, dsnDatabase)
		policy, err := schemachange.ParsePolicy(c.Sink.SchemaChanges)
		if err != nil {
			return nil, err
		}
		s, err := New(ctx, Options{DSN: c.Sink.DSN, Schema: schema, Pipeline: c.Name, Log: e.Log,
			Mode: mode.FromConfig(&c.Sink), LogValues: c.Log.Values, SchemaChanges: policy})
		if err != nil {
			return nil, err
		}
		// In modes whose rows record their commit the sink takes whole
		// transactions only, not the parts of running ones.
		return s.ForPipeline(), nil
	},
	Check: func(ctx context.Context, e connector.Env) []string { return Check(ctx, e.Config.Sink.DSN) },
	Ping: func(ctx context.Context, e connector.Env) error {
		db, _, err := mysqlconn.Open(e.Config.Sink.DSN)
		if err != nil {
			return err
		}
		defer db.Close()
		return db.PingContext(ctx)
	},
	Teardown: func(ctx context.Context, e connector.Env, dryRun bool) ([]string, error) {
		found, err := ForgetPosition(ctx, e.Config.Sink.DSN, e.Config.Name, dryRun)
		if !found || err != nil {
			return nil, err
		}
		return []string{fmt.Sprintf("applied position of pipeline %s in sluice.positions", e.Config.Name)}, nil
	},
	DefaultSchema: dsnDatabase,
	Classify:      classify,
}

// dsnDatabase is the database a MySQL sink's DSN names: the default target
// database (what a user who writes mysql://.../dwh expects).
func dsnDatabase(c *config.Config) (schema, key string) {
	if p, err := mysqlconn.Parse(c.Sink.DSN); err == nil && p.Database != "" {
		return p.Database, "sink.dsn"
	}
	return "", ""
}
