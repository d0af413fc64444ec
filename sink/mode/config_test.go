package mode

import (
	"errors"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/sluicecdc/sluice/pkg/config"
)

// kinds are a postgres source and a SQL sink whose Validate is
// ValidateConfig, as the SQL sinks register them.
var kinds = []config.Kind{
	{Role: "source", Name: "postgres"},
	{Role: "sink", Name: "postgres", SQL: true, Validate: ValidateConfig},
}

func parse(t *testing.T, data []byte, env ...string) (*config.Config, error) {
	t.Helper()
	m := map[string]string{}
	for i := 0; i+1 < len(env); i += 2 {
		m[env[i]] = env[i+1]
	}
	return config.Parse(data, "", func(name string) (string, bool) { v, ok := m[name]; return v, ok }, kinds...)
}

// doc is a minimal valid config with the given dotted keys set, as YAML.
func doc(t *testing.T, sets ...any) []byte {
	t.Helper()
	m := map[string]any{
		"name":   "crm-to-dwh",
		"source": map[string]any{"kind": "postgres", "dsn": "postgres://replicator@db:5432/crm"},
		"sink":   map[string]any{"kind": "postgres", "dsn": "postgres://app@dwh:5432/dwh"},
	}
	for i := 0; i+1 < len(sets); i += 2 {
		path := strings.Split(sets[i].(string), ".")
		node := m
		for _, p := range path[:len(path)-1] {
			next, ok := node[p].(map[string]any)
			if !ok {
				next = map[string]any{}
				node[p] = next
			}
			node = next
		}
		node[path[len(path)-1]] = sets[i+1]
	}
	out, err := yaml.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestConfigDefaults: an entry present in the file turns its metadata
// column on with the default name, soft deletes get their default column,
// and FromConfig hands all of it to the sinks.
func TestConfigDefaults(t *testing.T) {
	c, err := parse(t, doc(t, "sink.soft_delete", true,
		"sink.metadata.source_code", map[string]any{"value": "crm"},
		"sink.metadata.position", map[string]any{},
		"sink.metadata.synced_at", map[string]any{"column": "loaded_at"}))
	if err != nil {
		t.Fatal(err)
	}
	got := FromConfig(&c.Sink)
	want := Options{Mode: Merge, SoftDelete: "_deleted_at", SourceCode: "crm", SourceCodeColumn: "_source",
		PositionColumn: "_source_position", SyncedAtColumn: "loaded_at"}
	if got != want {
		t.Errorf("mode options %+v, want %+v", got, want)
	}

	c, err = parse(t, doc(t, "sink.mode", "history"), "SLUICE_SINK_METADATA_COMMIT_TIME_COLUMN", "_ct")
	if err != nil {
		t.Fatal(err)
	}
	if got := FromConfig(&c.Sink); got != (Options{Mode: History, CommitTimeColumn: "_ct"}) {
		t.Errorf("history with an override: %+v", got)
	}
	c, err = parse(t, doc(t), "SLUICE_SINK_SOFT_DELETE", "true")
	if err != nil || FromConfig(&c.Sink).SoftDelete != "_deleted_at" {
		t.Errorf("soft delete from an override: %v %+v", err, c)
	}
}

// TestConfigDefaultNames: the config's default column names are this
// package's.
func TestConfigDefaultNames(t *testing.T) {
	c, err := parse(t, doc(t, "sink.soft_delete", true,
		"sink.metadata.source_code", map[string]any{"value": "crm"}, "sink.metadata.position", map[string]any{},
		"sink.metadata.commit_time", map[string]any{}, "sink.metadata.synced_at", map[string]any{}))
	if err != nil {
		t.Fatal(err)
	}
	md := c.Sink.Metadata
	for got, want := range map[string]string{c.Sink.SoftDeleteColumn: DefaultDeletedAt, md.SourceCode.Column: DefaultSourceCode,
		md.Position.Column: DefaultPosition, md.CommitTime.Column: DefaultCommitTime, md.SyncedAt.Column: DefaultSyncedAt} {
		if got != want {
			t.Errorf("config default %q, want %q", got, want)
		}
	}
}

// TestConfigProblems: the problems ValidateConfig adds to the loader's.
func TestConfigProblems(t *testing.T) {
	tests := []struct {
		name   string
		data   []byte
		prefix string
		has    []string
	}{
		{"soft delete outside merge", doc(t, "sink.mode", "append", "sink.soft_delete", true),
			"sink.soft_delete: only merge mode deletes rows; sink.mode append keeps every change anyway", []string{"use sink.mode merge"}},
		{"source code without value", doc(t, "sink.metadata.source_code", map[string]any{}),
			"sink.metadata.source_code.value: required when sink.metadata.source_code is set", []string{"e.g. crm"}},
		{"source code too long", doc(t, "sink.metadata.source_code.value", strings.Repeat("x", 300)),
			"sink.metadata.source_code.value: must be at most 255 bytes", nil},
		{"bad column name", doc(t, "sink.metadata.position.column", "pos ition"),
			`sink.metadata.position.column: "pos ition" must be 1-63 letters, digits, '_' or '$'`, []string{"e.g. _source_position"}},
		{"two columns one name", doc(t, "sink.metadata.position.column", "_meta", "sink.metadata.commit_time.column", "_META"),
			`sink.metadata.commit_time.column: "_META" is also the name of sink.metadata.position.column`, []string{"its own name"}},
		{"a mode's own column", doc(t, "sink.mode", "history", "sink.metadata.synced_at.column", "_current"),
			`sink.metadata.synced_at.column: "_current" is a column sink.mode history adds itself`, []string{"another name"}},
		{"soft delete column taken", doc(t, "sink.soft_delete", true, "sink.metadata.synced_at.column", "_deleted_at"),
			`sink.metadata.synced_at.column: "_deleted_at" is also the name of sink.soft_delete_column`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parse(t, tt.data)
			var e *config.Error
			if !errors.As(err, &e) {
				t.Fatalf("error = %v (%T), want *config.Error", err, err)
			}
		next:
			for _, line := range e.Problems {
				if !strings.HasPrefix(line, tt.prefix) {
					continue
				}
				for _, h := range tt.has {
					if !strings.Contains(line, h) {
						continue next
					}
				}
				return
			}
			t.Fatalf("no problem starting with %q containing %q among:\n%s", tt.prefix, tt.has, strings.Join(e.Problems, "\n"))
		})
	}
}
