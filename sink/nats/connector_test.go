package nats

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/rs/zerolog"

	"github.com/sluicecdc/sluice/internal/natstest"
	"github.com/sluicecdc/sluice/pkg/change"
	"github.com/sluicecdc/sluice/pkg/config"
	"github.com/sluicecdc/sluice/pkg/connector"
)

var kinds = connector.New(Connector).Kinds()

func parse(t *testing.T, natsYAML string) (*config.Config, error) {
	t.Helper()
	doc := "name: crm\nsource:\n  kind: postgres\n  dsn: postgres://u@db:5432/crm\nsink:\n  kind: nats\n  nats:\n" + natsYAML
	return config.Parse([]byte(doc), ".", func(string) (string, bool) { return "", false }, kinds...)
}

func mustParse(t *testing.T, natsYAML string) *config.Config {
	t.Helper()
	c, err := parse(t, natsYAML)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestSettings: defaults, and bad values named with their fix, secrets
// never quoted.
func TestSettings(t *testing.T) {
	c := mustParse(t, "    subject_prefix: crm\n")
	s := settings(c)
	if s.streamName() != "CRM" || s.subjects()[0] != "crm.>" || !s.CreateStream || !s.Schemas || !s.Tombstones || s.DuplicateWindow != 2*time.Minute ||
		s.URLs[0] != "nats://127.0.0.1:4222" || s.Replicas != 1 {
		t.Fatalf("defaults: %+v", s)
	}
	if got := sourceDatabase(c); got != "crm" {
		t.Errorf("source.db from the DSN = %q", got)
	}
	for _, tc := range []struct{ yaml, want string }{
		{"    urls: [nats://a]\n", "sink.nats.subject_prefix: required"},
		{"    subject_prefix: crm.*\n", "sink.nats.subject_prefix"},
		{"    subject_prefix: crm\n    subjects: [other.>]\n", "does not hold Sluice's progress subject crm._sluice.progress.crm"},
		{"    subject_prefix: crm\n    retention: forever\n", "sink.nats.retention"},
		{"    subject_prefix: crm\n    replicas: 7\n", "sink.nats.replicas"},
		{"    subject_prefix: crm\n    decimal_handling: exact\n", "use precise, string or double"},
		{"    subject_prefix: crm\n    user: u\n", "user and password go together"},
		{"    subject_prefix: crm\n    token: hunter2\n    creds_file: /x\n", "one way to authenticate"},
		{"    subject_prefix: crm\n    urls: ['nats://a:1, nats://b:2']\n", "one URL per list entry"},
		{"    subject_prefix: crm\n    password: [hunter2]\n", "sink.nats.password"},
	} {
		_, err := parse(t, tc.yaml)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: got %v, want a problem with %q", tc.yaml, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), "hunter2") {
			t.Errorf("%q: the message quotes a secret: %v", tc.yaml, err)
		}
	}
}

func TestSubjects(t *testing.T) {
	if got := subject("crm", testID("public", "order items")); got != "crm.public.order_items" {
		t.Errorf("subject = %s", got)
	}
	if got := subject("crm", testID("my.schema", "a>b*")); got != "crm.my_schema.a_b_" {
		t.Errorf("subject = %s", got)
	}
	for _, tc := range []struct {
		filter, subject string
		want            bool
	}{{"crm.>", "crm.a.b", true}, {"crm.*.*", "crm.a.b", true}, {"crm.*.*", "crm._sluice.progress.x", false},
		{"crm.>", "crm", false}, {"crm.a", "crm.a", true}, {"crm.*", "crm.a.b", false}} {
		if got := matches(tc.filter, tc.subject); got != tc.want {
			t.Errorf("matches(%s, %s) = %v", tc.filter, tc.subject, got)
		}
	}
	if got := msgID("p", "0/16B3748", 3); got != "p:0/16B3748:3" {
		t.Errorf("msgID = %s", got)
	}
	long := strings.Repeat("3E11FA47-71CA-11E1-9E33-C80AA9429562:1-5,", 4)
	if a, b := msgID("p", long, 0), msgID("p", long, 0); a != b || len(a) > 40 || a == msgID("p", long+"x", 0) {
		t.Errorf("msgID of a long position: %s, %s", a, b)
	}
	if got := redactURL("nats://u:s3cret@h:4222"); strings.Contains(got, "s3cret") {
		t.Errorf("redactURL kept the password: %s", got)
	}
	if got := redactURL("nats://tok3n@h:4222"); strings.Contains(got, "tok3n") {
		t.Errorf("redactURL kept the token: %s", got)
	}
}

