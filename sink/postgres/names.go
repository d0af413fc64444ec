package postgres

import (
	"fmt"
	"hash/fnv"
	"strings"
	"unicode/utf8"

	"github.com/sluicecdc/sluice/pkg/change"
)

// maxName is PostgreSQL's limit on identifiers, in bytes (NAMEDATALEN-1).
// A longer name is cut to it with only a NOTICE, so two source tables or
// columns (MySQL allows 64 characters, up to 256 bytes) can silently
// become one target table or column: such names are refused instead.
const maxName = 63

// NameProblems lists the names of table t (as the sink receives it, after
// the transforms) that PostgreSQL would cut, each with the transform that
// fixes it: the target schema (schema, or t's own when ""), the table and
// its columns. src is the source table, which the fix's rule must name.
// sluice check reports them, and the sink stops with them before it
// writes anything to the table.
func NameProblems(src change.TableID, t *change.Table, schema string) []string {
	target := t.ID
	if schema != "" {
		target.Schema = schema
	}
	var problems []string
	cut := func(what, name string) string {
		return fmt.Sprintf("%s %q is %d bytes, but PostgreSQL cuts names to %d (so two names could become one)", what, name, len(name), maxName)
	}
	if len(target.Schema) > maxName {
		problems = append(problems, fmt.Sprintf("target table %s: %s; set sink.schema to a shorter name, or add a transform: transforms: [{tables: [%q], target: {schema: %q}}]",
			target, cut("schema", target.Schema), src.String(), shortName(target.Schema)))
	}
	if len(target.Name) > maxName {
		problems = append(problems, fmt.Sprintf("target table %s: %s; add a transform: transforms: [{tables: [%q], target: {table: %q}}]",
			target, cut("table name", target.Name), src.String(), shortName(target.Name)))
	}
	for _, c := range t.Columns {
		if len(c.Name) > maxName {
			problems = append(problems, fmt.Sprintf("target table %s: %s; add a transform: transforms: [{tables: [%q], columns: {rename: {%q: %q}}}]",
				target, cut("column", c.Name), src.String(), c.Name, shortName(c.Name)))
		}
	}
	return problems
}

// checkNames is NameProblems as one error, for the running sink.
func (s *Sink) checkNames(t *change.Table) error {
	if p := NameProblems(t.ID, t, s.opts.Schema); len(p) > 0 {
		return fmt.Errorf("%s", strings.Join(p, "; and "))
	}
	return nil
}

// shortName proposes a name that fits: the start of name, cut at a
// character boundary, and a hash of all of it, so two long names sharing
// their start get different proposals.
func shortName(name string) string {
	h := fnv.New32a()
	h.Write([]byte(name))
	return fmt.Sprintf("%s_%08x", prefixBytes(name, maxName-9), h.Sum32())
}

// prefixBytes is at most n bytes of s, never cutting a UTF-8 character.
func prefixBytes(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
