// Package connector is the registry of source and sink kinds. Each kind's
// package declares what it brings — its settings (config.Kind), how to
// open it, check it, probe it and tear down what it keeps — as one value,
// and the command wires every kind the same way through a Registry: adding
// a kind touches its own package and one line where the registry is made.
package connector

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/rs/zerolog"

	"github.com/sluicecdc/sluice/pkg/change"
	"github.com/sluicecdc/sluice/pkg/config"
	"github.com/sluicecdc/sluice/pkg/pipeline"
)

// Env is what a kind gets to open or check itself.
type Env struct {
	Config   *config.Config
	Version  string // Sluice's version, for what a kind writes about itself (e.g. Debezium's source.version)
	Log      zerolog.Logger
	SpillDir string // where large transactions spill ("" = the temp dir)
	// Reconnecting, when set, hears from a source that lost its
	// connection and retries (true) and that it is back (false): once per
	// episode, for readiness.
	Reconnecting func(lost bool)
	// Targets, for checks, describes every selected source table as it is
	// now and as it reaches the sink (after the transforms); nil when the
	// source cannot tell.
	Targets func(ctx context.Context) ([]Target, error)
}

// Target is one source table and the shape the sink receives for it.
type Target struct {
	Source change.TableID
	Table  *change.Table
}

// Source is a source kind.
type Source struct {
	config.Kind
	// Open connects the log reader (not yet reading). The source may also
	// be a pipeline.Snapshotter, PartSource, LogReporter, Describer, and a
	// Checker or Tearer.
	Open func(ctx context.Context, e Env) (pipeline.Source, error)
	// SnapshotWorkers is the configured number of parallel snapshot readers.
	SnapshotWorkers func(c *config.Config) int
	// Slot names what the source server keeps for the pipeline, for status
	// ("" when nothing).
	Slot func(c *config.Config) string
	// Classify marks the kind's own server errors as transient or not
	// (errkind.Mark), by code; nil when its errors carry their verdict.
	Classify func(err error) error
}

// Checker is a source that lists its problems with their fixes.
type Checker interface {
	Check(ctx context.Context) []string
}

// Tearer is a source that keeps something on its server for the pipeline
// (a slot, a publication) and can drop it: it returns what it dropped, or
// with dryRun what it would drop.
type Tearer interface {
	Teardown(ctx context.Context, dryRun bool) ([]string, error)
}

// Sink is a sink kind.
type Sink struct {
	config.Kind
	// Open connects to the target. The sink may also be a pipeline.Loader,
	// PositionKeeper, PartSink, Durability.
	Open func(ctx context.Context, e Env) (pipeline.Sink, error)
	// Check lists the target's problems with their fixes (reachability,
	// rights, names it cannot hold).
	Check func(ctx context.Context, e Env) []string
	// Ping tells whether the target can be reached now (for /readyz); nil
	// when there is nothing to reach.
	Ping func(ctx context.Context, e Env) error
	// Teardown drops what the sink keeps for the pipeline besides the data
	// (its applied position, a producer's state) and returns what it
	// dropped, or with dryRun what it would drop; nil when nothing.
	Teardown func(ctx context.Context, e Env, dryRun bool) ([]string, error)
	// DefaultSchema is the schema (database) tables go into when neither
	// sink.schema nor a transform names one, and the key that says so
	// (e.g. the database in a MySQL DSN); nil: each table keeps its own.
	DefaultSchema func(c *config.Config) (schema, key string)
	// Classify marks the kind's own server errors as transient or not
	// (errkind.Mark), by code; nil when its errors carry their verdict.
	Classify func(err error) error
}

// TargetSchema is the schema every table goes into unless a transform names
// one, and the config key that says so: sink.schema, else the kind's
// default; "" keeps each table's own schema.
func (s Sink) TargetSchema(c *config.Config) (schema, key string) {
	return TargetSchema(c, s.DefaultSchema)
}

// SplitSchema is SplitSchema with the kind's default schema.
func (s Sink) SplitSchema(c *config.Config) (sink, transforms string) {
	return SplitSchema(c, s.DefaultSchema)
}

// TargetSchema is the schema every table goes into unless a transform names
// one, and the config key that says so: sink.schema, else def's (nil: none).
func TargetSchema(c *config.Config, def func(*config.Config) (string, string)) (schema, key string) {
	if c.Sink.Schema != "" {
		return c.Sink.Schema, "sink.schema"
	}
	if def != nil {
		return def(c)
	}
	return "", ""
}

// SplitSchema says who applies the target schema: the sink, unless a
// transform names a target schema; then the transforms apply it to every
// other table, so that the rule's schema wins.
func SplitSchema(c *config.Config, def func(*config.Config) (string, string)) (sink, transforms string) {
	schema, _ := TargetSchema(c, def)
	for _, t := range c.Transforms {
		if t.Target.Schema != "" {
			return "", schema
		}
	}
	return schema, ""
}

// Registry holds the kinds a program supports.
type Registry struct {
	sources []Source
	sinks   []Sink
}

// New makes a registry of kinds: Source and Sink values.
func New(kinds ...any) *Registry {
	r := &Registry{}
	for _, k := range kinds {
		switch k := k.(type) {
		case Source:
			k.Role = "source"
			r.sources = append(r.sources, k)
		case Sink:
			k.Role = "sink"
			r.sinks = append(r.sinks, k)
		default:
			panic(fmt.Sprintf("connector.New: %T is neither a Source nor a Sink", k)) // a programming error
		}
	}
	return r
}

// Kinds are the kinds' settings, for config.Load.
func (r *Registry) Kinds() []config.Kind {
	var out []config.Kind
	for _, s := range r.sources {
		out = append(out, s.Kind)
	}
	for _, s := range r.sinks {
		out = append(out, s.Kind)
	}
	return out
}

// Load reads a config file knowing the registry's kinds.
func (r *Registry) Load(path string) (*config.Config, error) { return config.Load(path, r.Kinds()...) }

// Classify lets every kind mark the server errors it knows in err (each
// looks only at its own driver's errors, and the first verdict stays), so
// that the caller asks errkind.Transient and knows no codes.
func (r *Registry) Classify(err error) error {
	for _, s := range r.sources {
		if s.Classify != nil {
			err = s.Classify(err)
		}
	}
	for _, s := range r.sinks {
		if s.Classify != nil {
			err = s.Classify(err)
		}
	}
	return err
}

// Source returns the source kind the config names.
func (r *Registry) Source(c *config.Config) (Source, error) {
	for _, s := range r.sources {
		if s.Name == c.Source.Kind {
			return s, nil
		}
	}
	return Source{}, fmt.Errorf("source.kind: %q is not supported (supported: %s)", c.Source.Kind, names(r.sources))
}

// Sink returns the sink kind the config names.
func (r *Registry) Sink(c *config.Config) (Sink, error) {
	for _, s := range r.sinks {
		if s.Name == c.Sink.Kind {
			return s, nil
		}
	}
	return Sink{}, fmt.Errorf("sink.kind: %q is not supported (supported: %s)", c.Sink.Kind, names(r.sinks))
}

func names[K interface{ Source | Sink }](ks []K) string {
	var out []string
	for _, k := range ks {
		switch k := any(k).(type) {
		case Source:
			out = append(out, k.Name)
		case Sink:
			out = append(out, k.Name)
		}
	}
	return strings.Join(slices.Compact(out), ", ")
}
