// Package file is a checkpoint.Store that keeps the checkpoint in a JSON file.
//
// The file holds a format version and the checkpoint:
//
//	{"version": 1, "checkpoint": {"pipeline": "...", "phase": "streaming", ...}}
//
// Save replaces the file atomically (temp file, fsync, rename, fsync of the
// directory), so a crash leaves either the old or the new checkpoint.
package file

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/sluicecdc/sluice/checkpoint"
)

// formatVersion is the version of the file format Save writes. Load refuses
// files from a newer version rather than misreading them.
const formatVersion = 1

// fileFormat is the JSON document on disk.
type fileFormat struct {
	Version    int                   `json:"version"`
	Checkpoint checkpoint.Checkpoint `json:"checkpoint"`
}

// Store keeps one pipeline's checkpoint in the file at its path. One process
// at a time may use a given file.
type Store struct {
	path      string
	pipeline  string    // the pipeline the file must belong to; "" = any
	sweepOnce sync.Once // temp files a crash left behind are removed on the first Save
}

var _ checkpoint.Store = (*Store)(nil)

// renameFile is os.Rename; tests replace it to make Save fail.
var renameFile = os.Rename

// New returns a Store for the file at path. Nothing is touched until Load or
// Save.
func New(path string) *Store {
	return &Store{path: path}
}

// ForPipeline returns a Store for the file at path that belongs to the named
// pipeline: Load and Remove refuse a file another pipeline saved (two
// configs pointing at one file would resume from each other's position).
// A file that names no pipeline (written before names were recorded) is
// taken as this pipeline's.
func ForPipeline(path, pipeline string) *Store {
	return &Store{path: path, pipeline: pipeline}
}

// owned checks that cp belongs to the Store's pipeline.
func (s *Store) owned(cp checkpoint.Checkpoint) error {
	if s.pipeline == "" || cp.Pipeline == "" || cp.Pipeline == s.pipeline {
		return nil
	}
	return fmt.Errorf("checkpoint file %s was saved by pipeline %s, but this config's name is %s; "+
		"give pipeline %s a checkpoint.path of its own (or, if the pipeline was renamed, set name back to %s: "+
		"its slot, publication and applied position in the target go by that name)",
		s.path, cp.Pipeline, s.pipeline, s.pipeline, cp.Pipeline)
}

// Load reads the checkpoint. It returns an error wrapping
// checkpoint.ErrNotFound only when the file does not exist; a file that
// cannot be read or is not a valid checkpoint is a different error, naming
// the file and how to fix it.
func (s *Store) Load(ctx context.Context) (checkpoint.Checkpoint, error) {
	if err := ctx.Err(); err != nil {
		return checkpoint.Checkpoint{}, err
	}
	data, err := os.ReadFile(s.path)
	if errors.Is(err, fs.ErrNotExist) {
		return checkpoint.Checkpoint{}, fmt.Errorf("%w: no file %s", checkpoint.ErrNotFound, s.path)
	}
	if err != nil {
		return checkpoint.Checkpoint{}, fmt.Errorf("checkpoint file %s cannot be read: %w; fix its permissions, or restore it from backup", s.path, err)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return checkpoint.Checkpoint{}, s.corrupt("it is empty")
	}
	var f fileFormat
	if err := json.Unmarshal(data, &f); err != nil {
		return checkpoint.Checkpoint{}, s.corrupt("invalid JSON: %v", err)
	}
	switch {
	case f.Version == 0:
		return checkpoint.Checkpoint{}, s.corrupt("it has no format version")
	case f.Version > formatVersion:
		return checkpoint.Checkpoint{}, fmt.Errorf("checkpoint file %s has format version %d, but this sluice reads only version %d; upgrade sluice", s.path, f.Version, formatVersion)
	}
	if err := validate(f.Checkpoint); err != nil {
		return checkpoint.Checkpoint{}, s.corrupt("%v", err)
	}
	if err := s.owned(f.Checkpoint); err != nil {
		return checkpoint.Checkpoint{}, err
	}
	return f.Checkpoint, nil
}

// Save replaces the checkpoint durably, creating the directory if needed.
// A zero SavedAt is set to the current time. On error the previous
// checkpoint, if any, is left as it was.
func (s *Store) Save(ctx context.Context, cp checkpoint.Checkpoint) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := validate(cp); err != nil {
		return fmt.Errorf("checkpoint: refusing to save %s: %w", s.path, err)
	}
	if cp.SavedAt.IsZero() {
		cp.SavedAt = time.Now().UTC()
	}
	data, err := json.MarshalIndent(fileFormat{Version: formatVersion, Checkpoint: cp}, "", "  ")
	if err != nil {
		return fmt.Errorf("checkpoint: save %s: %w", s.path, err)
	}
	dir := filepath.Dir(s.path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("checkpoint: save %s: %w", s.path, err)
	}
	s.sweepOnce.Do(func() { s.removeTemps(dir) })
	if err := s.replace(dir, append(data, '\n')); err != nil {
		return fmt.Errorf("checkpoint: save %s: %w", s.path, err)
	}
	return nil
}

// replace writes data to a temp file in dir, syncs it, renames it over the
// checkpoint file and syncs dir, so that the rename itself is durable.
func (s *Store) replace(dir string, data []byte) (err error) {
	f, err := os.CreateTemp(dir, s.tempPrefix()+"*") // mode 0o600
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if _, err := f.Write(data); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := renameFile(f.Name(), s.path); err != nil {
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// tempPrefix names the temp files: hidden, and tied to this checkpoint file.
func (s *Store) tempPrefix() string { return "." + filepath.Base(s.path) + ".tmp-" }

// removeTemps deletes temp files that a Save killed mid-way left behind.
func (s *Store) removeTemps(dir string) {
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), s.tempPrefix()) {
			os.Remove(filepath.Join(dir, e.Name()))
		}
	}
}

func (s *Store) corrupt(format string, args ...any) error {
	return fmt.Errorf("checkpoint file %s is corrupt: %s; restore it from backup, or delete it to start over with a new snapshot: that re-copies every table",
		s.path, fmt.Sprintf(format, args...))
}

func validate(cp checkpoint.Checkpoint) error {
	switch cp.Phase {
	case checkpoint.PhaseSnapshot:
		return nil
	case checkpoint.PhaseStreaming:
		if cp.Position == "" {
			return errors.New("phase is streaming but the position is empty")
		}
		return nil
	case "":
		return errors.New("it has no phase")
	default:
		return fmt.Errorf("unknown phase %q", cp.Phase)
	}
}
