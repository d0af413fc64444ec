//go:build sluicetest

package mysql

import (
	"os"
	"time"
)

// The end-to-end tests build sluice with -tags sluicetest and set these
// switches through the environment of the process they start (see the
// variables in backfill.go). A release build has none of this.
func init() {
	skipStaleFilter = os.Getenv("SLUICE_TEST_SKIP_STALE_FILTER") == "1"
	forceLockedSnapshot = os.Getenv("SLUICE_TEST_LOCKED_SNAPSHOT") == "1"
	if d, err := time.ParseDuration(os.Getenv("SLUICE_TEST_CHUNK_DELAY")); err == nil {
		testChunkDelay = d
	}
}
