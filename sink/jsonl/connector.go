package jsonl

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/sluicecdc/sluice/pkg/config"
	"github.com/sluicecdc/sluice/pkg/connector"
	"github.com/sluicecdc/sluice/pkg/pipeline"
)

// Settings are the keys under sink.jsonl.
type Settings struct {
	// Path is the data files' name ("/var/lib/sluice/crm.jsonl" writes
	// crm.000001.jsonl, ...); "-" is standard output. A relative path is
	// taken from the working directory.
	Path string
	// MaxBytes rotates a file once it holds this many bytes (0: never).
	MaxBytes int64 `mapstructure:"max_bytes"`
	// Keep is how many files stay (0: all); older ones are removed.
	Keep int

	TopicPrefix         string `mapstructure:"topic_prefix"`
	Schemas             bool
	Tombstones          bool
	TransactionMetadata bool   `mapstructure:"transaction_metadata"`
	DecimalHandling     string `mapstructure:"decimal_handling"`
}

// Events are the envelope settings.
func (s *Settings) Events() Events {
	return Events{TopicPrefix: s.TopicPrefix, Schemas: s.Schemas, Tombstones: s.Tombstones,
		TransactionMetadata: s.TransactionMetadata, DecimalHandling: s.DecimalHandling}
}

func settings(c *config.Config) *Settings {
	s, _ := c.Settings("sink").(*Settings)
	if s == nil {
		s = &Settings{}
	}
	return s
}

// Connector is the jsonl sink kind.
var Connector = connector.Sink{
	Kind: config.Kind{
		Name:     "jsonl",
		Settings: (*Settings)(nil),
		Defaults: map[string]any{"max_bytes": int64(64 << 20), "keep": 0, "decimal_handling": "precise"},
		Examples: map[string]string{"path": "/var/lib/sluice/crm.jsonl", "max_bytes": "64MiB", "keep": "10",
			"topic_prefix": "crm", "decimal_handling": "precise"},
		Validate: validate,
	},
	Open: func(ctx context.Context, e connector.Env) (pipeline.Sink, error) {
		s := settings(e.Config)
		ev := s.Events()
		enc, err := ev.Encoder(e.Config, e.Version)
		if err != nil {
			return nil, err
		}
		return Open(Options{Path: s.Path, Pipeline: e.Config.Name, MaxBytes: s.MaxBytes, Keep: s.Keep, Encoder: enc, Log: e.Log})
	},
	Check: func(ctx context.Context, e connector.Env) []string {
		return Check(settings(e.Config).Path, e.Config.Name)
	},
	Teardown: func(ctx context.Context, e connector.Env, dryRun bool) ([]string, error) {
		return Teardown(settings(e.Config).Path, e.Config.Name, dryRun)
	},
}

func validate(c *config.Config, raw any, v config.Validator) {
	s, _ := raw.(*Settings)
	if s == nil {
		s = &Settings{}
	}
	if k := v.At("sink.jsonl.path"); k != "" {
		switch {
		case s.Path == "":
			v.Addf(`%s: required (a file name such as /var/lib/sluice/%s.jsonl, or "-" for standard output)`, k, c.Name)
		case s.Path != "-" && (strings.HasSuffix(s.Path, "/") || filepath.Base(s.Path) == "." || filepath.Base(s.Path) == ".."):
			v.Addf("%s: %q names a directory; name the files, e.g. %s", k, s.Path, filepath.Join(s.Path, c.Name+".jsonl"))
		}
	}
	if k := v.At("sink.jsonl.max_bytes"); k != "" && s.MaxBytes < 0 {
		v.Addf("%s: must be 0 (never rotate) or a size such as 64MiB", k)
	}
	if k := v.At("sink.jsonl.keep"); k != "" && s.Keep < 0 {
		v.Addf("%s: must be 0 (keep every file) or how many files to keep, e.g. 10", k)
	}
	ev := s.Events()
	ev.Validate(c, "sink.jsonl", v)
}

// Check lists what keeps the sink from writing path: the directory must be
// writable, and the files must not belong to another pipeline.
func Check(path, pipelineName string) []string {
	if path == "-" {
		return nil
	}
	dir := filepath.Dir(path)
	for { // the directory, or the nearest one that exists (run creates the rest)
		if _, err := os.Stat(dir); err == nil || filepath.Dir(dir) == dir {
			break
		}
		dir = filepath.Dir(dir)
	}
	f, err := os.CreateTemp(dir, ".sluice-check-*")
	if err != nil {
		return []string{fmt.Sprintf("sink.jsonl.path: directory %s is not writable: %v (fix its permissions, or choose another path)", dir, err)}
	}
	f.Close()
	os.Remove(f.Name())
	st, ok, err := readState(statePath(path))
	switch {
	case err != nil:
		return []string{fmt.Sprintf("sink.jsonl.path: %v", err)}
	case ok && st.Pipeline != pipelineName:
		return []string{fmt.Sprintf("sink.jsonl.path: %s belongs to pipeline %q (use another path, or rename the pipeline back)", path, st.Pipeline)}
	}
	return nil
}

// Teardown removes the state file (the applied position); the data files
// stay. With dryRun it only says what it would remove.
func Teardown(path, pipelineName string, dryRun bool) ([]string, error) {
	if path == "-" {
		return nil, nil
	}
	p := statePath(path)
	st, ok, err := readState(p)
	if err != nil || !ok {
		return nil, err
	}
	if st.Pipeline != pipelineName {
		return nil, fmt.Errorf("jsonl: %s belongs to pipeline %q, not %q: not removing it", p, st.Pipeline, pipelineName)
	}
	what := []string{fmt.Sprintf("applied position of pipeline %s in %s (the data files stay)", pipelineName, p)}
	if dryRun {
		return what, nil
	}
	lock, err := lockFile(path + ".lock")
	if err != nil {
		return nil, err
	}
	defer lock.Close()
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("jsonl: remove %s: %w", p, err)
	}
	return what, syncDir(filepath.Dir(p))
}
