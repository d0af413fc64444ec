package kafka

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicecdc/sluice/pkg/change"
	"github.com/sluicecdc/sluice/pkg/config"
	"github.com/sluicecdc/sluice/pkg/connector"
	"github.com/sluicecdc/sluice/pkg/pipeline"
	kafkasink "github.com/sluicecdc/sluice/sink/kafka"
	mysink "github.com/sluicecdc/sluice/sink/mysql"
	pgsink "github.com/sluicecdc/sluice/sink/postgres"
)

// Settings are the keys under source.kafka.
type Settings struct {
	Brokers     []string
	Topics      []string // names or regular expressions
	Group       string   // the consumer group; default sluice-<name>
	Member      string   // this member's stable id (its positions row is <name>@<member>); default the host name
	Consistency string   // key (the only mode so far)
	SASL        kafkasink.SASL
	TLS         kafkasink.TLS
}

var kind = config.Kind{
	Name:     "kafka",
	Settings: (*Settings)(nil),
	Defaults: map[string]any{"consistency": "key"},
	Examples: map[string]string{
		"brokers":        "[127.0.0.1:9092]",
		"topics":         `[crm.public.customers, "crm\\.public\\..*"]`,
		"group":          "crm-appliers",
		"member":         "applier-1",
		"consistency":    "key",
		"sasl.mechanism": "SCRAM-SHA-512",
	},
	Validate: validate,
}

func settingsOf(c *config.Config) *Settings {
	s, _ := c.Settings("source").(*Settings)
	if s == nil {
		s = &Settings{Consistency: "key"}
	}
	return s
}

func validate(c *config.Config, settings any, v config.Validator) {
	s, _ := settings.(*Settings)
	if s == nil {
		s = &Settings{}
	}
	if k := v.At("source.kafka.brokers"); k != "" {
		if len(s.Brokers) == 0 {
			v.Addf("%s: required: the bootstrap brokers as host:port (e.g. [127.0.0.1:9092])", k)
		}
		for _, b := range s.Brokers {
			if i := strings.LastIndexByte(b, ':'); i <= 0 || i == len(b)-1 {
				v.Addf("%s: %q is not host:port (e.g. kafka-1:9092)", k, b)
			}
		}
	}
	if k := v.At("source.kafka.topics"); k != "" {
		if len(s.Topics) == 0 {
			v.Addf("%s: required: topic names or regular expressions (e.g. [crm.public.customers] or [\"crm\\\\.public\\\\..*\"])", k)
		} else if _, err := topicOpts(s.Topics); err != nil {
			v.Addf("%s: %v", k, strings.TrimPrefix(err.Error(), "source.kafka.topics: "))
		}
	}
	if k := v.At("source.kafka.consistency"); k != "" && s.Consistency != "key" {
		v.Addf("%s: %q: only key is supported so far (any number of members, each key's changes in order)", k, s.Consistency)
	}
	if k := v.At("source.kafka.member"); k != "" && strings.ContainsAny(s.Member, "@ ") {
		v.Addf("%s: %q: use letters, digits, '-', '_' and '.' (no '@' or spaces)", k, s.Member)
	}
	if k := v.At("source.kafka.sasl.mechanism"); k != "" {
		switch strings.ToUpper(s.SASL.Mechanism) {
		case "", "PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512":
		default:
			v.Addf("%s: %q: want PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512", k, s.SASL.Mechanism)
		}
	}
	if k := v.At("name"); k != "" && c.Name == "" {
		v.Addf("%s: required with source.kind kafka: it names the group's positions in the target (<name>@<member>)", k)
	}
}

// Member is this process's member id: source.kafka.member, else the host
// name.
func Member(c *config.Config) string {
	if m := settingsOf(c).Member; m != "" {
		return m
	}
	h, err := os.Hostname()
	if err != nil || h == "" {
		return "member"
	}
	return h
}

// ForMember renames the pipeline of a kafka source's config to
// <name>@<member>, the name of this member's positions row in the target
// (and of its checkpoint file, when that has its default name), and
// returns the group's name prefix. Other configs are left alone.
func ForMember(c *config.Config) {
	if c.Source.Kind != "kafka" || strings.Contains(c.Name, "@") {
		return
	}
	base := c.Name
	c.Name = base + "@" + Member(c)
	if filepath.Base(c.Checkpoint.Path) == base+".checkpoint" {
		c.Checkpoint.Path = filepath.Join(filepath.Dir(c.Checkpoint.Path), c.Name+".checkpoint")
	}
}

// groupPrefix is the name prefix of every member's positions row.
func groupPrefix(c *config.Config) string {
	base, _, _ := strings.Cut(c.Name, "@")
	return base + "@"
}

// Group is the consumer group: source.kafka.group, else sluice-<name>.
func Group(c *config.Config) string {
	if g := settingsOf(c).Group; g != "" {
		return g
	}
	base, _, _ := strings.Cut(c.Name, "@")
	return "sluice-" + base
}

var (
	_ connector.Checker = (*Source)(nil)
	_ connector.Tearer  = (*Source)(nil)
)

