// Package mode holds what the SQL sinks share about how changes are
// written: the sink modes (merge, history, append), the columns each mode and
// each metadata option adds to a target table, and the values of those
// columns for every change and snapshot row. The dialect's SQL stays in the
// sinks.
package mode

import (
	"fmt"
	"regexp"
	"strings"
)

// Mode is how a sink writes changes into a target table.
type Mode uint8

const (
	Merge   Mode = iota // the target mirrors the source: upsert and delete by key
	History             // every version of every row, valid from/to (slowly changing dimension type 2)
	Append              // one row per change, in commit order (an audit log)
)

func (m Mode) String() string {
	switch m {
	case Merge:
		return "merge"
	case History:
		return "history"
	case Append:
		return "append"
	}
	return fmt.Sprintf("mode(%d)", uint8(m))
}

// Parse reads a mode's name.
func Parse(s string) (Mode, error) {
	switch s {
	case "merge", "":
		return Merge, nil
	case "history":
		return History, nil
	case "append":
		return Append, nil
	}
	return 0, fmt.Errorf("sink.mode: %q is not a known mode (use merge, history or append)", s)
}

// Names of the columns the history and append modes add.
const (
	ValidFrom   = "_valid_from"
	ValidTo     = "_valid_to"
	Current     = "_current"
	OpColumn    = "_op"
	Position    = "_source_position"
	ChangeIndex = "_change_index"
	Seq         = "_seq"
	CommitTime  = "_commit_time"
	TxID        = "_txid"
	Before      = "_before"
	After       = "_after"
)

// Defaults of the configurable column names.
const (
	DefaultDeletedAt  = "_deleted_at"
	DefaultSourceCode = "_source"
	DefaultPosition   = "_source_position"
	DefaultCommitTime = "_source_commit_time"
	DefaultSyncedAt   = "_synced_at"
)

// Options say how a sink writes: its mode and the optional columns.
// An empty column name turns its column off.
type Options struct {
	Mode Mode
	// SoftDelete (merge only) is the column a delete sets to the source
	// commit time instead of removing the row; a later insert or update of
	// the key sets it back to NULL.
	SoftDelete       string
	SourceCode       string // the value of the SourceCodeColumn column: names the source system
	SourceCodeColumn string
	PositionColumn   string // the source position of the change's transaction (text)
	CommitTimeColumn string // the source commit time
	SyncedAtColumn   string // when the target wrote the row, by the target's clock
}

// Kind is what a mode column holds.
type Kind uint8

const (
	KindSourceCode  Kind = iota + 1 // text: Options.SourceCode
	KindPosition                    // text: the commit position of the change's transaction
	KindCommitTime                  // timestamp: the source commit time
	KindSyncedAt                    // timestamp the target sets when it writes the row
	KindDeletedAt                   // timestamp: NULL, or when the row was deleted at the source
	KindValidFrom                   // timestamp: the commit time that made this version
	KindValidTo                     // timestamp: the commit time that ended it; NULL while current
	KindCurrent                     // boolean: the row's current version
	KindOp                          // short text: insert, update, delete, truncate or snapshot
	KindChangeIndex                 // integer: the change's index within its transaction
	KindTxID                        // text: the source transaction id
	KindBefore                      // JSON: the old row
	KindAfter                       // JSON: the new row
	KindSeq                         // integer the target assigns, ascending in write order
)

// Managed tells whether the target fills the column itself: rows carry no
// value for it.
func (k Kind) Managed() bool { return k == KindSyncedAt || k == KindSeq }

// Column is a column a mode or a metadata option adds.
type Column struct {
	Name string
	Kind Kind
	Key  string // the configuration key that names it; "" for a mode's own column
}

// Columns lists the columns o adds to every target table, in table order:
// the mode's own, then the metadata columns. A metadata column named like a
// mode column of the same kind is that column (e.g. the position column in
// history and append modes).
func (o *Options) Columns() []Column {
	var cols []Column
	switch o.Mode {
	case Merge:
		if o.SoftDelete != "" {
			cols = append(cols, Column{o.SoftDelete, KindDeletedAt, "sink.soft_delete_column"})
		}
	case History:
		cols = append(cols, Column{ValidFrom, KindValidFrom, ""}, Column{ValidTo, KindValidTo, ""},
			Column{Current, KindCurrent, ""}, Column{OpColumn, KindOp, ""},
			Column{Position, KindPosition, ""}, Column{ChangeIndex, KindChangeIndex, ""}, Column{Seq, KindSeq, ""})
	case Append:
		cols = append(cols, Column{Seq, KindSeq, ""}, Column{OpColumn, KindOp, ""},
			Column{CommitTime, KindCommitTime, ""}, Column{TxID, KindTxID, ""},
			Column{Position, KindPosition, ""}, Column{ChangeIndex, KindChangeIndex, ""},
			Column{Before, KindBefore, ""}, Column{After, KindAfter, ""})
	}
	for _, m := range o.metadata() {
		if !containsColumn(cols, m) {
			cols = append(cols, m)
		}
	}
	return cols
}

