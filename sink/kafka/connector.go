package kafka

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicecdc/sluice/pkg/config"
	"github.com/sluicecdc/sluice/pkg/connector"
	"github.com/sluicecdc/sluice/pkg/pipeline"
	"github.com/sluicecdc/sluice/sink/envelope"
)

// Connector is the kafka sink kind.
var Connector = connector.Sink{
	Kind: kind,
	Open: func(ctx context.Context, e connector.Env) (pipeline.Sink, error) {
		return Open(ctx, Options{Settings: settingsOf(e.Config), Pipeline: e.Config.Name, Version: version(e),
			Database: sourceDatabase(e.Config), Log: e.Log})
	},
	Check: func(ctx context.Context, e connector.Env) []string {
		return Check(ctx, settingsOf(e.Config), e.Config.Name, tableTopics(ctx, e))
	},
	Ping: func(ctx context.Context, e connector.Env) error {
		return Ping(ctx, settingsOf(e.Config))
	},
	Teardown: func(ctx context.Context, e connector.Env, dryRun bool) ([]string, error) {
		return Teardown(ctx, settingsOf(e.Config), e.Config.Name, dryRun)
	},
}

func version(e connector.Env) string {
	if e.Version == "" {
		return "dev"
	}
	return e.Version
}

// sourceDatabase is source.db of PostgreSQL events: the database of the
// source DSN (MySQL events carry their own database).
func sourceDatabase(c *config.Config) string {
	if c.Source.Kind == "postgres" {
		if pc, err := pgconn.ParseConfig(c.Source.DSN); err == nil && pc.Database != "" {
			return pc.Database
		}
	}
	return c.Name
}

// tableTopics names the topics of the selected tables, after the
// transforms (nil when the source cannot tell).
func tableTopics(ctx context.Context, e connector.Env) []string {
	if e.Targets == nil {
		return nil
	}
	targets, err := e.Targets(ctx)
	if err != nil {
		return nil
	}
	s := settingsOf(e.Config)
	tmpl, _ := envelope.ParseTopicTemplate(s.Topic)
	var out []string
	for _, t := range targets {
		id := t.Source
		if t.Table != nil {
			id = t.Table.ID
		}
		if s.Topic != "" {
			out = append(out, tmpl.Topic(s.TopicPrefix, id))
		} else {
			out = append(out, envelope.Topic(s.TopicPrefix, id))
		}
	}
	return out
}

// Ping tells whether a broker answers.
func Ping(ctx context.Context, s *Settings) error {
	opts, err := connOpts(s)
	if err != nil {
		return err
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return err
	}
	defer cl.Close()
	if err := cl.Ping(ctx); err != nil {
		return classify("reach the brokers", "", err)
	}
	return nil
}

// Check lists the problems that would stop the sink, with their fixes:
// the brokers cannot be reached, a topic is missing and would not be
// created, topics cannot be created, the progress topic or a transaction
// cannot be written. It never touches the pipeline's own transactional id
// (that would fence a running pipeline): it uses sluice-<name>-check, and
// aborts the transaction it opens.
func Check(ctx context.Context, s *Settings, name string, tableTopics []string) []string {
	opts, err := connOpts(s)
	if err != nil {
		return []string{err.Error()}
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return []string{fmt.Sprintf("sink.kafka: %v", err)}
	}
	defer cl.Close()
	if err := cl.Ping(ctx); err != nil {
		return []string{fmt.Sprintf("sink.kafka.brokers: no broker answers (%v): check the addresses, the network and sink.kafka.tls/sasl", err)}
	}
	adm := kadm.NewClient(cl)
	var problems []string
	missing, err := missingTopics(ctx, adm, tableTopics)
	if err != nil {
		problems = append(problems, fmt.Sprintf("sink.kafka: cannot list topics: %v", err))
	}
	for _, t := range missing {
		if s.CreateTopics.Partitions <= 0 {
			problems = append(problems, fmt.Sprintf("sink.kafka: topic %s does not exist: create it, or set sink.kafka.create_topics.partitions so that Sluice creates it", t))
		}
	}
	if s.CreateTopics.Partitions > 0 && len(missing) > 0 {
		resp, err := adm.ValidateCreateTopics(ctx, int32(s.CreateTopics.Partitions), replication(s.CreateTopics), nil, missing...)
		if err != nil {
			problems = append(problems, fmt.Sprintf("sink.kafka.create_topics: cannot check topic creation: %v", err))
		}
		for _, r := range resp {
			if r.Err != nil {
				problems = append(problems, fmt.Sprintf("sink.kafka.create_topics: cannot create topic %s: %v%s", r.Topic, r.Err, detail(r.ErrMessage)))
			}
		}
	}
	if s.ExactlyOnce {
		problems = append(problems, checkTransactions(ctx, opts, adm, s, name)...)
	}
	return problems
}

