package jsonl

import (
	"path/filepath"
	"testing"

	"github.com/rs/zerolog"

	"github.com/sluicecdc/sluice/pkg/change"
	"github.com/sluicecdc/sluice/pkg/pipeline"
	"github.com/sluicecdc/sluice/sink/envelope"
	"github.com/sluicecdc/sluice/sink/sinktest"
)

func testEncoder(t testing.TB) *envelope.Encoder {
	enc, err := envelope.New(envelope.Options{Prefix: "conf", Version: "test", Database: "conf", OmitTombstones: true})
	if err != nil {
		t.Fatal(err)
	}
	return enc
}

// TestConformance runs the suite every sink passes, reading back the
// files; a small max_bytes makes every case rotate.
func TestConformance(t *testing.T) {
	root := t.TempDir()
	sinktest.Run(t, sinktest.Target{
		Open: func(t *testing.T, name string) pipeline.Sink {
			s, err := Open(Options{Path: filepath.Join(root, name, "out.jsonl"), Pipeline: name, MaxBytes: 1500, Keep: 0,
				Encoder: testEncoder(t), Log: zerolog.Nop()})
			if err != nil {
				t.Fatal(err)
			}
			return s
		},
		Rows: func(t *testing.T, id change.TableID) []string {
			return fold(t, false, pathsUnder(t, root)...).Rows(id)
		},
		Changes: func(t *testing.T, id change.TableID) int {
			return fold(t, true, pathsUnder(t, root)...).Changes(id)
		},
	})
}
