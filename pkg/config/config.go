// Package config loads a Sluice pipeline's configuration: one YAML file,
// ${VAR} references expanded from the environment, SLUICE_* environment
// overrides, defaults, and validation that names the offending key.
//
// Every key has an override named after its path: source.dsn is
// SLUICE_SOURCE_DSN, sink.batch.rows is SLUICE_SINK_BATCH_ROWS. List keys
// (source.tables, source.exclude) take comma-separated values. Overrides win
// over the file, are taken literally (no ${VAR} expansion) and are ignored
// when empty.
package config

import (
	"fmt"
	"reflect"
	"strings"
	"time"
)

// Config is one pipeline: a source, a sink and where progress is recorded.
type Config struct {
	Name       string
	Source     Source
	Sink       Sink
	Checkpoint Checkpoint
	Log        Log
	HTTP       HTTP        // observability endpoints, see http.go
	Transforms []Transform `mapstructure:"-"` // read outside viper, see takeTransforms

	settings map[string]any // the kinds' own settings by "<role>.<name>", see Settings
}

// Source is the database whose change log is read.
type Source struct {
	Kind     string   // "postgres" | "mysql"
	DSN      string   // secret: log only RedactDSN(DSN)
	Tables   []string // include patterns schema.table with * globs; default ["public.*"] for postgres
	Exclude  []string // exclude patterns, same form, applied after Tables
	Snapshot string   // "initial" (default) | "never"
	// SnapshotSignals (opt-in) makes rows inserted into SignalTable on the
	// source requests for an online back-fill, like `sluice snapshot`
	// (see pkg/signal and docs/backfill.md).
	SnapshotSignals bool   `mapstructure:"snapshot_signals"`
	SignalTable     string `mapstructure:"signal_table"` // schema.table (MySQL: database.table); default see derive
	Postgres        PostgresSource
	MySQL           MySQLSource `mapstructure:"mysql"`
}

// PostgresSource holds the settings only a PostgreSQL source uses.
type PostgresSource struct {
	Slot            string // default: "sluice_" + Name, see DefaultObjectName
	Publication     string // default: same as Slot's default
	SnapshotWorkers int    `mapstructure:"snapshot_workers"` // parallel snapshot chunk readers, default 4, 1..64
}

// MySQLSource holds the settings only a MySQL/MariaDB source uses.
type MySQLSource struct {
	ServerID        uint32 `mapstructure:"server_id"`        // unique among the server's replicas; required
	SnapshotWorkers int    `mapstructure:"snapshot_workers"` // parallel snapshot chunk readers, default 4, 1..64
}

// Sink is the target the changes are merged into.
type Sink struct {
	Kind   string // "postgres" | "mysql"
	DSN    string // secret: log only RedactDSN(DSN)
	Mode   string // "merge" (default)
	Schema string // target schema; "" = same as the source schema
	Batch  Batch
	// SQL sinks: see sinkmode.go and the README's "Sink modes and metadata columns".
	SoftDelete       bool   `mapstructure:"soft_delete"`        // merge: a delete sets SoftDeleteColumn instead of removing the row
	SoftDeleteColumn string `mapstructure:"soft_delete_column"` // default "_deleted_at"
	Metadata         Metadata
	// SchemaChanges says what SQL sinks do when a source column's type
	// changes: "follow" (default), "stop" or "ignore" (see
	// sink/schemachange and docs/schema-changes.md).
	SchemaChanges string `mapstructure:"schema_changes"`
}

// Batch bounds one target transaction; whichever limit is reached first
// flushes it.
type Batch struct {
	Rows  int           // max changes per target transaction, default 50000
	Bytes int64         // max bytes per target transaction, default 64 MiB
	Wait  time.Duration // max time a change waits before a flush, default 500ms
}

// Checkpoint says where the last durably applied position is stored.
type Checkpoint struct {
	Kind string // "file" (default)
	Path string // default: "<name>.checkpoint"; a relative path is taken from the config file's directory
}

// Log configures the process log.
type Log struct {
	Level  string // debug | info (default) | warn | error
	Format string // json | console; "" (default): console on an interactive terminal, else json
	// Values lets errors (and so the log, the exit message and /status)
	// quote row values, e.g. the value a target constraint refused. Off by
	// default: errors name the table and key columns only.
	Values bool
}

// Error is every problem found in one configuration, one per line.
type Error struct {
	File     string   // the config file; "" when parsed from bytes
	Problems []string // each "key: what is wrong (how to fix it)"
}

func (e *Error) Error() string {
	prefix := "config: "
	if e.File != "" {
		prefix = "config " + e.File + ": "
	}
	return prefix + strings.Join(e.Problems, "\n"+prefix)
}

// Redacted returns a deep copy of c with the passwords in its DSNs replaced,
// safe to log.
func (c *Config) Redacted() Config {
	r := *c
	r.Source.Tables = append([]string(nil), c.Source.Tables...)
	r.Source.Exclude = append([]string(nil), c.Source.Exclude...)
	r.Source.DSN = RedactDSN(c.Source.DSN)
	r.Sink.DSN = RedactDSN(c.Sink.DSN)
	r.Transforms = cloneTransforms(c.Transforms)
	return r
}

// String renders the redacted configuration as "key=value" pairs in key
// order, for logs.
func (c *Config) String() string {
	r := c.Redacted()
	var b strings.Builder
	var walk func(v reflect.Value, prefix string)
	walk = func(v reflect.Value, prefix string) {
		for i := range v.NumField() {
			f, fv := v.Type().Field(i), v.Field(i)
			if !f.IsExported() || keyName(f) == "-" {
				continue
			}
			key := prefix + keyName(f)
			if isSection(f.Type) {
				walk(fv, key+".")
				continue
			}
			if b.Len() > 0 {
				b.WriteByte(' ')
			}
			switch x := fv.Interface().(type) {
			case string:
				if secret(key) && x != "" && !strings.HasSuffix(key, ".dsn") { // DSNs are redacted already
					x = "***"
				}
				fmt.Fprintf(&b, "%s=%s", key, x)
			case []string:
				fmt.Fprintf(&b, "%s=%s", key, strings.Join(x, ","))
			case time.Duration:
				fmt.Fprintf(&b, "%s=%s", key, x)
			default:
				fmt.Fprintf(&b, "%s=%v", key, x)
			}
		}
	}
	walk(reflect.ValueOf(r), "")
	for _, role := range []string{"source", "sink"} {
		if set := c.Settings(role); set != nil {
			kind := c.Source.Kind
			if role == "sink" {
				kind = c.Sink.Kind
			}
			walk(reflect.ValueOf(set).Elem(), role+"."+kind+".")
		}
	}
	return b.String()
}
