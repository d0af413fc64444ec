package kafka

import (
	"os"
	"strings"

	"github.com/sluicecdc/sluice/pkg/config"
	"github.com/sluicecdc/sluice/sink/envelope"
)

// Settings are the keys under sink.kafka.
type Settings struct {
	Brokers          []string
	TopicPrefix      string `mapstructure:"topic_prefix"`
	Topic            string // a template such as "cdc.{schema}.{table}"; "" = <topic_prefix>.<schema>.<table>
	Schemas          bool
	ExactlyOnce      bool `mapstructure:"exactly_once"`
	Tombstones       bool
	TransactionTopic bool         `mapstructure:"transaction_topic"`
	DecimalHandling  string       `mapstructure:"decimal_handling"`
	ProgressTopic    string       `mapstructure:"progress_topic"`
	Compression      string       // snappy (default) | none | gzip | lz4 | zstd
	CreateTopics     CreateTopics `mapstructure:"create_topics"`
	SASL             SASL
	TLS              TLS
}

// CreateTopics says how to create missing topics; Partitions 0 (the
// section absent) means topics must exist.
type CreateTopics struct {
	Partitions        int
	ReplicationFactor int `mapstructure:"replication_factor"`
}

// SASL authenticates to the brokers; Mechanism "" means no SASL.
type SASL struct {
	Mechanism string
	User      string
	Password  string
}

// TLS encrypts the connections; CAFile "" and no client certificate means
// plaintext unless Enable.
type TLS struct {
	Enable             bool
	CAFile             string `mapstructure:"ca_file"`
	CertFile           string `mapstructure:"cert_file"`
	KeyFile            string `mapstructure:"key_file"`
	InsecureSkipVerify bool   `mapstructure:"insecure_skip_verify"`
}

// on says whether TLS is configured.
func (t TLS) on() bool {
	return t.Enable || t.CAFile != "" || t.CertFile != "" || t.KeyFile != "" || t.InsecureSkipVerify
}

// DefaultProgressTopic is the compacted topic holding each pipeline's
// applied position.
const DefaultProgressTopic = "_sluice_progress"

var kind = config.Kind{
	Name:     "kafka",
	Settings: (*Settings)(nil),
	Defaults: map[string]any{
		"exactly_once":      true,
		"tombstones":        true,
		"schemas":           true,
		"transaction_topic": false,
		"decimal_handling":  "precise",
		"progress_topic":    DefaultProgressTopic,
		"compression":       "snappy",
	},
	Examples: map[string]string{
		"brokers":                          "[127.0.0.1:9092]",
		"topic_prefix":                     "crm",
		"topic":                            "cdc.{schema}.{table}",
		"decimal_handling":                 "precise",
		"create_topics.partitions":         "6",
		"create_topics.replication_factor": "3",
		"sasl.mechanism":                   "SCRAM-SHA-512",
		"compression":                      "zstd",
	},
	Validate: validate,
}

// settingsOf returns the kafka settings of a config.
func settingsOf(c *config.Config) *Settings {
	s, _ := c.Settings("sink").(*Settings)
	if s == nil {
		s = &Settings{ExactlyOnce: true, Tombstones: true, Schemas: true, ProgressTopic: DefaultProgressTopic, Compression: "snappy"}
	}
	return s
}

