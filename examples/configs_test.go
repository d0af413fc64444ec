package examples_test

// The example configs: each loads and passes `sluice check --offline`; the
// reference configs show every key with its default.

import (
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/sluicecdc/sluice/pkg/config"
	"github.com/sluicecdc/sluice/pkg/connector"
	"github.com/sluicecdc/sluice/sink/jsonl"
	"github.com/sluicecdc/sluice/sink/kafka"
	natssink "github.com/sluicecdc/sluice/sink/nats"
	"github.com/sluicecdc/sluice/sink/webhook"
)

var configVarRE = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)`)

// configVars lists the ${VAR} references in a config's text, comments
// excluded.
func configVars(text string) []string {
	var out []string
	for _, line := range strings.Split(text, "\n") {
		if i := strings.Index(line, "#"); i >= 0 {
			line = line[:i]
		}
		for _, m := range configVarRE.FindAllStringSubmatch(line, -1) {
			if !slices.Contains(out, m[1]) {
				out = append(out, m[1])
			}
		}
	}
	return out
}

func exampleConfigs(t *testing.T) []string {
	t.Helper()
	var files []string
	for _, pat := range []string{"*.yaml", "*.yml", "*/*.yaml", "*/*.yml"} {
		m, err := filepath.Glob(pat)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range m {
			if !slices.Contains(notSluiceConfigs, f) {
				files = append(files, f)
			}
		}
	}
	if len(files) < 2 {
		t.Fatalf("found only %v under examples/", files)
	}
	return files
}

// streamKinds are the sink kinds registered beside the built-in SQL ones
// (cmd/sluice's registry is in package main).
var streamKinds = connector.New(kafka.Connector, jsonl.Connector, webhook.Connector, natssink.Connector)

// notSluiceConfigs are the YAML files under examples/ that configure
// something else (docker-compose.yml mounts them into other services).
var notSluiceConfigs = []string{"docker/prometheus.yml"}

// wantConfigs are the configs the README and docker-compose.yml point at;
// the glob in exampleConfigs must find each (and any new one).
var wantConfigs = []string{
	"postgres-to-postgres.yaml", "mysql-to-postgres.yaml", "mysql-to-mysql.yaml",
	"docker/sluice.yaml", "docker/sluice-mariadb.yaml",
}

func TestExampleConfigsLoad(t *testing.T) {
	files := exampleConfigs(t)
	for _, want := range wantConfigs {
		if !slices.Contains(files, want) {
			t.Errorf("%s is not among the configs found (%v)", want, files)
		}
	}
	for _, f := range files {
		t.Run(f, func(t *testing.T) {
			text, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			env := os.Environ()
			for _, v := range configVars(string(text)) {
				t.Setenv(v, "secret-for-"+strings.ToLower(v))
				env = append(env, v+"=secret-for-"+strings.ToLower(v))
			}
			if _, err := streamKinds.Load(f); err != nil {
				t.Fatalf("config.Load: %v", err)
			}
			cmd := exec.Command(buildSluice(t), "check", "--offline", "--config", f)
			cmd.Env = env
			if out, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(out), ": ok") {
				t.Fatalf("sluice check --offline --config %s: %v\n%s", f, err, out)
			}
		})
	}
}

// TestReferenceConfig: each reference config shows every key its source
// kind uses, each with its default value, so it loads exactly like a config
// with only the required keys. The other source kind's keys are shown in a
// comment.
func TestReferenceConfig(t *testing.T) {
	for _, file := range []string{"postgres-to-postgres.yaml", "mysql-to-postgres.yaml", "mysql-to-mysql.yaml"} {
		t.Run(file, func(t *testing.T) { checkReferenceConfig(t, file) })
	}
}

// optIn tells the keys whose mere presence turns something on (a metadata
// column, the soft-delete column's name): a reference config shows them in
// a comment, as setting them to a default would not be the default.
func optIn(key string) bool {
	return strings.HasPrefix(key, "sink.metadata.") || key == "sink.soft_delete_column"
}

func checkReferenceConfig(t *testing.T, file string) {
	text, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var tree map[string]any
	if err := yaml.Unmarshal(text, &tree); err != nil {
		t.Fatal(err)
	}
	env := func(name string) (string, bool) {
		if strings.HasPrefix(name, "SLUICE_") {
			return "", false // no overrides
		}
		return "x", true
	}
	full, err := config.Parse(text, ".", env)
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}

	other := "source.mysql." // keys of the other source kind: only in a comment
	if full.Source.Kind == "mysql" {
		other = "source.postgres."
	}
	for _, key := range configKeys(reflect.TypeFor[config.Config](), "") {
		if strings.HasPrefix(key, other) {
			if leaf := key[strings.LastIndex(key, ".")+1:]; !strings.Contains(string(text), "#   "+leaf+":") {
				t.Errorf("%s: %s (for %s sources) is not even shown in a comment", file, key, strings.Split(other, ".")[1])
			}
			continue
		}
		if optIn(key) { // present means on: shown in a comment
			if leaf := key[strings.LastIndex(key, ".")+1:]; !strings.Contains(string(text), "# ") || !strings.Contains(string(text), leaf+":") {
				t.Errorf("%s: the opt-in key %s is not even shown in a comment", file, key)
			}
			continue
		}
		if !hasKey(tree, strings.Split(key, ".")) {
			t.Errorf("%s does not show the key %s", file, key)
		}
	}

	// The required keys only; the rest must come out as the defaults.
	source := map[string]any{"kind": full.Source.Kind, "dsn": full.Source.DSN}
	if full.Source.Kind == "mysql" {
		source["tables"] = full.Source.Tables
		source["mysql"] = map[string]any{"server_id": full.Source.MySQL.ServerID}
	}
	minimal, err := yaml.Marshal(map[string]any{
		"name":   full.Name,
		"source": source,
		"sink":   map[string]any{"kind": full.Sink.Kind, "dsn": full.Sink.DSN},
	})
	if err != nil {
		t.Fatal(err)
	}
	short, err := config.Parse(minimal, ".", env)
	if err != nil {
		t.Fatalf("minimal config: %v\n%s", err, minimal)
	}
	for _, c := range []*config.Config{full, short} {
		if len(c.Source.Exclude) == 0 {
			c.Source.Exclude = nil // exclude: [] is the default, none
		}
	}
	if !reflect.DeepEqual(full, short) {
		got, want := strings.Fields(full.String()), strings.Fields(short.String())
		for i := range min(len(got), len(want)) {
			if got[i] != want[i] {
				t.Errorf("%s does not show the default: it sets %s, the default is %s", file, got[i], want[i])
			}
		}
		if len(got) != len(want) || !t.Failed() {
			t.Errorf("%s does not show the defaults:\n  it loads as  %s\n  defaults are %s", file, full, short)
		}
	}
}

// configKeys lists the dotted keys of the config struct, named as the
// loader names them (a mapstructure tag, else the lower-cased field name).
func configKeys(typ reflect.Type, prefix string) []string {
	var out []string
	for i := range typ.NumField() {
		f := typ.Field(i)
		name := f.Tag.Get("mapstructure")
		if name == "-" || !f.IsExported() {
			continue // a list of rules read outside the key schema (transforms), optional
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		if f.Type.Kind() == reflect.Struct && f.Type != reflect.TypeFor[time.Duration]() {
			out = append(out, configKeys(f.Type, prefix+name+".")...)
			continue
		}
		out = append(out, prefix+name)
	}
	return out
}

func hasKey(tree map[string]any, path []string) bool {
	v, ok := tree[path[0]]
	if !ok || len(path) == 1 {
		return ok
	}
	sub, isMap := v.(map[string]any)
	return isMap && hasKey(sub, path[1:])
}
