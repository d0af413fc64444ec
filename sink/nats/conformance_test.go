package nats

import (
	"context"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/sluicecdc/sluice/internal/natstest"
	"github.com/sluicecdc/sluice/pkg/change"
	"github.com/sluicecdc/sluice/pkg/pipeline"
	"github.com/sluicecdc/sluice/sink/sinktest"
)

// testSettings are the defaults with the test server's URL.
func testSettings(url string) Settings {
	return Settings{URLs: []string{url}, SubjectPrefix: "sluice", CreateStream: true, Retention: "limits", Replicas: 1,
		Storage: "file", DuplicateWindow: 2 * time.Minute, Schemas: true, Tombstones: true, DecimalHandling: "precise",
		Timeout: 10 * time.Second}
}

func openSink(t *testing.T, set Settings, name string) *Sink {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := New(ctx, Options{Settings: set, Pipeline: name, Version: "test", Database: "conf", Log: zerolog.Nop()})
	if err != nil {
		t.Fatalf("open the nats sink: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestConformance runs the shared sink suite against a real nats-server;
// down and back is a server restart with its store.
func TestConformance(t *testing.T) {
	srv := natstest.Start(t)
	set := testSettings(srv.URL())
	read := func(t *testing.T, id change.TableID) []stored {
		return readStream(t, srv.URL(), set.streamName(), subject(set.SubjectPrefix, id))
	}
	sinktest.Run(t, sinktest.Target{
		Open: func(t *testing.T, name string) pipeline.Sink { return openSink(t, set, name) },
		Rows: func(t *testing.T, id change.TableID) []string {
			s, err := sinktest.Fold(events(read(t, id)))
			if err != nil {
				t.Fatal(err)
			}
			return s.Rows(id)
		},
		Changes: func(t *testing.T, id change.TableID) int { return changeCount(read(t, id)) },
		Down: func(t *testing.T) {
			if err := srv.Stop(); err != nil {
				t.Fatal(err)
			}
		},
		Up: func(t *testing.T) {
			if err := srv.Start(); err != nil {
				t.Fatal(err)
			}
		},
	})
}
