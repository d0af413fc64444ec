package file

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicecdc/sluice/checkpoint"
)

var ctx = context.Background()

func streaming(pos string) checkpoint.Checkpoint {
	return checkpoint.Checkpoint{Pipeline: "orders", Source: "postgres", Phase: checkpoint.PhaseStreaming, Position: pos}
}

// files lists dir's entries.
func files(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

func TestRoundTrip(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "new", "dir") // Save creates it
	path := filepath.Join(dir, "cp.json")
	s := New(path)

	want := streaming("0/16B3748")
	want.SavedAt = time.Date(2025, 1, 2, 3, 4, 5, 6, time.UTC)
	want.Backfills = []checkpoint.Backfill{{Table: "public.orders", Where: "id > 10", After: []string{"42", "x"}, Rows: 7}}
	if err := s.Save(ctx, want); err != nil {
		t.Fatal(err)
	}
	got, err := New(path).Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !got.SavedAt.Equal(want.SavedAt) {
		t.Errorf("SavedAt = %v, want %v", got.SavedAt, want.SavedAt)
	}
	got.SavedAt, want.SavedAt = time.Time{}, time.Time{}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("loaded %+v, want %+v", got, want)
	}

	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", fi.Mode().Perm())
	}
	data, _ := os.ReadFile(path)
	if !strings.Contains(string(data), `"version": 1`) {
		t.Errorf("no format version in\n%s", data)
	}

	// A zero SavedAt is filled in; a snapshot needs no position.
	before := time.Now()
	if err := s.Save(ctx, checkpoint.Checkpoint{Pipeline: "orders", Phase: checkpoint.PhaseSnapshot}); err != nil {
		t.Fatal(err)
	}
	got, err = s.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got.Phase != checkpoint.PhaseSnapshot || got.SavedAt.Before(before.Add(-time.Second)) {
		t.Errorf("loaded %+v", got)
	}
}

// A file written before back-fills existed loads with none.
func TestLoadWithoutBackfills(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cp.json")
	old := `{"version": 1, "checkpoint": {"pipeline": "p", "source": "postgres", "phase": "streaming", "position": "0/16B3748", "saved_at": "2025-01-02T03:04:05Z"}}`
	if err := os.WriteFile(path, []byte(old), 0o600); err != nil {
		t.Fatal(err)
	}
	cp, err := New(path).Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if cp.Position != "0/16B3748" || cp.Backfills != nil {
		t.Errorf("loaded %+v", cp)
	}
}

func TestLoadMissing(t *testing.T) {
	_, err := New(filepath.Join(t.TempDir(), "cp.json")).Load(ctx)
	if !errors.Is(err, checkpoint.ErrNotFound) {
		t.Fatalf("err = %v, want ErrNotFound", err)
	}
}

