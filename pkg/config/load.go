package config

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/spf13/viper"
	"go.yaml.in/yaml/v3"
)

// yamlQuoted is a value yaml quotes in an error ("cannot unmarshal !!str
// `hunter2` ..."); it may be a password written into the file.
var yamlQuoted = regexp.MustCompile(" ?`[^`]*`")

// defaults that do not depend on other keys. Derived ones (tables, slot,
// publication, checkpoint path) are filled in by derive.
var defaults = map[string]any{
	"source.snapshot":                  "initial",
	"source.snapshot_signals":          false,
	"source.postgres.snapshot_workers": 4,
	"source.mysql.snapshot_workers":    4,
	"sink.mode":                        "merge",
	"sink.schema_changes":              "follow",
	"sink.batch.rows":                  50000,
	"sink.batch.bytes":                 int64(64 << 20),
	"sink.batch.wait":                  500 * time.Millisecond,
	"checkpoint.kind":                  "file",
	"log.level":                        "info",
}

// Load reads the YAML file at path, expands ${VAR} from the environment,
// applies SLUICE_* overrides, applies defaults and validates. A problem in
// the file is returned as an *Error listing all of them.
func Load(path string, kinds ...Kind) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	dir := filepath.Dir(path)
	if abs, err := filepath.Abs(dir); err == nil {
		dir = abs
	}
	return parse(data, path, dir, os.LookupEnv, kinds)
}

// Parse does what Load does, from bytes. dir is where relative paths go
// (the default checkpoint file, a relative checkpoint.path); "" leaves them
// relative to the working directory. env looks up environment variables,
// both for ${VAR} and for SLUICE_* overrides. kinds are the source and
// sink kinds beyond the built-in ones, with their settings.
func Parse(data []byte, dir string, env func(string) (string, bool), kinds ...Kind) (*Config, error) {
	return parse(data, "", dir, env, kinds)
}

func parse(data []byte, file, dir string, env func(string) (string, bool), kinds []Kind) (*Config, error) {
	keys := builtin
	if len(kinds) > 0 {
		keys = newKeySet(kinds)
	}
	p := &problems{bad: map[string]bool{}, from: map[string]string{}, keys: keys}
	tree, rules, ok := readTree(data, env, p)
	if !ok {
		return nil, &Error{File: file, Problems: p.list}
	}
	c, err := decode(tree, env, p)
	if err != nil {
		return nil, err
	}
	c.Transforms = rules
	derive(c, dir, p.bad)
	deriveSinkMode(c, tree, p.bad)
	validate(c, p)
	validateKinds(c, tree, p)
	if len(p.list) > 0 {
		return nil, &Error{File: file, Problems: p.list}
	}
	return c, nil
}

// readTree parses the YAML and returns its known keys with ${VAR}
// expanded, and the transforms rules; ok is false when there is nothing to
// go on.
func readTree(data []byte, env func(string) (string, bool), p *problems) (tree map[string]any, rules []Transform, ok bool) {
	var doc any
	if err := yaml.Unmarshal(data, &doc); err != nil {
		// One problem per line; yaml lists several under a header line.
		for _, line := range strings.Split(err.Error(), "\n") {
			line = strings.TrimSpace(line)
			if line == "" || line == "yaml: unmarshal errors:" {
				continue
			}
			if !strings.HasPrefix(line, "yaml: ") {
				line = "yaml: " + line
			}
			p.add(yamlQuoted.ReplaceAllString(line, ""))
		}
		return nil, nil, false
	}
	root, isMap := asMap(doc)
	if doc != nil && !isMap {
		p.addf("must be a mapping of keys (%s)", p.keys.root.knownList())
		return nil, nil, false
	}
	rules = takeTransforms(root, env, p)
	return walk(root, p.keys.root, env, p), rules, true
}

