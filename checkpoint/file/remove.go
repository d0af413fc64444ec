package file

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// Remove deletes the checkpoint file (with dryRun, only tells whether it
// exists). A missing file is not an error; one another pipeline saved is
// (see ForPipeline), and stays.
func (s *Store) Remove(dryRun bool) (bool, error) {
	if _, err := os.Stat(s.path); errors.Is(err, fs.ErrNotExist) {
		return false, nil
	} else if err != nil {
		return false, fmt.Errorf("checkpoint %s: %w", s.path, err)
	}
	if s.pipeline != "" {
		// Only the name matters here: a corrupt file may still be removed.
		var f fileFormat
		if data, err := os.ReadFile(s.path); err == nil && json.Unmarshal(data, &f) == nil {
			if err := s.owned(f.Checkpoint); err != nil {
				return false, err
			}
		}
	}
	if dryRun {
		return true, nil
	}
	if err := os.Remove(s.path); err != nil {
		return false, fmt.Errorf("remove checkpoint %s: %w", s.path, err)
	}
	return true, nil
}