func (o *Options) metadata() []Column {
	var cols []Column
	if o.SourceCode != "" || o.SourceCodeColumn != "" {
		cols = append(cols, Column{o.SourceCodeColumn, KindSourceCode, "sink.metadata.source_code.column"})
	}
	for _, m := range []Column{
		{o.PositionColumn, KindPosition, "sink.metadata.position.column"},
		{o.CommitTimeColumn, KindCommitTime, "sink.metadata.commit_time.column"},
		{o.SyncedAtColumn, KindSyncedAt, "sink.metadata.synced_at.column"},
	} {
		if m.Name != "" {
			cols = append(cols, m)
		}
	}
	return cols
}

func containsColumn(cols []Column, c Column) bool {
	for _, x := range cols {
		if x.Kind == c.Kind && x.Name == c.Name {
			return true
		}
	}
	return false
}

// nameRE is what a configured column name may be: safe to quote in either
// dialect and within both engines' length limits.
var nameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_$]{0,62}$`)

// Validate reports every problem of o, each naming its configuration key and
// the fix.
func (o *Options) Validate() []string {
	var problems []string
	if o.SoftDelete != "" && o.Mode != Merge {
		problems = append(problems, fmt.Sprintf("sink.soft_delete: only merge mode deletes rows; sink.mode %s keeps every change anyway (remove sink.soft_delete, or use sink.mode merge)", o.Mode))
	}
	if o.SourceCodeColumn != "" && o.SourceCode == "" {
		problems = append(problems, "sink.metadata.source_code.value: required when sink.metadata.source_code is set (a short name of the source system, e.g. crm)")
	}
	if len(o.SourceCode) > 255 || strings.ContainsRune(o.SourceCode, 0) {
		problems = append(problems, "sink.metadata.source_code.value: must be at most 255 bytes, without NUL characters (e.g. crm)")
	}
	seen := map[string]Column{}
	for _, c := range o.Columns() {
		if c.Key == "" { // the mode's own columns are fine; only configured ones can clash
			seen[strings.ToLower(c.Name)] = c
			continue
		}
		if !nameRE.MatchString(c.Name) {
			problems = append(problems, fmt.Sprintf("%s: %q must be 1-63 letters, digits, '_' or '$', not starting with a digit (e.g. %s)", c.Key, c.Name, defaultName(c.Kind)))
			continue
		}
		prev, dup := seen[strings.ToLower(c.Name)]
		switch {
		case !dup:
			seen[strings.ToLower(c.Name)] = c
		case prev.Key == "":
			problems = append(problems, fmt.Sprintf("%s: %q is a column sink.mode %s adds itself; choose another name", c.Key, c.Name, o.Mode))
		default:
			problems = append(problems, fmt.Sprintf("%s: %q is also the name of %s; give each column its own name", c.Key, c.Name, prev.Key))
		}
	}
	return problems
}

func defaultName(k Kind) string {
	switch k {
	case KindDeletedAt:
		return DefaultDeletedAt
	case KindSourceCode:
		return DefaultSourceCode
	case KindPosition:
		return DefaultPosition
	case KindCommitTime:
		return DefaultCommitTime
	}
	return DefaultSyncedAt
}

// NeedsCommit tells whether rows need their transaction's commit position
// or time. Then a large transaction cannot be applied in parts while it
// runs (the parts arrive before the commit is known): the sink must not be
// a pipeline.PartSink.
func (o *Options) NeedsCommit() bool {
	return o.Mode != Merge || o.SoftDelete != "" || o.PositionColumn != "" || o.CommitTimeColumn != ""
}

// Detect tells which mode made an existing target table, from its column
// names: history and append tables have columns of their own.
func Detect(has func(name string) bool) Mode {
	switch {
	case has(ValidFrom) && has(Current):
		return History
	case has(Before) && has(After) && has(ChangeIndex):
		return Append
	}
	return Merge
}

// CheckExisting returns an error when an existing target table was made by
// another mode than the configured one.
func (o *Options) CheckExisting(table string, has func(name string) bool) error {
	got := Detect(has)
	if got == o.Mode {
		return nil
	}
	return fmt.Errorf("target table %s was written in sink.mode %s (%s), but sink.mode is %s; drop or rename that table, point sink.schema elsewhere, or set sink.mode back to %s",
		table, got, signature(got), o.Mode, got)
}

func signature(m Mode) string {
	switch m {
	case History:
		return "it has columns " + ValidFrom + " and " + Current
	case Append:
		return "it has columns " + Before + ", " + After + " and " + ChangeIndex
	}
	return "it lacks the mode's columns"
}