// decode layers the file's tree under the SLUICE_* overrides and over the
// defaults, and decodes the result into a Config.
//
// Overrides are Set from env rather than BindEnv'd, because BindEnv always
// reads the process environment while Parse takes env as a parameter; the
// loop over every key still gives each one its override when the file lacks
// it (viper #761). Like viper's AutomaticEnv, empty values are ignored.
func decode(tree map[string]any, env func(string) (string, bool), p *problems) (*Config, error) {
	v := viper.New()
	if err := v.MergeConfigMap(tree); err != nil {
		return nil, fmt.Errorf("merge config: %w", err)
	}
	for key, val := range defaults {
		v.SetDefault(key, val)
	}
	for _, k := range p.keys.kinds {
		for rel, val := range k.Defaults {
			v.SetDefault(k.Role+"."+k.Name+"."+rel, val)
		}
	}
	for _, l := range p.keys.leaves {
		if val, ok := env(envName(l.key)); ok && val != "" {
			v.Set(l.key, val)
			p.from[l.key] = " (from " + envName(l.key) + ")"
		}
	}

	// Give every key the Go type of its field before decoding, so decoding
	// is exact rather than weakly typed, and a bad value is reported once,
	// by key. A bad key is zeroed and left out of validation.
	for _, l := range p.keys.leaves {
		raw := v.Get(l.key)
		if raw == nil {
			continue
		}
		val, err := normalize(l, raw, p.from[l.key])
		if err != nil {
			p.add(err.Error())
			p.bad[l.key] = true
			val = zeroOf(l)
		}
		v.Set(l.key, val)
	}

	var c Config
	all := v.AllSettings()
	settings, err := takeSettings(all, p.keys.kinds)
	if err != nil {
		return nil, err
	}
	if err := decodeStrict(all, &c); err != nil {
		return nil, fmt.Errorf("decode config: %w", err) // normalize missed a case: a bug
	}
	c.settings = settings
	return &c, nil
}

// zeroOf is the zero value of a leaf's field type.
func zeroOf(l leaf) any {
	switch l.kind {
	case kList:
		return []string(nil)
	case kInt:
		return 0
	case kUint32:
		return uint32(0)
	case kSize:
		return int64(0)
	case kDuration:
		return time.Duration(0)
	case kBool:
		return false
	}
	return ""
}

// derive fills in the defaults computed from other keys.
func derive(c *Config, dir string, bad map[string]bool) {
	if c.Source.Kind == "postgres" {
		if len(c.Source.Tables) == 0 && !bad["source.tables"] {
			c.Source.Tables = []string{"public.*"}
		}
		if c.Source.Postgres.Slot == "" && !bad["source.postgres.slot"] {
			c.Source.Postgres.Slot = DefaultObjectName(c.Name)
		}
		if c.Source.Postgres.Publication == "" && !bad["source.postgres.publication"] {
			c.Source.Postgres.Publication = DefaultObjectName(c.Name)
		}
	}
	if c.Source.SignalTable == "" && !bad["source.signal_table"] {
		c.Source.SignalTable = DefaultSignalTable(c.Source)
	}
	if c.Checkpoint.Path == "" && c.Name != "" && !bad["checkpoint.path"] {
		c.Checkpoint.Path = c.Name + ".checkpoint"
	}
	if c.Checkpoint.Path != "" && dir != "" && !filepath.IsAbs(c.Checkpoint.Path) {
		c.Checkpoint.Path = filepath.Join(dir, c.Checkpoint.Path)
	}
}

// DefaultSignalTable is the signal table's default name: sluice_signals
// in the public schema of a PostgreSQL source, or in the database of a
// MySQL source's first source.tables pattern when that names one database
// ("" when it does not: source.signal_table must then be set).
func DefaultSignalTable(s Source) string {
	if s.Kind == "postgres" {
		return "public.sluice_signals"
	}
	if s.Kind == "mysql" && len(s.Tables) > 0 {
		db, _, ok := strings.Cut(s.Tables[0], ".")
		if ok && db != "" && !strings.ContainsAny(db, "*?[") {
			return db + ".sluice_signals"
		}
	}
	return ""
}

// DefaultObjectName is the replication slot and publication name used when
// none is configured: "sluice_" + name, lower-cased, with every character
// outside [a-z0-9_] replaced by '_', cut to PostgreSQL's 63-byte limit.
func DefaultObjectName(name string) string {
	s := []byte("sluice_")
	for _, r := range strings.ToLower(name) {
		if r == '_' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			s = append(s, byte(r))
		} else {
			s = append(s, '_')
		}
	}
	return string(s[:min(len(s), 63)])
}

// problems collects the messages of one parse. It also remembers the keys
// already reported, so validation does not report them again as missing,
// and which keys came from an override, so messages can say so.
type problems struct {
	list []string
	bad  map[string]bool   // keys already reported
	from map[string]string // key → " (from SLUICE_...)" for overridden keys
	keys *keySet           // the keys this parse knows
}

func (p *problems) add(msg string) { p.list = append(p.list, msg) }

func (p *problems) addf(format string, args ...any) { p.add(fmt.Sprintf(format, args...)) }