func TestLoadBadFile(t *testing.T) {
	valid := `{"version": 1, "checkpoint": {"pipeline": "orders", "phase": "streaming", "position": "0/1"}}`
	for name, content := range map[string]string{
		"empty":             "",
		"blank":             " \n",
		"garbage":           "\x00\x01 not json",
		"truncated":         valid[:len(valid)/2],
		"trailing garbage":  valid + "}",
		"null":              "null",
		"no version":        `{"checkpoint": {"phase": "snapshot"}}`,
		"newer version":     `{"version": 2, "checkpoint": {"phase": "snapshot"}}`,
		"no checkpoint":     `{"version": 1}`,
		"no phase":          `{"version": 1, "checkpoint": {"pipeline": "orders"}}`,
		"unknown phase":     `{"version": 1, "checkpoint": {"phase": "done"}}`,
		"no position":       `{"version": 1, "checkpoint": {"phase": "streaming"}}`,
		"wrong field types": `{"version": "1", "checkpoint": []}`,
	} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "cp.json")
			if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := New(path).Load(ctx)
			if err == nil || errors.Is(err, checkpoint.ErrNotFound) {
				t.Fatalf("err = %v, want a corrupt-file error", err)
			}
			hint := "delete it to start over"
			if name == "newer version" {
				hint = "upgrade sluice"
			}
			if !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), hint) {
				t.Errorf("error does not name the file and the fix: %v", err)
			}
		})
	}

	t.Run("directory", func(t *testing.T) {
		path := t.TempDir()
		_, err := New(path).Load(ctx)
		if err == nil || errors.Is(err, checkpoint.ErrNotFound) || !strings.Contains(err.Error(), path) {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestSaveReplaces(t *testing.T) {
	dir := t.TempDir()
	s := New(filepath.Join(dir, "cp.json"))
	for _, pos := range []string{"0/1", "0/2", "0/3"} {
		if err := s.Save(ctx, streaming(pos)); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.Load(ctx)
	if err != nil || got.Position != "0/3" {
		t.Fatalf("loaded %+v, %v; want position 0/3", got, err)
	}
	if names := files(t, dir); len(names) != 1 || names[0] != "cp.json" {
		t.Errorf("files left in the directory: %v", names)
	}
}

func TestSaveRemovesStaleTempFiles(t *testing.T) {
	dir := t.TempDir()
	stale := filepath.Join(dir, ".cp.json.tmp-12345")
	other := filepath.Join(dir, ".other.json.tmp-12345")
	for _, p := range []string{stale, other} {
		if err := os.WriteFile(p, []byte("{"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := New(filepath.Join(dir, "cp.json")).Save(ctx, streaming("0/1")); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("stale temp file still there: %v", err)
	}
	if _, err := os.Stat(other); err != nil {
		t.Errorf("another store's temp file was removed: %v", err)
	}
}

func TestSaveFailure(t *testing.T) {
	t.Run("parent is a file", func(t *testing.T) {
		parent := filepath.Join(t.TempDir(), "file")
		if err := os.WriteFile(parent, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(parent, "cp.json")
		err := New(path).Save(ctx, streaming("0/1"))
		if err == nil || !strings.Contains(err.Error(), path) {
			t.Fatalf("err = %v, want an error naming %s", err, path)
		}
	})

	t.Run("old checkpoint kept", func(t *testing.T) {
		dir := t.TempDir()
		s := New(filepath.Join(dir, "cp.json"))
		if err := s.Save(ctx, streaming("0/1")); err != nil {
			t.Fatal(err)
		}
		renameFile = func(string, string) error { return errors.New("disk on fire") }
		defer func() { renameFile = os.Rename }()
		if err := s.Save(ctx, streaming("0/2")); err == nil || !strings.Contains(err.Error(), "disk on fire") {
			t.Fatalf("err = %v", err)
		}
		got, err := s.Load(ctx)
		if err != nil || got.Position != "0/1" {
			t.Fatalf("loaded %+v, %v; want the old checkpoint", got, err)
		}
		if names := files(t, dir); len(names) != 1 {
			t.Errorf("files left in the directory: %v", names)
		}
	})

	t.Run("invalid checkpoint", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "cp.json")
		for _, cp := range []checkpoint.Checkpoint{streaming(""), {}, {Phase: "done"}} {
			if err := New(path).Save(ctx, cp); err == nil {
				t.Errorf("saved %+v", cp)
			}
		}
		if _, err := os.Stat(path); !os.IsNotExist(err) {
			t.Errorf("file written: %v", err)
		}
	})
}

// The crash-safety test re-runs the test binary as a helper that saves
// checkpoints with increasing positions until it is SIGKILLed.
const (
	envCrashFile  = "SLUICE_CHECKPOINT_CRASH_FILE"
	envCrashStart = "SLUICE_CHECKPOINT_CRASH_START"
)

func crashCheckpoint(n uint64) checkpoint.Checkpoint { return streaming(fmt.Sprintf("0/%X", n)) }

// TestCrashHelper is the helper process; it does nothing in a normal run.
func TestCrashHelper(t *testing.T) {
	path := os.Getenv(envCrashFile)
	if path == "" {
		t.Skip("helper process for TestSaveSurvivesSIGKILL")
	}
	n, err := strconv.ParseUint(os.Getenv(envCrashStart), 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	s := New(path)
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); n++ {
		if err := s.Save(ctx, crashCheckpoint(n)); err != nil {
			t.Fatal(err)
		}
		fmt.Printf("saved %d\n", n) // only once Save returned
	}
}

func TestSaveSurvivesSIGKILL(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cp.json")
	next := uint64(1)
	for round := 0; round < 15; round++ {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashHelper$")
		cmd.Env = append(os.Environ(), envCrashFile+"="+path, envCrashStart+"="+strconv.FormatUint(next, 10))
		cmd.Stderr = os.Stderr
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		defer cmd.Process.Kill()

		// Read what the helper reports as saved, until it dies. started is
		// closed on the first report, or when the helper dies before that.
		started := make(chan struct{})
		acked := make(chan uint64, 1)
		go func() {
			var last uint64
			closeStarted := sync.OnceFunc(func() { close(started) })
			defer closeStarted()
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				if n, ok := strings.CutPrefix(sc.Text(), "saved "); ok {
					last, _ = strconv.ParseUint(n, 10, 64)
					closeStarted()
				}
			}
			acked <- last
		}()
		select {
		case <-started:
		case <-time.After(30 * time.Second):
			t.Fatal("helper saved nothing in 30s")
		}
		time.Sleep(rand.N(20 * time.Millisecond))
		if err := cmd.Process.Kill(); err != nil { // SIGKILL
			t.Fatalf("round %d: helper died on its own: %v", round, err)
		}
		last := <-acked
		cmd.Wait()

		cp, err := New(path).Load(ctx)
		if err != nil {
			t.Fatalf("round %d: load after SIGKILL: %v", round, err)
		}
		var n uint64
		if _, err := fmt.Sscanf(cp.Position, "0/%X", &n); err != nil {
			t.Fatalf("round %d: position %q: %v", round, cp.Position, err)
		}
		// Every Save that returned is durable; one more may have completed.
		if n < last || n > last+1 {
			t.Fatalf("round %d: loaded position %d, but the last completed save was %d", round, n, last)
		}
		want := crashCheckpoint(n)
		if cp.SavedAt.IsZero() {
			t.Errorf("round %d: zero SavedAt", round)
		}
		if cp.SavedAt = (time.Time{}); !reflect.DeepEqual(cp, want) {
			t.Fatalf("round %d: loaded %+v, want %+v", round, cp, want)
		}
		next = n + 1
	}
	t.Logf("%d checkpoints saved across the crashes", next-1)
}
