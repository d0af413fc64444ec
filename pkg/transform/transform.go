// Package transform applies the `transforms:` rules of the config between
// the source and the sink: it maps tables to other target names, keeps,
// drops and renames columns, and filters rows, the same way for snapshot
// rows and streamed changes, so that the target equals the filtered source.
//
// Wrap puts a compiled Set around a pipeline.Source. Each source table
// shape (*change.Table) becomes one transformed shape, cached, so sinks that
// cache per *change.Table see stable pointers; a table no rule touches
// passes through as the same pointer.
//
// Rules apply in order. Their tables patterns match the source table name;
// column names in a rule (include, exclude, rename, where) are the names
// the columns have when the rule runs: the source names, unless an earlier
// rule renamed them. Within a rule, where sees the row before the rule's
// own include/exclude/rename, so it can test a column the rule drops.
package transform

import (
	"fmt"
	"sync"

	"github.com/sluicecdc/sluice/pkg/change"
	"github.com/sluicecdc/sluice/pkg/config"
	"github.com/sluicecdc/sluice/pkg/transform/where"
)

// Options are settings of a Set that do not come from the rules.
type Options struct {
	// Schema is the target schema of every table that no rule gives one
	// (the CLI passes sink.schema here, and not to the sink, when a rule
	// sets target.schema, so that the rule wins). "" keeps the source schema.
	Schema string
	// SinkSchema is the schema the sink puts every table into (sink.schema,
	// when no rule sets target.schema). The Set does not rename tables for
	// it, but checks the names they end up with: two source tables that
	// would land in one target table are refused, however they got there.
	SinkSchema string
	// SchemaKey is the config key Schema or SinkSchema comes from, for the
	// message that refuses two tables into one: "sink.schema", or
	// "sink.dsn" when it is the database a MySQL sink's DSN names.
	SchemaKey string
	// SpillDir is where transformed transactions spill beyond
	// change.DefaultSpillLimit bytes ("" = os.TempDir), as the source's do.
	SpillDir string
	// LogValues lets errors quote a row's key values (log.values);
	// otherwise they name the key columns only.
	LogValues bool
}

// Set is a compiled list of rules. Safe for concurrent use.
type Set struct {
	rules []rule
	opts  Options

	mu      sync.Mutex
	last    map[change.TableID]*shape   // the newest shape per source table
	targets map[change.TableID]claimant // target table → the source table going there
}

type rule struct {
	at     string // "transforms[N]", for messages
	tables []string
	cols   config.TransformColumns
	target config.TransformTarget
	where  *where.Expr // nil: every row
}

// Compile checks and compiles the rules (the config has validated them
// already; Compile repeats what it needs, so it also stands alone).
func Compile(rules []config.Transform, opts Options) (*Set, error) {
	s := &Set{opts: opts, last: map[change.TableID]*shape{}, targets: map[change.TableID]claimant{}}
	for i, r := range rules {
		at := fmt.Sprintf("transforms[%d]", i)
		if len(r.Tables) == 0 {
			return nil, fmt.Errorf("%s.tables: required (the schema.table patterns the rule applies to, e.g. [public.customers])", at)
		}
		if len(r.Columns.Include) > 0 && len(r.Columns.Exclude) > 0 {
			return nil, fmt.Errorf("%s.columns: include and exclude are both set (use one)", at)
		}
		cr := rule{at: at, tables: r.Tables, cols: r.Columns, target: r.Target}
		if r.Where != "" {
			e, err := where.Compile(r.Where)
			if err != nil {
				return nil, fmt.Errorf("%s.where: %w", at, err)
			}
			cr.where = e
		}
		s.rules = append(s.rules, cr)
	}
	return s, nil
}

// Table returns the transformed shape of source table t (t itself when
// nothing changes it). The error names the rule, the table and the fix.
func (s *Set) Table(t *change.Table) (*change.Table, error) {
	sh, err := s.shape(t)
	if err != nil {
		return nil, err
	}
	return sh.out, nil
}

// shape returns the cached transformation of t, building it the first time
// the shape is seen. A new pointer with the same shape as the last one of
// its table reuses it, so the target shape keeps its pointer.
func (s *Set) shape(t *change.Table) (*shape, error) {
	if t == nil {
		return nil, fmt.Errorf("transform: a change without a table")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if sh := s.last[t.ID]; sh != nil && (sh.src == t || sh.src.SameShape(t)) {
		return sh, nil
	}
	sh, err := s.build(t)
	if err != nil {
		return nil, err
	}
	if err := s.claim(s.targets, sh); err != nil {
		return nil, err
	}
	s.last[t.ID] = sh
	return sh, nil
}

// claimant is the source table going into a target table.
type claimant struct {
	src      change.TableID
	bySchema bool // its target schema is Schema or SinkSchema, not a rule's
}

// claim records in targets that sh's source table goes into its final
// target table (with SinkSchema applied), and refuses a target another
// source table goes into already: their rows, deletes and truncates would
// mix in one table.
func (s *Set) claim(targets map[change.TableID]claimant, sh *shape) error {
	out := sh.out.ID
	if s.opts.SinkSchema != "" {
		out.Schema = s.opts.SinkSchema
	}
	c := claimant{src: sh.src.ID, bySchema: sh.bySchema}
	prev, ok := targets[out]
	if !ok || prev.src == c.src {
		targets[out] = c
		return nil
	}
	if (prev.bySchema || c.bySchema) && prev.src.Schema != c.src.Schema {
		key := "sink.schema"
		why := fmt.Sprintf("sink.schema puts every table into %s", out.Schema)
		undo := "remove sink.schema so each table keeps its schema"
		if s.opts.SchemaKey == "sink.dsn" {
			key = "sink.dsn"
			why = fmt.Sprintf("the database sink.dsn names (%s) is every table's target database", out.Schema)
			undo = "remove the database from sink.dsn (mysql://user@host:3306/) so each table keeps its schema"
		}
		return fmt.Errorf("%s: %s and %s would both be replicated into %s, mixing their rows, deletes and truncates, as %s; "+
			"%s, select the tables of one schema in source.tables, or give one of them its own target with a transform (target.schema or target.table)",
			key, prev.src, c.src, out, why, undo)
	}
	return fmt.Errorf("transforms: %s and %s would both be replicated into %s (give them different target names)", prev.src, c.src, out)
}
