package webhook

import (
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/sluicecdc/sluice/pkg/change"
	"github.com/sluicecdc/sluice/pkg/config"
	"github.com/sluicecdc/sluice/pkg/connector"
	"github.com/sluicecdc/sluice/pkg/pipeline"
	"github.com/sluicecdc/sluice/sink/sinktest"
)

// testSettings are quick to give up, so a receiver that is down fails the
// pipeline within the suite's time.
func testSettings(url string) *Settings {
	return &Settings{URL: url, Secret: "s3cret", Headers: []string{"Authorization: Bearer tok"}, Timeout: 2 * time.Second,
		MaxRetries: 2, MaxBackoff: 50 * time.Millisecond, MaxBatchRows: 3, MaxBatchBytes: 1 << 20}
}

func testEnv(name string) connector.Env {
	return connector.Env{Config: &config.Config{Name: name, Source: config.Source{Kind: "postgres", DSN: "postgres://u@localhost/conf"}},
		Version: "test", Log: zerolog.Nop()}
}

// TestConformance runs the suite every sink passes against a local
// receiver that keeps each Idempotency-Key once; max_batch_rows 3 splits
// every flush into several requests.
func TestConformance(t *testing.T) {
	r := newReceiver(t, "s3cret")
	sinktest.Run(t, sinktest.Target{
		Open: func(t *testing.T, name string) pipeline.Sink {
			s, err := New(testSettings(r.url()), testEnv(name))
			if err != nil {
				t.Fatal(err)
			}
			return s
		},
		Rows:    func(t *testing.T, id change.TableID) []string { return r.fold(t, false).Rows(id) },
		Changes: func(t *testing.T, id change.TableID) int { return r.fold(t, true).Changes(id) },
		Down:    func(t *testing.T) { r.down() },
		Up:      func(t *testing.T) { r.up() },
	})
	r.check(t)
}
