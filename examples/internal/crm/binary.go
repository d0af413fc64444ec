package crm

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

const module = "module github.com/sluicecdc/sluice"

// RepoRoot finds the repository from the working directory upward; hint
// says how to run the program from there when it is not found.
func RepoRoot(hint string) (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && bytes.HasPrefix(bytes.TrimSpace(b), []byte(module)) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New(hint)
		}
		dir = parent
	}
}

// BinaryOptions say which sluice binary FindBinary returns.
type BinaryOptions struct {
	Root   string // the repository
	TmpDir string // where a fresh build goes
	Binary string // use this one (-sluice)
	Build  bool   // build even when bin/sluice is up to date (-build)
}

// FindBinary returns the sluice binary to run: o.Binary, else bin/sluice
// when it is newer than every Go source file, else a fresh build in
// o.TmpDir. say reports which.
func FindBinary(ctx context.Context, o BinaryOptions, say func(string, ...any)) (string, error) {
	if o.Binary != "" {
		return filepath.Abs(o.Binary)
	}
	bin := filepath.Join(o.Root, "bin", "sluice")
	if !o.Build {
		if fi, err := os.Stat(bin); err == nil {
			newer, err := newestSource(o.Root)
			if err != nil {
				return "", err
			}
			if !newer.After(fi.ModTime()) {
				say("using %s", bin)
				return bin, nil
			}
			say("%s is older than the source; building a fresh one", bin)
		}
	}
	out := filepath.Join(o.TmpDir, "sluice")
	say("building sluice: go build -o %s ./cmd/sluice", out)
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, "./cmd/sluice")
	cmd.Dir = o.Root
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/sluice: %v\n%s", err, b)
	}
	return out, nil
}

// newestSource is the latest modification time of the files that go into
// the sluice binary (non-test Go files outside examples/, go.mod, go.sum).
func newestSource(root string) (time.Time, error) {
	var newest time.Time
	err := filepath.WalkDir(root, func(path string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := e.Name()
		if e.IsDir() {
			if path != root && (strings.HasPrefix(name, ".") || name == "examples" || name == "bin" || name == "testdata") {
				return filepath.SkipDir
			}
			return nil
		}
		if name != "go.mod" && name != "go.sum" && (!strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go")) {
			return nil
		}
		fi, err := e.Info()
		if err != nil {
			return err
		}
		if fi.ModTime().After(newest) {
			newest = fi.ModTime()
		}
		return nil
	})
	return newest, err
}
