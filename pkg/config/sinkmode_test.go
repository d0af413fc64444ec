package config

import (
	"slices"
	"strings"
	"testing"

	"github.com/sluicecdc/sluice/sink/schemachange"
)

// TestSinkModeDefaults: an entry present in the file turns its metadata
// column on with the default name, soft deletes get their default column.
// (sink/mode's TestConfigDefaults: how the SQL sinks take them.)
func TestSinkModeDefaults(t *testing.T) {
	c, err := Parse(doc(t, "sink.soft_delete", true,
		"sink.metadata.source_code", map[string]any{"value": "crm"},
		"sink.metadata.position", map[string]any{},
		"sink.metadata.synced_at", map[string]any{"column": "loaded_at"}), "", envOf())
	if err != nil {
		t.Fatal(err)
	}
	s := c.Sink
	got := []string{s.Mode, s.SoftDeleteColumn, s.Metadata.SourceCode.Value, s.Metadata.SourceCode.Column,
		s.Metadata.Position.Column, s.Metadata.CommitTime.Column, s.Metadata.SyncedAt.Column}
	want := []string{"merge", "_deleted_at", "crm", "_source", "_source_position", "", "loaded_at"}
	if !slices.Equal(got, want) {
		t.Errorf("sink settings %q, want %q", got, want)
	}
	if !s.SoftDelete {
		t.Error("soft delete off")
	}

	c, err = Parse(doc(t, "sink.mode", "history"), "", envOf("SLUICE_SINK_METADATA_COMMIT_TIME_COLUMN", "_ct"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Sink.Mode != "history" || c.Sink.Metadata.CommitTime.Column != "_ct" || c.Sink.Metadata.Position.Column != "" {
		t.Errorf("history with an override: %+v", c.Sink)
	}
	c, err = Parse(doc(t), "", envOf("SLUICE_SINK_SOFT_DELETE", "true"))
	if err != nil || !c.Sink.SoftDelete || c.Sink.SoftDeleteColumn != "_deleted_at" {
		t.Errorf("soft delete from an override: %v %+v", err, c)
	}
}

func TestSinkModeProblems(t *testing.T) {
	tests := []struct {
		name   string
		data   []byte
		env    []string
		prefix string
		has    []string
	}{
		{"soft delete column alone", doc(t, "sink.soft_delete_column", "_gone"), nil,
			"sink.soft_delete_column: has no effect without sink.soft_delete: true", []string{"remove this key"}},
		{"soft delete not a boolean", doc(t, "sink.soft_delete", "yes"), nil,
			`sink.soft_delete: must be true or false, not the text "yes"`, []string{"e.g. true"}},
		{"soft delete override not a boolean", doc(t), []string{"SLUICE_SINK_SOFT_DELETE", "maybe"},
			"sink.soft_delete (from SLUICE_SINK_SOFT_DELETE): must be true or false", nil},
		{"metadata entry not a mapping", doc(t, "sink.metadata.position", true), nil,
			"sink.metadata.position: must be a mapping, not a boolean true", []string{"known keys under sink.metadata.position: column"}},
		{"unknown schema change policy", doc(t, "sink.schema_changes", "apply"), nil,
			`sink.schema_changes: "apply" is not a known policy (supported: follow`, []string{"stop; ignore"}},
		{"unknown schema change policy override", doc(t), []string{"SLUICE_SINK_SCHEMA_CHANGES", "Follow"},
			`sink.schema_changes (from SLUICE_SINK_SCHEMA_CHANGES): "Follow" is not a known policy`, nil},
		{"unknown metadata", doc(t, "sink.metadata.host", map[string]any{}), nil,
			`unknown key "sink.metadata.host"`, []string{"source_code, position, commit_time, synced_at"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(tt.data, "", envOf(tt.env...))
			if err == nil {
				t.Fatal("no error")
			}
			findProblem(t, err, tt.prefix, tt.has...)
		})
	}
}

func TestSchemaChanges(t *testing.T) {
	c, err := Parse(doc(t), "", envOf())
	if err != nil {
		t.Fatal(err)
	}
	if c.Sink.SchemaChanges != "follow" {
		t.Errorf("default sink.schema_changes = %q, want follow", c.Sink.SchemaChanges)
	}
	c, err = Parse(doc(t, "sink.schema_changes", "ignore"), "", envOf())
	if err != nil {
		t.Fatal(err)
	}
	if p, err := schemachange.ParsePolicy(c.Sink.SchemaChanges); err != nil || p != schemachange.Ignore {
		t.Errorf("sink.schema_changes ignore = %v, %v", p, err)
	}
	if _, err := Parse(doc(t, "sink.schema_changes", "widen"), "", envOf()); err == nil || !strings.Contains(err.Error(), "sink.schema_changes") {
		t.Errorf("an unknown policy: %v", err)
	}
	// The names config accepts are the names the sinks parse.
	for _, name := range schemaChangePolicies {
		if _, err := schemachange.ParsePolicy(name); err != nil {
			t.Errorf("config accepts sink.schema_changes %q, the sinks do not: %v", name, err)
		}
	}
}
