package kafka

import (
	"strings"
	"testing"

	"github.com/sluicecdc/sluice/pkg/config"
	"github.com/sluicecdc/sluice/pkg/connector"
)

func parse(sink string) (*config.Config, error) {
	doc := "name: crm\nsource:\n  kind: postgres\n  dsn: postgres://u@h/crm\nsink:\n  kind: kafka\n" + sink
	return config.Parse([]byte(doc), ".", func(string) (string, bool) { return "", false }, connector.New(Connector).Kinds()...)
}

func TestSettingsDefaults(t *testing.T) {
	c, err := parse("  kafka:\n    brokers: [\"k:9092\"]\n    topic_prefix: crm\n")
	if err != nil {
		t.Fatal(err)
	}
	s := settingsOf(c)
	if !s.ExactlyOnce || !s.Tombstones || !s.Schemas || s.TransactionTopic || s.ProgressTopic != DefaultProgressTopic ||
		s.DecimalHandling != "precise" || s.CreateTopics.Partitions != 0 || s.Compression != "snappy" {
		t.Fatalf("defaults %+v", s)
	}
	if got := sourceDatabase(c); got != "crm" {
		t.Errorf("source database %q, want crm (from the source DSN)", got)
	}
}

// Every bad value is named with its key and the fix; a password is never
// quoted.
func TestSettingsProblems(t *testing.T) {
	base := "  kafka:\n    brokers: [\"k:9092\"]\n    topic_prefix: crm\n"
	for _, c := range []struct {
		name, sink string
		want       []string
	}{
		{"no brokers", "  kafka:\n    topic_prefix: crm\n", []string{"sink.kafka.brokers: required"}},
		{"broker without port", "  kafka:\n    brokers: [kafka]\n    topic_prefix: crm\n", []string{`sink.kafka.brokers: "kafka" is not host:port`}},
		{"no prefix", "  kafka:\n    brokers: [\"k:9092\"]\n", []string{"sink.kafka.topic_prefix: required"}},
		{"bad prefix", "  kafka:\n    brokers: [\"k:9092\"]\n    topic_prefix: \"c r m\"\n", []string{"sink.kafka.topic_prefix", "letters, digits"}},
		{"bad template", base + "    topic: \"cdc.{db}.{table}\"\n", []string{"sink.kafka.topic:", "unknown placeholder {db}"}},
		{"template without table", base + "    topic: \"cdc.{schema}\"\n", []string{"sink.kafka.topic:", "needs {table}"}},
		{"decimal", base + "    decimal_handling: exact\n", []string{`sink.kafka.decimal_handling: "exact": want precise, string or double`}},
		{"progress topic", base + "    progress_topic: \"a b\"\n", []string{"sink.kafka.progress_topic:", "not a Kafka topic name"}},
		{"partitions", base + "    create_topics: {partitions: -1}\n", []string{"sink.kafka.create_topics.partitions: -1"}},
		{"compression", base + "    compression: brotli\n", []string{`sink.kafka.compression: "brotli": want none, gzip, snappy, lz4 or zstd`}},
		{"mechanism", base + "    sasl: {mechanism: GSSAPI, user: u, password: hunter2}\n", []string{`sink.kafka.sasl.mechanism: "GSSAPI": want PLAIN`}},
		{"no password", base + "    sasl: {mechanism: SCRAM-SHA-512, user: u}\n", []string{"sink.kafka.sasl.password: required"}},
		{"password without mechanism", base + "    sasl: {user: u, password: hunter2}\n", []string{"sink.kafka.sasl.mechanism: required"}},
		{"password of the wrong type", base + "    sasl: {mechanism: PLAIN, user: u, password: [hunter2]}\n", []string{"sink.kafka.sasl.password"}},
		{"missing CA", base + "    tls: {ca_file: /nonexistent/ca.pem}\n", []string{"sink.kafka.tls.ca_file: /nonexistent/ca.pem cannot be read"}},
		{"cert without key", base + "    tls: {cert_file: /etc/hostname}\n", []string{"sink.kafka.tls.cert_file: a client certificate needs both"}},
		{"SQL key", base + "  dsn: postgres://x@y/z\n", []string{"sink.dsn: applies to SQL sinks"}},
		{"unknown key", base + "    partitions: 3\n", []string{`unknown key "sink.kafka.partitions"`}},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := parse(c.sink)
			if err == nil {
				t.Fatalf("accepted:\n%s", c.sink)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not say %q:\n%v", w, err)
				}
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("the password is in the message:\n%v", err)
			}
		})
	}
}

// The password is a secret the process keeps out of its logs.
func TestPasswordIsSecret(t *testing.T) {
	c, err := parse("  kafka:\n    brokers: [\"k:9092\"]\n    topic_prefix: crm\n    sasl: {mechanism: PLAIN, user: u, password: hunter2}\n")
	if err != nil {
		t.Fatal(err)
	}
	if got := c.SecretValues(); len(got) != 1 || got[0] != "hunter2" {
		t.Errorf("secret values %q", got)
	}
	if strings.Contains(c.String(), "hunter2") {
		t.Errorf("the config's text shows the password: %s", c)
	}
}