// TestServerProblems: no JetStream names -js; a wrong password is named
// without quoting it; overlapping subjects and a missing stream name their
// fix; check, ping and teardown against a real server.
func TestServerProblems(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	plain := natstest.StartWithoutJetStream(t)
	_, err := New(ctx, Options{Settings: testSettings(plain.URL()), Pipeline: "p", Version: "t", Log: zerolog.Nop()})
	if err == nil || !strings.Contains(err.Error(), "start nats-server with -js") {
		t.Fatalf("no JetStream: %v", err)
	}

	srv := natstest.Start(t)
	c := mustParse(t, "    urls: ["+srv.URL()+"]\n    subject_prefix: crm\n    create_stream: false\n")
	e := connector.Env{Config: c, Version: "t", Log: zerolog.Nop()}
	if err := Connector.Ping(ctx, e); err != nil {
		t.Fatalf("ping: %v", err)
	}
	if p := Connector.Check(ctx, e); len(p) != 1 || !strings.Contains(p[0], "stream CRM does not exist") || !strings.Contains(p[0], "create_stream: true") {
		t.Errorf("check without the stream: %q", p)
	}
	if _, err := Connector.Open(ctx, e); err == nil || !strings.Contains(err.Error(), "create_stream: true") {
		t.Errorf("open without the stream: %v", err)
	}

	// Someone else's stream holds crm.> already.
	nc, err := nats.Connect(srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "OTHER", Subjects: []string{"crm.public.*"}}); err != nil {
		t.Fatal(err)
	}
	set := testSettings(srv.URL())
	set.SubjectPrefix = "crm"
	_, err = New(ctx, Options{Settings: set, Pipeline: "p", Version: "t", Log: zerolog.Nop()})
	if err == nil || !strings.Contains(err.Error(), "overlap with another stream") {
		t.Fatalf("overlapping subjects: %v", err)
	}
	// A stream that does not hold the progress subject.
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "CRM", Subjects: []string{"crm.app.*"}}); err != nil {
		t.Fatal(err)
	}
	if p := Connector.Check(ctx, e); len(p) != 1 || !strings.Contains(p[0], "does not hold Sluice's progress subject crm._sluice.progress.crm") {
		t.Errorf("check with a stream lacking the progress subject: %q", p)
	}
	if _, err := Connector.Open(ctx, e); err == nil || !strings.Contains(err.Error(), "add crm.> ") {
		t.Errorf("open with a stream lacking the progress subject: %v", err)
	}

	// A server that cannot be reached, with credentials in the URL and a
	// token: the error names the URL without them.
	unreachable := mustParse(t, "    urls: ['nats://u:hunter2@127.0.0.1:1']\n    subject_prefix: crm\n    token: s3cret-token\n")
	err = Connector.Ping(ctx, connector.Env{Config: unreachable})
	if err == nil || strings.Contains(err.Error(), "hunter2") || strings.Contains(err.Error(), "s3cret-token") || !strings.Contains(err.Error(), "127.0.0.1:1") {
		t.Errorf("unreachable server: %v", err)
	}
}

// TestTeardownAndMetrics: teardown (dry run, then for real) drops the
// progress markers only; the sink's metrics count what it published.
func TestTeardownAndMetrics(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	srv := natstest.Start(t)
	c := mustParse(t, "    urls: ["+srv.URL()+"]\n    subject_prefix: sluice\n")
	c.Name = "td"
	e := connector.Env{Config: c, Version: "t", Log: zerolog.Nop()}
	s := openSink(t, *settings(c), "td")
	appliedPosition(t, s)
	apply(t, s, insertTxn(t, 1, 0, 3))
	flush(t, s)
	var _ prometheus.Collector = s
	if got := testutil.ToFloat64(s.m.records); got != 3 {
		t.Errorf("records = %v, want 3", got)
	}
	if n, err := testutil.GatherAndCount(registry(t, s), "sluice_sink_records_total", "sluice_sink_txn_commits_total"); err != nil || n != 2 {
		t.Errorf("gathered %d metrics (%v)", n, err)
	}
	s.Close()

	got, err := Connector.Teardown(ctx, e, true)
	if err != nil || len(got) != 1 || !strings.Contains(got[0], "progress markers of pipeline td (1 messages") {
		t.Fatalf("dry run: %q %v", got, err)
	}
	if pos := appliedPosition(t, openSink(t, *settings(c), "td")); pos != "1" {
		t.Fatalf("the dry run dropped the marker: %q", pos)
	}
	if got, err = Connector.Teardown(ctx, e, false); err != nil || len(got) != 1 {
		t.Fatalf("teardown: %q %v", got, err)
	}
	if pos := appliedPosition(t, openSink(t, *settings(c), "td")); pos != "" {
		t.Fatalf("after teardown the position is %q", pos)
	}
	if msgs := readStream(t, srv.URL(), "SLUICE", "sluice.public.items"); len(msgs) != 3 {
		t.Errorf("teardown touched the change events: %d left of 3", len(msgs))
	}
	if got, err = Connector.Teardown(ctx, e, false); err != nil || got != nil {
		t.Errorf("a second teardown: %q %v", got, err)
	}
}

func registry(t *testing.T, c prometheus.Collector) *prometheus.Registry {
	r := prometheus.NewRegistry()
	if err := r.Register(c); err != nil {
		t.Fatal(err)
	}
	return r
}

func testID(schema, name string) change.TableID { return change.TableID{Schema: schema, Name: name} }
