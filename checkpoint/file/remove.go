package file

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// Remove deletes the checkpoint file (with dryRun, only tells whether it
// exists). A missing file is not an error.
func (s *Store) Remove(dryRun bool) (bool, error) {
	if _, err := os.Stat(s.path); errors.Is(err, fs.ErrNotExist) {
		return false, nil
	} else if err != nil {
		return false, fmt.Errorf("checkpoint %s: %w", s.path, err)
	}
	if dryRun {
		return true, nil
	}
	if err := os.Remove(s.path); err != nil {
		return false, fmt.Errorf("remove checkpoint %s: %w", s.path, err)
	}
	return true, nil
}
