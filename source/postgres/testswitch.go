//go:build sluicetest

package postgres

import (
	"os"
	"time"
)

// The end-to-end tests build sluice with -tags sluicetest and set these
// switches through the environment of the process they start (see the
// variables in backfill.go). A release build has none of this.
func init() {
	if os.Getenv("SLUICE_TEST_SKIP_STALE_FILTER") == "1" {
		skipStaleFilter.Store(true)
	}
	if d, err := time.ParseDuration(os.Getenv("SLUICE_TEST_CHUNK_DELAY")); err == nil {
		testChunkDelay = d
	}
}
