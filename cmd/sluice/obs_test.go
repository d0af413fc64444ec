package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/sluicecdc/sluice/pkg/change"
	"github.com/sluicecdc/sluice/pkg/config"
	"github.com/sluicecdc/sluice/pkg/metrics"
	"github.com/sluicecdc/sluice/pkg/pipeline"
)

func TestSecretsFromDSNs(t *testing.T) {
	t.Parallel()
	cfg := &config.Config{
		Source: config.Source{DSN: `postgres://rep:p%40ss"w0rd@db:5432/crm?sslmode=disable`},
		Sink:   config.Sink{DSN: `host=dwh user=app password='kv secret' dbname=x`},
	}
	got := strings.Join(secrets(cfg), "|")
	for _, want := range []string{`p%40ss"w0rd`, `p@ss"w0rd`, `p@ss\"w0rd`, "kv secret"} {
		if !strings.Contains(got, want) {
			t.Errorf("secrets %q lack %q", got, want)
		}
	}
	var out bytes.Buffer
	log := zerolog.New(newRedactor(&out, secrets(cfg)))
	log.Error().Str("dsn", cfg.Source.DSN).Err(errors.New(`auth failed for p@ss"w0rd`)).Msg("kv secret")
	if s := out.String(); strings.Contains(s, "w0rd") || strings.Contains(s, "kv secret") || strings.Count(s, "xxxxx") != 3 {
		t.Fatalf("log line not redacted: %s", s)
	}
	// Short passwords are left to the DSN redaction: replacing them
	// everywhere would garble the output.
	if s := secrets(&config.Config{Source: config.Source{DSN: "postgres://a:pw@h/db"}}); len(s) != 0 {
		t.Fatalf("secrets %q", s)
	}
}

func TestLogFormats(t *testing.T) {
	t.Parallel()
	var b bytes.Buffer
	l := newLogger(config.Log{Level: "info"}, &b, false)
	l.Info().Msg("hello")
	var m map[string]string
	if err := json.Unmarshal(b.Bytes(), &m); err != nil {
		t.Fatalf("default log is not JSON off a terminal: %s", b.String())
	}
	if _, err := time.Parse(time.RFC3339Nano, m["time"]); err != nil || !strings.Contains(m["time"], ".") {
		t.Fatalf("time %q is not RFC3339Nano", m["time"])
	}
	for _, tc := range []struct {
		format string
		tty    bool
		json   bool
	}{{"", true, false}, {"json", true, true}, {"console", false, false}} {
		b.Reset()
		l := newLogger(config.Log{Level: "info", Format: tc.format}, &b, tc.tty)
		l.Info().Msg("hello")
		if isJSON := strings.HasPrefix(b.String(), "{"); isJSON != tc.json || !strings.Contains(b.String(), "hello") {
			t.Errorf("format %q tty %v: %q", tc.format, tc.tty, b.String())
		}
	}
}

// The progress bars show each table's rows, estimate and rate, and end
// when the snapshot does.
func TestProgressBars(t *testing.T) {
	t.Parallel()
	m := metrics.New(metrics.Info{Pipeline: "p"})
	a := change.TableID{Schema: "public", Name: "orders"}
	b := change.TableID{Schema: "public", Name: "customers"}
	m.State(pipeline.StateSnapshot, nil)
	m.SnapshotStarted([]pipeline.SnapshotTable{{Table: a, Estimate: 1000}, {Table: b, Estimate: -1}})
	m.SnapshotRows(a, 400, false)
	var out syncBuf
	logs := &switchWriter{w: &out}
	done := make(chan struct{})
	go func() { showProgress(context.Background(), m, &out, logs); close(done) }()
	time.Sleep(3 * progressPoll)
	logs.Write([]byte("a log line\n")) // goes above the bars
	m.SnapshotRows(a, 600, true)
	m.SnapshotRows(b, 50, true)
	time.Sleep(3 * progressPoll)
	m.State(pipeline.StateStreaming, nil)
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the bars did not end with the snapshot")
	}
	s := out.String()
	for _, want := range []string{"public.orders", "1000 / 1000 rows", "rows/s", "public.customers", "50 / 50 rows", "a log line"} {
		if !strings.Contains(s, want) {
			t.Errorf("bars lack %q:\n%s", want, s)
		}
	}
	if logs.w != &out {
		t.Error("the log writer was not given back")
	}
}

// syncBuf is a buffer safe for the bars' goroutine.
type syncBuf struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}

// Endpoints answer as documented, and every response passes the redactor.
func TestHandler(t *testing.T) {
	t.Parallel()
	m := metrics.New(metrics.Info{Pipeline: "p", Source: "postgres://u:xxxxx@h/db"})
	srv := httptest.NewServer(handler(m, []string{"topsecret"}, nil))
	defer srv.Close()
	m.State(pipeline.StateFailed, errors.New("connect with password topsecret failed"))
	for path, want := range map[string]int{"/healthz": 200, "/readyz": 503, "/status": 200, "/metrics": 200, "/": 200, "/nope": 404} {
		code, body := get(t, srv.URL+path)
		if code != want {
			t.Errorf("%s: %d, want %d: %s", path, code, want, body)
		}
		if strings.Contains(body, "topsecret") {
			t.Errorf("%s leaks the secret: %s", path, body)
		}
		if path == "/readyz" && !strings.Contains(body, `"reason": "pipeline failed: connect with password xxxxx failed"`) {
			t.Errorf("/readyz: %s", body)
		}
	}
	if got := localURL(":9187", "/status"); got != "http://127.0.0.1:9187/status" {
		t.Errorf("localURL = %s", got)
	}
	if got := localURL("[::]:9187", "/x"); got != "http://[::1]:9187/x" {
		t.Errorf("localURL = %s", got)
	}
}

func TestListenInUse(t *testing.T) {
	t.Parallel()
	m := metrics.New(metrics.Info{Pipeline: "p"})
	a, err := startHTTP("127.0.0.1:0", m, nil, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	defer a.close()
	_, err = startHTTP(a.addr, m, nil, zerolog.Nop())
	if err == nil || !strings.Contains(err.Error(), "http.listen") || !strings.Contains(err.Error(), "address already in use") {
		t.Fatalf("err = %v", err)
	}
}