// Connector is the kafka source kind.
var Connector = connector.Source{
	Kind: kind,
	Open: func(ctx context.Context, e connector.Env) (pipeline.Source, error) {
		c := e.Config
		s := settingsOf(c)
		client, err := kafkasink.ClientOptions(s.Brokers, s.SASL, s.TLS)
		if err != nil {
			return nil, err
		}
		positions, forget, err := positionsStore(c)
		if err != nil {
			return nil, err
		}
		src, err := New(Options{Topics: s.Topics, Group: Group(c), Client: client, Positions: positions,
			Target: targetColumns(c), SpillDir: e.SpillDir, Log: e.Log, checkOpts: client, forget: forget, prefix: groupPrefix(c)})
		if err != nil {
			return nil, err
		}
		return src, nil
	},
	Slot: func(c *config.Config) string { return "consumer group " + Group(c) },
}

type forgetFunc func(ctx context.Context, dryRun bool) (int64, error)

// positionsStore reads every member's stored position from the SQL
// target, and deletes them all (teardown).
func positionsStore(c *config.Config) (func(ctx context.Context) ([]string, error), forgetFunc, error) {
	dsn, prefix := c.Sink.DSN, groupPrefix(c)
	switch c.Sink.Kind {
	case "postgres":
		return func(ctx context.Context) ([]string, error) { return pgsink.GroupPositions(ctx, dsn, prefix) },
			func(ctx context.Context, dry bool) (int64, error) {
				return pgsink.ForgetGroupPositions(ctx, dsn, prefix, dry)
			}, nil
	case "mysql":
		return func(ctx context.Context) ([]string, error) { return mysink.GroupPositions(ctx, dsn, prefix) },
			func(ctx context.Context, dry bool) (int64, error) {
				return mysink.ForgetGroupPositions(ctx, dsn, prefix, dry)
			}, nil
	}
	return nil, nil, fmt.Errorf("source.kind kafka needs an SQL sink (postgres or mysql), where each member stores its offsets with the data; sink.kind is %s", c.Sink.Kind)
}

// targetColumns reads a PostgreSQL target table's columns, to type the
// values of events without schemas (nil for other sinks: values are text).
func targetColumns(c *config.Config) Columns {
	if c.Sink.Kind != "postgres" {
		return nil
	}
	dsn, schema := c.Sink.DSN, c.Sink.Schema
	return func(id change.TableID) ([]change.Column, error) {
		if schema != "" {
			id.Schema = schema
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		return pgsink.TargetColumns(ctx, dsn, id)
	}
}

// Check lists what would stop the source: no broker answers, a topic named
// (not a pattern) does not exist, a pattern matches no topic.
func (s *Source) Check(ctx context.Context) []string {
	cl, err := kgo.NewClient(s.opts.checkOpts...)
	if err != nil {
		return []string{fmt.Sprintf("source.kafka: %v", err)}
	}
	defer cl.Close()
	if err := cl.Ping(ctx); err != nil {
		return []string{fmt.Sprintf("source.kafka.brokers: no broker answers (%v): check the addresses, the network and source.kafka.tls/sasl", err)}
	}
	topics, err := kadm.NewClient(cl).ListTopics(ctx)
	if err != nil {
		return []string{fmt.Sprintf("source.kafka: cannot list topics: %v", err)}
	}
	var problems []string
	for _, t := range s.opts.Topics {
		if regexMeta.MatchString(t) {
			re, err := compileTopic(t)
			if err != nil {
				problems = append(problems, err.Error())
				continue
			}
			n := 0
			for _, name := range topics.Names() {
				if re.MatchString(name) {
					n++
				}
			}
			if n == 0 {
				problems = append(problems, fmt.Sprintf("source.kafka.topics: the pattern %q matches no topic yet (it is read once one appears)", t))
			}
			continue
		}
		if !topics.Has(t) {
			problems = append(problems, fmt.Sprintf("source.kafka.topics: topic %s does not exist: check the name (Debezium's <prefix>.<schema>.<table>) or create it", t))
		}
	}
	return problems
}

// Teardown deletes the stored positions of every member of the group from
// the target, and the consumer group from Kafka (whose committed offsets
// only mirror them). Every member must be stopped: Kafka refuses to delete
// a group with members.
func (s *Source) Teardown(ctx context.Context, dryRun bool) ([]string, error) {
	var out []string
	n, err := s.opts.forget(ctx, dryRun)
	if err != nil {
		return nil, err
	}
	if n > 0 {
		out = append(out, fmt.Sprintf("the stored positions of %d member(s) of the group (%s*) in the target's sluice.positions", n, s.opts.prefix))
	}
	cl, err := kgo.NewClient(s.opts.checkOpts...)
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	groups, err := adm.DescribeGroups(ctx, s.opts.Group)
	if err != nil {
		return nil, fmt.Errorf("describe consumer group %s: %w", s.opts.Group, err)
	}
	g, ok := groups[s.opts.Group]
	if !ok || g.State == "Dead" || g.Err != nil {
		return out, nil
	}
	if len(g.Members) > 0 {
		return nil, fmt.Errorf("consumer group %s still has %d member(s): stop every member of the pipeline first", s.opts.Group, len(g.Members))
	}
	if !dryRun {
		resp, err := adm.DeleteGroup(ctx, s.opts.Group)
		if err == nil {
			err = resp.Err
		}
		if err != nil {
			return nil, fmt.Errorf("delete consumer group %s: %w", s.opts.Group, err)
		}
	}
	return append(out, "the consumer group "+s.opts.Group+" in Kafka"), nil
}
