package jsonl

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// state is what the state file holds: everything the data files hold up to
// File at Offset is durable, and ends with the transaction at Position.
type state struct {
	Pipeline string `json:"pipeline"`
	Position string `json:"position"` // "" none yet
	File     string `json:"file"`     // base name of the current data file
	Offset   int64  `json:"offset"`
	// Snapshot is where an unfinished snapshot began: a new snapshot cuts
	// the files back to it first.
	Snapshot *mark `json:"snapshot,omitempty"`
}

type mark struct {
	File   string `json:"file"`
	Offset int64  `json:"offset"`
}

// statePath is the state file of the data files at path.
func statePath(path string) string { return path + ".state" }

// readState reads the state file; ok is false when there is none.
func readState(path string) (st state, ok bool, err error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return state{}, false, nil
	}
	if err != nil {
		return state{}, false, fmt.Errorf("read jsonl state: %w", err)
	}
	if err := json.Unmarshal(b, &st); err != nil {
		return state{}, false, fmt.Errorf("read jsonl state %s: %w (it is written atomically: was it edited? remove it with sluice teardown and start over with --resnapshot)", path, err)
	}
	if st.File == "" || st.Offset < 0 || filepath.Base(st.File) != st.File {
		return state{}, false, fmt.Errorf("read jsonl state %s: file %q offset %d is not a data file position", path, st.File, st.Offset)
	}
	return st, true, nil
}

// writeState replaces the state file atomically and durably: a temporary
// file, fsynced, renamed over it, then the directory fsynced.
func writeState(path string, st state) error {
	b, err := json.Marshal(st)
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("write jsonl state: %w", err)
	}
	_, err = f.Write(append(b, '\n'))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err == nil {
		err = syncDir(filepath.Dir(path))
	}
	if err != nil {
		return fmt.Errorf("write jsonl state: %w", err)
	}
	return nil
}

// syncDir makes a directory's entries (created, renamed, removed files)
// durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}
