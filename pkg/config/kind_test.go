package config

import (
	"strings"
	"testing"
	"time"
)

// testStream is a sink kind's settings, as a kind's package declares them.
type testStream struct {
	Brokers      []string
	Topic        string
	Timeout      time.Duration
	SASL         struct{ User, Password string }
	CreateTopics struct{ Partitions int } `mapstructure:"create_topics"`
}

var streamKind = Kind{
	Role: "sink", Name: "stream", Settings: (*testStream)(nil),
	Defaults: map[string]any{"create_topics.partitions": 6, "timeout": 10 * time.Second},
	Examples: map[string]string{"brokers": "[127.0.0.1:9092]", "create_topics.partitions": "6"},
	Validate: func(c *Config, settings any, v Validator) {
		s := settings.(*testStream)
		if k := v.At("sink.stream.brokers"); k != "" && len(s.Brokers) == 0 {
			v.Addf("%s: required (e.g. [127.0.0.1:9092])", k)
		}
	},
}

var otherKind = Kind{Role: "sink", Name: "other", Settings: &struct{ URL string }{}}

func streamDoc(t *testing.T, sets ...any) []byte {
	return doc(t, append([]any{"sink.kind", "stream", "sink.dsn", del}, sets...)...)
}

// A kind's settings are decoded from its own section with its defaults,
// overrides reach them, and the kind checks them.
func TestKindSettings(t *testing.T) {
	c, err := Parse(streamDoc(t, "sink.stream.brokers", []string{"a:1"}, "sink.stream.sasl.password", "pw"), "",
		envOf("SLUICE_SINK_STREAM_TOPIC", "t1", "SLUICE_SINK_STREAM_CREATE_TOPICS_PARTITIONS", "3"), streamKind, otherKind)
	if err != nil {
		t.Fatal(err)
	}
	s, ok := c.Settings("sink").(*testStream)
	if !ok {
		t.Fatalf("Settings(sink) = %T", c.Settings("sink"))
	}
	if len(s.Brokers) != 1 || s.Topic != "t1" || s.CreateTopics.Partitions != 3 || s.Timeout != 10*time.Second || s.SASL.Password != "pw" {
		t.Fatalf("settings %+v", s)
	}
	if str := c.String(); strings.Contains(str, "pw") || !strings.Contains(str, "sink.stream.sasl.password=***") {
		t.Fatalf("String() = %s", str)
	}
	if got := c.SecretValues(); len(got) != 1 || got[0] != "pw" {
		t.Fatalf("SecretValues() = %q", got)
	}
	_, err = Parse(streamDoc(t), "", envOf(), streamKind)
	findProblem(t, err, "sink.stream.brokers: required")
}

func TestKindProblems(t *testing.T) {
	cases := []struct {
		name   string
		data   []byte
		prefix string
		has    []string
	}{
		{"unknown key", streamDoc(t, "sink.stream.brokers", []string{"a:1"}, "sink.stream.partitions", 3),
			`unknown key "sink.stream.partitions"`, []string{"known keys under sink.stream: brokers, topic"}},
		{"wrong type", streamDoc(t, "sink.stream.brokers", []string{"a:1"}, "sink.stream.create_topics.partitions", "many"),
			"sink.stream.create_topics.partitions: must be a whole number", []string{"e.g. 6"}},
		{"secret never quoted", streamDoc(t, "sink.stream.brokers", []string{"a:1"}, "sink.stream.sasl.password", []string{"hunter2"}),
			"sink.stream.sasl.password: must be text, not a list", nil},
		{"another kind's section", streamDoc(t, "sink.stream.brokers", []string{"a:1"}, "sink.other.url", "x"),
			"sink.other: applies to sink.kind other only", []string{`sink.kind is "stream"`}},
		{"SQL keys refused", streamDoc(t, "sink.stream.brokers", []string{"a:1"}, "sink.dsn", "postgres://x@y/z", "sink.mode", "history"),
			"sink.dsn: applies to SQL sinks", []string{"sink.kind stream"}},
		{"SQL mode refused", streamDoc(t, "sink.stream.brokers", []string{"a:1"}, "sink.mode", "history"),
			"sink.mode: applies to SQL sinks", nil},
		{"unknown kind lists the registered", doc(t, "sink.kind", "carrier-pigeon"),
			`sink.kind: "carrier-pigeon" is not a known sink`, []string{"postgres, mysql, stream"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse(tc.data, "", envOf(), streamKind, otherKind)
			line := findProblem(t, err, tc.prefix, tc.has...)
			if strings.Contains(line, "hunter2") {
				t.Fatalf("a secret is quoted: %s", line)
			}
		})
	}
}
