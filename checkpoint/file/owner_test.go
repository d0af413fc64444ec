package file

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluicecdc/sluice/checkpoint"
)

// TestOtherPipeline: a checkpoint saved by pipeline crm-dwh is refused to
// pipeline crm_dwh (on load, naming both and the fix) and not removed by
// it; its own pipeline and a file naming no pipeline load.
func TestOtherPipeline(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cp.json")
	cp := checkpoint.Checkpoint{Pipeline: "crm-dwh", Source: "postgres", Phase: checkpoint.PhaseStreaming, Position: "0/16B3748"}
	if err := ForPipeline(path, "crm-dwh").Save(ctx, cp); err != nil {
		t.Fatal(err)
	}
	if _, err := ForPipeline(path, "crm-dwh").Load(ctx); err != nil {
		t.Fatalf("its own pipeline: %v", err)
	}
	_, err := ForPipeline(path, "crm_dwh").Load(ctx)
	if err == nil || !strings.Contains(err.Error(), "was saved by pipeline crm-dwh") {
		t.Fatalf("another pipeline's checkpoint loaded: %v", err)
	}
	for _, want := range []string{"crm-dwh", "crm_dwh", "checkpoint.path", path} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("message lacks %q: %v", want, err)
		}
	}
	if _, err := ForPipeline(path, "crm_dwh").Remove(false); err == nil || !strings.Contains(err.Error(), "was saved by pipeline crm-dwh") {
		t.Fatalf("another pipeline's checkpoint removed: %v", err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("the file is gone: %v", err)
	}

	cp.Pipeline = "" // written before names were recorded
	if err := New(path).Save(ctx, cp); err != nil {
		t.Fatal(err)
	}
	if _, err := ForPipeline(path, "crm_dwh").Load(ctx); err != nil {
		t.Fatalf("a checkpoint naming no pipeline: %v", err)
	}
	if found, err := ForPipeline(path, "crm_dwh").Remove(false); !found || err != nil {
		t.Fatalf("remove: %v, %v", found, err)
	}
}
