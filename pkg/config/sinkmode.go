package config

import (
	"slices"
	"strings"
)

// Metadata are optional columns the SQL sinks add to every target row. An
// entry is on when it is present in the file (`position: {}` takes the
// default column name) or when its column (or value) is set, e.g. by an
// override.
type Metadata struct {
	SourceCode SourceCode `mapstructure:"source_code"` // a configured text naming the source system
	Position   MetaColumn // the commit position of the change's source transaction
	CommitTime MetaColumn `mapstructure:"commit_time"` // the source commit time (snapshot rows: the snapshot's time)
	SyncedAt   MetaColumn `mapstructure:"synced_at"`   // when the target wrote the row, by the target's clock
}

// SourceCode is the source_code metadata column and its value.
type SourceCode struct {
	Value  string // required when the entry is on, e.g. "crm"
	Column string // default "_source"
}

// MetaColumn names one metadata column.
type MetaColumn struct {
	Column string
}

// The modes sink.mode names, and the default names of the columns soft
// deletes and metadata entries add. The SQL sinks read these settings as
// they take them (see sink/mode.FromConfig) and check them against the
// columns each mode adds (sink/mode.ValidateConfig, their kinds' Validate).
var sinkModes = []string{"merge", "history", "append"}

// schemaChangePolicies are the names sink.schema_changes takes; the SQL
// sinks turn the name into their policy (sink/schemachange.ParsePolicy).
var schemaChangePolicies = []string{"follow", "stop", "ignore"}

const (
	defaultDeletedAt  = "_deleted_at"
	defaultSourceCode = "_source"
	defaultPosition   = "_source_position"
	defaultCommitTime = "_source_commit_time"
	defaultSyncedAt   = "_synced_at"
)

// deriveSinkMode fills in the default column names: of soft deletes when
// they are on, and of each metadata entry present in the file.
func deriveSinkMode(c *Config, tree map[string]any, bad map[string]bool) {
	s := &c.Sink
	if s.SoftDelete && s.SoftDeleteColumn == "" && !bad["sink.soft_delete_column"] {
		s.SoftDeleteColumn = defaultDeletedAt
	}
	present := func(name string) bool {
		sink, _ := tree["sink"].(map[string]any)
		meta, _ := sink["metadata"].(map[string]any)
		_, ok := meta[name]
		return ok || bad["sink.metadata."+name+".column"]
	}
	md := &s.Metadata
	for _, e := range []struct {
		name, def string
		col       *string
		on        bool
	}{
		{"source_code", defaultSourceCode, &md.SourceCode.Column, md.SourceCode.Value != ""},
		{"position", defaultPosition, &md.Position.Column, false},
		{"commit_time", defaultCommitTime, &md.CommitTime.Column, false},
		{"synced_at", defaultSyncedAt, &md.SyncedAt.Column, false},
	} {
		if *e.col == "" && (e.on || present(e.name)) && !bad["sink.metadata."+e.name+".column"] {
			*e.col = e.def
		}
	}
}

// validateSinkMode checks sink.mode and sink.soft_delete_column; the SQL
// sink kinds check the rest (see sinkModes).
func validateSinkMode(c *Config, at func(string) string, p *problems) {
	s := &c.Sink
	if k := at("sink.mode"); k != "" && s.Mode != "" && !slices.Contains(sinkModes, s.Mode) {
		p.addf("%s: %q is not a known mode (supported: %s)", k, s.Mode, strings.Join(sinkModes, ", "))
		return
	}
	if k := at("sink.soft_delete_column"); k != "" && !s.SoftDelete && s.SoftDeleteColumn != "" {
		p.addf("%s: has no effect without sink.soft_delete: true (set that, or remove this key)", k)
	}
}
