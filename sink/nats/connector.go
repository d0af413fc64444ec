package nats

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/sluicecdc/sluice/pkg/config"
	"github.com/sluicecdc/sluice/pkg/connector"
	"github.com/sluicecdc/sluice/pkg/pipeline"
)

// Connector is the nats sink kind.
var Connector = connector.Sink{
	Kind: config.Kind{Name: "nats", Settings: (*Settings)(nil), Defaults: defaults, Examples: examples, Validate: validate},
	Open: func(ctx context.Context, e connector.Env) (pipeline.Sink, error) {
		return New(ctx, Options{Settings: *settings(e.Config), Pipeline: e.Config.Name, Version: e.Version,
			Database: sourceDatabase(e.Config), Log: e.Log})
	},
	Check: check,
	Ping: func(ctx context.Context, e connector.Env) error {
		nc, _, err := connect(ctx, settings(e.Config), e.Config.Name, nil)
		if err != nil {
			return err
		}
		nc.Close()
		return nil
	},
	Teardown: teardown,
}

func settings(c *config.Config) *Settings { return c.Settings("sink").(*Settings) }

// sourceDatabase is source.db of PostgreSQL events: the source DSN's
// database (MySQL events carry their own).
func sourceDatabase(c *config.Config) string {
	if c.Source.Kind != "postgres" {
		return ""
	}
	pc, err := pgconn.ParseConfig(c.Source.DSN)
	if err != nil {
		return ""
	}
	return pc.Database
}

// check lists the server's problems: reachable, JetStream on, the stream
// there (or creatable) and holding the progress subject and every
// table's subject.
func check(ctx context.Context, e connector.Env) []string {
	s := settings(e.Config)
	nc, js, err := connect(ctx, s, e.Config.Name, nil)
	if err != nil {
		return []string{"sink: " + err.Error()}
	}
	defer nc.Close()
	name := s.streamName()
	st, err := js.Stream(ctx, name)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		if !s.CreateStream {
			return []string{fmt.Sprintf("sink: stream %s does not exist (create it with subjects %v, or set sink.nats.create_stream: true)", name, s.subjects())}
		}
		return nil // created at the first run with subjects covering everything
	}
	if err != nil {
		return []string{fmt.Sprintf("sink: open stream %s: %v", name, jsError(err, s))}
	}
	subjects := st.CachedInfo().Config.Subjects
	var problems []string
	if ps := progressSubject(s.SubjectPrefix, e.Config.Name); !covered(subjects, ps) {
		problems = append(problems, fmt.Sprintf("sink: stream %s (subjects %v) does not hold Sluice's progress subject %s: add %s.> to its subjects",
			name, subjects, ps, s.SubjectPrefix))
	}
	if e.Targets == nil {
		return problems
	}
	targets, err := e.Targets(ctx)
	if err != nil {
		return append(problems, fmt.Sprintf("sink: cannot read the source tables to check their subjects: %v", err))
	}
	for _, t := range targets {
		if subj := subject(s.SubjectPrefix, t.Table.ID); !covered(subjects, subj) {
			problems = append(problems, fmt.Sprintf("sink: table %s publishes to %s, which stream %s (subjects %v) does not hold: add %s.> to its subjects",
				t.Source, subj, name, subjects, s.SubjectPrefix))
		}
	}
	return problems
}

// teardown purges the pipeline's progress markers (what the sink keeps
// for the pipeline besides the data). The change events and the stream
// stay: they are the users' data.
func teardown(ctx context.Context, e connector.Env, dryRun bool) ([]string, error) {
	s := settings(e.Config)
	nc, js, err := connect(ctx, s, e.Config.Name, nil)
	if err != nil {
		return nil, err
	}
	defer nc.Close()
	st, err := js.Stream(ctx, s.streamName())
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, jsError(err, s)
	}
	ps := progressSubject(s.SubjectPrefix, e.Config.Name)
	info, err := st.Info(ctx, jetstream.WithSubjectFilter(ps))
	if err != nil {
		return nil, fmt.Errorf("read stream %s: %w", s.streamName(), err)
	}
	n := info.State.Subjects[ps]
	if n == 0 {
		return nil, nil
	}
	what := fmt.Sprintf("progress markers of pipeline %s (%d messages on %s in stream %s; the change events and the stream stay)",
		e.Config.Name, n, ps, s.streamName())
	if dryRun {
		return []string{what}, nil
	}
	if err := st.Purge(ctx, jetstream.WithPurgeSubject(ps)); err != nil {
		return nil, fmt.Errorf("purge %s in stream %s: %w", ps, s.streamName(), err)
	}
	return []string{what}, nil
}