func validate(c *config.Config, settings any, v config.Validator) {
	s, _ := settings.(*Settings)
	if s == nil {
		s = &Settings{}
	}
	if k := v.At("sink.kafka.brokers"); k != "" {
		if len(s.Brokers) == 0 {
			v.Addf("%s: required: the bootstrap brokers as host:port (e.g. [127.0.0.1:9092])", k)
		}
		for _, b := range s.Brokers {
			if i := strings.LastIndexByte(b, ':'); i <= 0 || i == len(b)-1 {
				v.Addf("%s: %q is not host:port (e.g. kafka-1:9092)", k, b)
			}
		}
	}
	if k := v.At("sink.kafka.topic_prefix"); k != "" {
		if s.TopicPrefix == "" {
			v.Addf("%s: required: Debezium's topic.prefix, the logical name of the source (e.g. crm: topics crm.<schema>.<table>)", k)
		} else if _, err := envelope.New(envelope.Options{Prefix: s.TopicPrefix, Version: "x"}); err != nil {
			v.Addf("%s: %q: use only letters, digits, '.', '_' and '-'", k, s.TopicPrefix)
		}
	}
	if k := v.At("sink.kafka.topic"); k != "" && s.Topic != "" {
		if _, err := envelope.ParseTopicTemplate(s.Topic); err != nil {
			v.Addf("%s: %v", k, strings.TrimPrefix(err.Error(), "envelope: "))
		}
	}
	if k := v.At("sink.kafka.decimal_handling"); k != "" {
		if _, err := envelope.ParseDecimalMode(s.DecimalHandling); err != nil {
			v.Addf("%s: %q: want precise, string or double", k, s.DecimalHandling)
		}
	}
	if k := v.At("sink.kafka.compression"); k != "" {
		if _, ok := codecs[strings.ToLower(s.Compression)]; !ok {
			v.Addf("%s: %q: want none, gzip, snappy, lz4 or zstd", k, s.Compression)
		}
	}
	if k := v.At("sink.kafka.progress_topic"); k != "" && s.ExactlyOnce {
		if s.ProgressTopic == "" || !validTopic(s.ProgressTopic) {
			v.Addf("%s: %q is not a Kafka topic name (letters, digits, '.', '_', '-'; e.g. %s)", k, s.ProgressTopic, DefaultProgressTopic)
		}
	}
	if k := v.At("sink.kafka.create_topics.partitions"); k != "" && s.CreateTopics.Partitions < 0 {
		v.Addf("%s: %d: want a positive number of partitions (or leave create_topics out: topics must then exist)", k, s.CreateTopics.Partitions)
	}
	if k := v.At("sink.kafka.create_topics.replication_factor"); k != "" && s.CreateTopics.ReplicationFactor < 0 {
		v.Addf("%s: %d: want a positive number (0: the broker's default)", k, s.CreateTopics.ReplicationFactor)
	}
	validateSASL(s.SASL, v)
	validateTLS(s.TLS, v)
	if k := v.At("name"); k != "" && s.ExactlyOnce && c.Name == "" {
		v.Addf("%s: required with sink.kafka.exactly_once: it names the transactional id (sluice-<name>) and the progress record", k)
	}
}

func validateSASL(s SASL, v config.Validator) {
	k := v.At("sink.kafka.sasl.mechanism")
	if k == "" {
		return
	}
	switch strings.ToUpper(s.Mechanism) {
	case "":
		if s.User != "" || s.Password != "" {
			v.Addf("%s: required with sink.kafka.sasl.user or password: PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512", k)
		}
		return
	case "PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512":
	default:
		v.Addf("%s: %q: want PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512", k, s.Mechanism)
		return
	}
	if u := v.At("sink.kafka.sasl.user"); u != "" && s.User == "" {
		v.Addf("%s: required with sink.kafka.sasl.mechanism %s", u, s.Mechanism)
	}
	if p := v.At("sink.kafka.sasl.password"); p != "" && s.Password == "" {
		v.Addf("%s: required with sink.kafka.sasl.mechanism %s (e.g. ${KAFKA_PASSWORD})", p, s.Mechanism)
	}
}

func validateTLS(t TLS, v config.Validator) {
	for _, f := range []struct{ key, path string }{{"ca_file", t.CAFile}, {"cert_file", t.CertFile}, {"key_file", t.KeyFile}} {
		if f.path == "" {
			continue
		}
		if k := v.At("sink.kafka.tls." + f.key); k != "" {
			if _, err := os.Stat(f.path); err != nil {
				v.Addf("%s: %s cannot be read (%v): give the path of a PEM file", k, f.path, errText(err))
			}
		}
	}
	if (t.CertFile == "") != (t.KeyFile == "") {
		if k := v.At("sink.kafka.tls.cert_file"); k != "" {
			v.Addf("%s: a client certificate needs both sink.kafka.tls.cert_file and sink.kafka.tls.key_file", k)
		}
	}
}

func errText(err error) string {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err.Error()
	}
	return err.Error()
}

func validTopic(s string) bool {
	if len(s) > 249 || s == "." || s == ".." {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '.' || c == '_' || c == '-' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}
