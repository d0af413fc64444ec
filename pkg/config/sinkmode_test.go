package config

import (
	"strings"
	"testing"

	"github.com/sluicecdc/sluice/sink/mode"
	"github.com/sluicecdc/sluice/sink/schemachange"
)

// TestSinkModeDefaults: an entry present in the file turns its metadata
// column on with the default name, soft deletes get their default column,
// and ModeOptions hands all of it to the sinks.
func TestSinkModeDefaults(t *testing.T) {
	c, err := Parse(doc(t, "sink.soft_delete", true,
		"sink.metadata.source_code", map[string]any{"value": "crm"},
		"sink.metadata.position", map[string]any{},
		"sink.metadata.synced_at", map[string]any{"column": "loaded_at"}), "", envOf())
	if err != nil {
		t.Fatal(err)
	}
	got := c.Sink.ModeOptions()
	want := mode.Options{Mode: mode.Merge, SoftDelete: "_deleted_at", SourceCode: "crm", SourceCodeColumn: "_source",
		PositionColumn: "_source_position", SyncedAtColumn: "loaded_at"}
	if got != want {
		t.Errorf("mode options %+v, want %+v", got, want)
	}

	c, err = Parse(doc(t, "sink.mode", "history"), "", envOf("SLUICE_SINK_METADATA_COMMIT_TIME_COLUMN", "_ct"))
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Sink.ModeOptions(); got != (mode.Options{Mode: mode.History, CommitTimeColumn: "_ct"}) {
		t.Errorf("history with an override: %+v", got)
	}
	c, err = Parse(doc(t), "", envOf("SLUICE_SINK_SOFT_DELETE", "true"))
	if err != nil || c.Sink.ModeOptions().SoftDelete != "_deleted_at" {
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
		{"soft delete outside merge", doc(t, "sink.mode", "append", "sink.soft_delete", true), nil,
			"sink.soft_delete: only merge mode deletes rows; sink.mode append keeps every change anyway", []string{"use sink.mode merge"}},
		{"soft delete column alone", doc(t, "sink.soft_delete_column", "_gone"), nil,
			"sink.soft_delete_column: has no effect without sink.soft_delete: true", []string{"remove this key"}},
		{"soft delete not a boolean", doc(t, "sink.soft_delete", "yes"), nil,
			`sink.soft_delete: must be true or false, not the text "yes"`, []string{"e.g. true"}},
		{"soft delete override not a boolean", doc(t), []string{"SLUICE_SINK_SOFT_DELETE", "maybe"},
			"sink.soft_delete (from SLUICE_SINK_SOFT_DELETE): must be true or false", nil},
		{"source code without value", doc(t, "sink.metadata.source_code", map[string]any{}), nil,
			"sink.metadata.source_code.value: required when sink.metadata.source_code is set", []string{"e.g. crm"}},
		{"source code too long", doc(t, "sink.metadata.source_code.value", strings.Repeat("x", 300)), nil,
			"sink.metadata.source_code.value: must be at most 255 bytes", nil},
		{"bad column name", doc(t, "sink.metadata.position.column", "pos ition"), nil,
			`sink.metadata.position.column: "pos ition" must be 1-63 letters, digits, '_' or '$'`, []string{"e.g. _source_position"}},
		{"two columns one name", doc(t, "sink.metadata.position.column", "_meta", "sink.metadata.commit_time.column", "_META"), nil,
			`sink.metadata.commit_time.column: "_META" is also the name of sink.metadata.position.column`, []string{"its own name"}},
		{"a mode's own column", doc(t, "sink.mode", "history", "sink.metadata.synced_at.column", "_current"), nil,
			`sink.metadata.synced_at.column: "_current" is a column sink.mode history adds itself`, []string{"another name"}},
		{"soft delete column taken", doc(t, "sink.soft_delete", true, "sink.metadata.synced_at.column", "_deleted_at"), nil,
			`sink.metadata.synced_at.column: "_deleted_at" is also the name of sink.soft_delete_column`, nil},
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
	if c.Sink.SchemaChanges != "follow" || c.Sink.SchemaChangePolicy() != schemachange.Follow {
		t.Errorf("default sink.schema_changes = %q (%v), want follow", c.Sink.SchemaChanges, c.Sink.SchemaChangePolicy())
	}
	c, err = Parse(doc(t, "sink.schema_changes", "ignore"), "", envOf())
	if err != nil {
		t.Fatal(err)
	}
	if c.Sink.SchemaChangePolicy() != schemachange.Ignore {
		t.Errorf("sink.schema_changes ignore = %v", c.Sink.SchemaChangePolicy())
	}
}