// checkTransactions opens a transaction with the id sluice-<name>-check,
// produces to the progress topic and aborts.
func checkTransactions(ctx context.Context, opts []kgo.Opt, adm *kadm.Client, s *Settings, name string) []string {
	if err := ensureProgressTopic(ctx, adm, s); err != nil {
		return []string{fmt.Sprintf("sink.kafka.progress_topic: cannot create %s (compacted): %v; create it, or grant Sluice the right to", s.ProgressTopic, err)}
	}
	id := TransactionalID(name) + "-check"
	cl, err := kgo.NewClient(append(opts[:len(opts):len(opts)], producerOpts(s, id)...)...)
	if err != nil {
		return []string{fmt.Sprintf("sink.kafka: %v", err)}
	}
	defer cl.Close()
	if _, _, err := cl.ProducerID(ctx); err != nil {
		return []string{fmt.Sprintf("sink.kafka.exactly_once: cannot initialize a transactional producer (%v): grant the user the right to "+
			"write transactional ids sluice-*, or set exactly_once: false (at least once)", err)}
	}
	if err := cl.BeginTransaction(); err != nil {
		return []string{fmt.Sprintf("sink.kafka.exactly_once: cannot begin a transaction: %v", err)}
	}
	res := cl.ProduceSync(ctx, &kgo.Record{Topic: s.ProgressTopic, Key: []byte(id), Value: []byte("check")})
	endErr := cl.EndTransaction(ctx, kgo.TryAbort)
	if err := res.FirstErr(); err != nil {
		return []string{fmt.Sprintf("sink.kafka: cannot produce to %s in a transaction: %v", s.ProgressTopic, err)}
	}
	if endErr != nil {
		return []string{fmt.Sprintf("sink.kafka.exactly_once: cannot end a transaction: %v", endErr)}
	}
	return nil
}

// Teardown drops what Kafka keeps for the pipeline besides the topics:
// its progress record (a tombstone, committed) after fencing its
// transactional id (which aborts a transaction left open). With dryRun it
// only says what it would drop. The broker itself forgets the
// transactional id after transactional.id.expiration.ms (7 days by
// default); no API deletes it sooner.
func Teardown(ctx context.Context, s *Settings, name string, dryRun bool) ([]string, error) {
	if !s.ExactlyOnce {
		return nil, nil // at least once keeps nothing
	}
	opts, err := connOpts(s)
	if err != nil {
		return nil, err
	}
	cl, err := kgo.NewClient(append(opts[:len(opts):len(opts)], producerOpts(s, "")...)...)
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	pos, found, err := readProgress(ctx, opts, adm, s.ProgressTopic, name)
	if err != nil {
		return nil, err
	}
	if !found || pos == "" {
		return nil, nil
	}
	what := []string{fmt.Sprintf("progress record of pipeline %s in Kafka topic %s (position %s)", name, s.ProgressTopic, pos),
		fmt.Sprintf("open transaction of transactional id %s, if any (aborted; the broker expires the id itself)", TransactionalID(name))}
	if dryRun {
		return what, nil
	}
	tx, err := kgo.NewClient(append(opts[:len(opts):len(opts)], producerOpts(s, TransactionalID(name))...)...)
	if err != nil {
		return nil, err
	}
	defer tx.Close()
	if _, _, err := tx.ProducerID(ctx); err != nil {
		return nil, classify("initialize the transactional producer", name, err)
	}
	if err := tx.BeginTransaction(); err != nil {
		return nil, classify("begin a transaction", name, err)
	}
	if err := tx.ProduceSync(ctx, &kgo.Record{Topic: s.ProgressTopic, Key: []byte(name)}).FirstErr(); err != nil {
		tx.EndTransaction(ctx, kgo.TryAbort) //nolint:errcheck // failing anyway
		return nil, classify("delete the progress record", name, err)
	}
	if err := tx.EndTransaction(ctx, kgo.TryCommit); err != nil {
		return nil, classify("delete the progress record", name, err)
	}
	return what, nil
}
