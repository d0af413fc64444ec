package mode

import (
	"strings"

	"github.com/sluicecdc/sluice/pkg/config"
)

// FromConfig returns the sink.mode, sink.soft_delete and sink.metadata
// settings as the SQL sinks take them (after config.Load: validated, the
// default column names filled in). The config package keeps them as text,
// so that it knows nothing of the sinks.
func FromConfig(s *config.Sink) Options {
	m, _ := Parse(s.Mode)
	o := Options{Mode: m,
		SourceCode: s.Metadata.SourceCode.Value, SourceCodeColumn: s.Metadata.SourceCode.Column,
		PositionColumn: s.Metadata.Position.Column, CommitTimeColumn: s.Metadata.CommitTime.Column,
		SyncedAtColumn: s.Metadata.SyncedAt.Column}
	if s.SoftDelete {
		o.SoftDelete = s.SoftDeleteColumn
	}
	return o
}

// ValidateConfig checks the soft delete and metadata keys against sink.mode
// and against the columns each mode adds: the Validate of the SQL sink
// kinds (config.Kind), which the loader calls when one is configured.
func ValidateConfig(c *config.Config, _ any, v config.Validator) {
	if _, err := Parse(c.Sink.Mode); err != nil && v.At("sink.mode") != "" {
		return // the loader said so
	}
	o := FromConfig(&c.Sink)
	for _, problem := range o.Validate() {
		key, rest, _ := strings.Cut(problem, ":")
		if k := v.At(key); k != "" {
			v.Addf("%s", k+":"+rest)
		}
	}
}
