package kafka

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluicecdc/sluice/internal/kafkatest"
)

func TestPingCheckTeardown(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	b := kafkatest.Start(t)
	st := testSettings(b, 0) // topics must exist

	if err := Ping(ctx, st); err != nil {
		t.Fatalf("ping: %v", err)
	}
	dead := *st
	dead.Brokers = []string{"127.0.0.1:1"}
	pctx, pcancel := context.WithTimeout(ctx, 5*time.Second)
	if err := Ping(pctx, &dead); err == nil {
		t.Error("ping of a closed port succeeded")
	}
	pcancel()

	problems := Check(ctx, st, "chk", []string{"sluice.app.items"})
	if len(problems) != 1 || !strings.Contains(problems[0], "topic sluice.app.items does not exist") ||
		!strings.Contains(problems[0], "create_topics.partitions") {
		t.Errorf("check with a missing topic: %q", problems)
	}
	withCreate := testSettings(b, 3)
	if problems := Check(ctx, withCreate, "chk", []string{"sluice.app.items"}); len(problems) != 0 {
		t.Errorf("check with create_topics: %q", problems)
	}

	// A pipeline commits; teardown (dry run, then for real) drops its
	// progress record, and the next sink starts without a position.
	s := openSink(t, withCreate, "torn")
	if err := applyTxns(t, s, 1, 3, 5); err != nil {
		t.Fatal(err)
	}
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(s.(prometheus.Collector))
	s.Close()
	checkMetrics(t, reg)

	what, err := Teardown(ctx, withCreate, "torn", true)
	if err != nil || len(what) == 0 || !strings.Contains(what[0], "progress record of pipeline torn") || !strings.Contains(what[0], "(position 3)") {
		t.Fatalf("teardown --dry-run: %q, %v", what, err)
	}
	if got := applied(t, openSinkClosed(t, withCreate, "torn")); got != "3" {
		t.Fatalf("a dry run dropped the position: %q", got)
	}
	if what, err = Teardown(ctx, withCreate, "torn", false); err != nil || len(what) != 2 {
		t.Fatalf("teardown: %q, %v", what, err)
	}
	if got := applied(t, openSinkClosed(t, withCreate, "torn")); got != "" {
		t.Fatalf("after teardown the position is %q, want none", got)
	}
	if what, err = Teardown(ctx, withCreate, "torn", false); err != nil || len(what) != 0 {
		t.Fatalf("a second teardown: %q, %v (want nothing to drop)", what, err)
	}
}

// openSinkClosed opens a sink that the test closes at its end.
func openSinkClosed(t *testing.T, st *Settings, name string) ExactlyOnce {
	s := openSink(t, st, name)
	t.Cleanup(func() { s.Close() })
	return s.(ExactlyOnce)
}

// checkMetrics: 15 events and one progress record acknowledged, one commit.
func checkMetrics(t *testing.T, reg *prometheus.Registry) {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			switch {
			case m.GetCounter() != nil:
				got[mf.GetName()] = m.GetCounter().GetValue()
			case m.GetHistogram() != nil:
				got[mf.GetName()] = float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	for name, want := range map[string]float64{"sluice_kafka_records_total": 16, "sluice_kafka_produce_latency_seconds": 16,
		"sluice_kafka_transaction_commits_total": 1, "sluice_kafka_transaction_aborts_total": 0} {
		if got[name] != want {
			t.Errorf("%s = %v, want %v", name, got[name], want)
		}
	}
	if got["sluice_kafka_bytes_total"] < 15*100 {
		t.Errorf("sluice_kafka_bytes_total = %v, too small for 15 events", got["sluice_kafka_bytes_total"])
	}
}
