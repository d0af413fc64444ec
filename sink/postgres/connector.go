package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/sluicecdc/sluice/pkg/config"
	"github.com/sluicecdc/sluice/pkg/connector"
	"github.com/sluicecdc/sluice/pkg/pipeline"
	"github.com/sluicecdc/sluice/sink/mode"
	"github.com/sluicecdc/sluice/sink/schemachange"
)

// Connector is the postgres sink kind.
var Connector = connector.Sink{
	Kind: config.Kind{Name: "postgres", SQL: true, Validate: mode.ValidateConfig},
	Open: func(ctx context.Context, e connector.Env) (pipeline.Sink, error) {
		c := e.Config
		schema, _ := connector.SplitSchema(c, nil)
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
	Check: func(ctx context.Context, e connector.Env) []string {
		problems := Check(ctx, e.Config.Sink.DSN)
		return append(problems, targetNameProblems(ctx, e)...)
	},
	Ping: func(ctx context.Context, e connector.Env) error {
		cfg, err := parseDSN(e.Config.Sink.DSN)
		if err != nil {
			return err
		}
		conn, err := pgconn.ConnectConfig(ctx, &cfg.Config)
		if err != nil {
			return err
		}
		return conn.Close(ctx)
	},
	Teardown: func(ctx context.Context, e connector.Env, dryRun bool) ([]string, error) {
		found, err := ForgetPosition(ctx, e.Config.Sink.DSN, e.Config.Name, dryRun)
		if !found || err != nil {
			return nil, err
		}
		return []string{fmt.Sprintf("applied position of pipeline %s in sluice.positions", e.Config.Name)}, nil
	},
	Classify: classify,
}

// targetNameProblems lists the names this target would cut, for every
// selected table as it is now, after the transforms: the problems the sink
// would stop with (see NameProblems).
func targetNameProblems(ctx context.Context, e connector.Env) []string {
	if e.Targets == nil {
		return nil
	}
	targets, err := e.Targets(ctx)
	if err != nil {
		return []string{fmt.Sprintf("sink: cannot read the source tables' shapes to check their target names: %v", err)}
	}
	schema, _ := connector.SplitSchema(e.Config, nil)
	var problems []string
	for _, t := range targets {
		problems = append(problems, NameProblems(t.Source, t.Table, schema)...)
	}
	return problems
}
