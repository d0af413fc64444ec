package config

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"

	"github.com/sluicecdc/sluice/pkg/transform/where"
)

// Transform is one entry of the optional top-level transforms list. Rules
// apply in order; a table may match several. They are read from the file
// only (no SLUICE_* override). What a rule needs of a table's columns is
// checked when the table's shape is first seen (pkg/transform).
type Transform struct {
	Tables  []string         // schema.table patterns, as source.tables; required
	Columns TransformColumns // which columns to keep and how to name them
	Target  TransformTarget  // the target table name; empty parts keep the source's
	Where   string           // row filter (github.com/expr-lang/expr); "" keeps every row
}

// TransformColumns selects and renames columns. Include and Exclude are
// exclusive; key columns must stay.
type TransformColumns struct {
	Include []string
	Exclude []string
	Rename  map[string]string // source column name → target column name
}

// TransformTarget maps the matched source table to another target name.
type TransformTarget struct {
	Schema string
	Table  string
}

// maxName is the longest target name accepted: PostgreSQL's limit (MySQL's is 64).
const maxName = 63

// takeTransforms removes the transforms key from a parsed document and
// reads it. The key is case-insensitive like every other.
func takeTransforms(root map[string]any, env func(string) (string, bool), p *problems) []Transform {
	var raw any
	found := false
	for _, k := range sortedKeys(root) {
		if strings.ToLower(k) != "transforms" {
			continue
		}
		if found {
			p.add("transforms: given twice (keys are not case-sensitive)")
		}
		raw, found = root[k], true
		delete(root, k)
	}
	if raw == nil {
		return nil
	}
	list, ok := raw.([]any)
	if !ok {
		p.addf("transforms: must be a list of rules, not %s (e.g. - {tables: [public.customers], where: \"country == 'NL'\"})", describe("transforms", raw))
		return nil
	}
	out := make([]Transform, 0, len(list))
	for i, item := range list {
		out = append(out, readTransform(fmt.Sprintf("transforms[%d]", i), item, env, p))
	}
	return out
}

// fields reads a mapping with the given known keys (case-insensitive),
// reporting unknown ones; it returns the values by lower-cased key.
func fields(key string, v any, known []string, p *problems) map[string]any {
	m, ok := asMap(v)
	if !ok {
		p.addf("%s: must be a mapping, not %s (known keys: %s)", key, describe(key, v), strings.Join(known, ", "))
		return nil
	}
	out := map[string]any{}
	for _, k := range sortedKeys(m) {
		lk := strings.ToLower(k)
		switch {
		case !slices.Contains(known, lk):
			p.addf("unknown key %q (known keys under %s: %s)", key+"."+k, key, strings.Join(known, ", "))
		case out[lk] != nil:
			p.addf("%s.%s: given twice (keys are not case-sensitive)", key, lk)
		case m[k] != nil:
			out[lk] = m[k]
		}
	}
	return out
}

func readTransform(key string, v any, env func(string) (string, bool), p *problems) Transform {
	var t Transform
	f := fields(key, v, []string{"tables", "columns", "target", "where"}, p)
	if f == nil {
		return t
	}
	t.Tables = textList(key+".tables", f["tables"], env, p)
	t.Where = text(key+".where", f["where"], env, p)
	if c, ok := f["columns"]; ok {
		ck := key + ".columns"
		if cf := fields(ck, c, []string{"include", "exclude", "rename"}, p); cf != nil {
			t.Columns.Include = textList(ck+".include", cf["include"], env, p)
			t.Columns.Exclude = textList(ck+".exclude", cf["exclude"], env, p)
			t.Columns.Rename = textMap(ck+".rename", cf["rename"], env, p)
		}
	}
	if tg, ok := f["target"]; ok {
		tk := key + ".target"
		if tf := fields(tk, tg, []string{"schema", "table"}, p); tf != nil {
			t.Target.Schema = text(tk+".schema", tf["schema"], env, p)
			t.Target.Table = text(tk+".table", tf["table"], env, p)
		}
	}
	return t
}

// text reads one text value, ${VAR} expanded.
func text(key string, v any, env func(string) (string, bool), p *problems) string {
	if v == nil {
		return ""
	}
	s, ok := v.(string)
	if !ok {
		p.addf("%s: must be text, not %s", key, describe(key, v))
		return ""
	}
	out, err := expand(s, env, true)
	if err != nil {
		p.addf("%s: %v", key, err)
	}
	return out
}

// textList reads a list of names; a single name is taken as a list of one.
func textList(key string, v any, env func(string) (string, bool), p *problems) []string {
	switch x := v.(type) {
	case nil:
		return nil
	case string:
		return []string{text(key, x, env, p)}
	case []any:
		out := make([]string, 0, len(x))
		for i, e := range x {
			out = append(out, text(fmt.Sprintf("%s[%d]", key, i), e, env, p))
		}
		return out
	}
	p.addf("%s: must be a list of names, not %s (e.g. [id, name])", key, describe(key, v))
	return nil
}

// textMap reads a mapping of names to names; keys keep their case (column
// names are case-sensitive in PostgreSQL).
func textMap(key string, v any, env func(string) (string, bool), p *problems) map[string]string {
	if v == nil {
		return nil
	}
	m, ok := asMap(v)
	if !ok {
		p.addf("%s: must be a mapping of old name to new name, not %s (e.g. {phone_1: phone})", key, describe(key, v))
		return nil
	}
	out := make(map[string]string, len(m))
	for _, k := range sortedKeys(m) {
		out[k] = text(key+"."+k, m[k], env, p)
	}
	return out
}

// validateTransforms reports what can be known about the rules without
// seeing the tables.
func validateTransforms(ts []Transform, p *problems) {
	for i, t := range ts {
		key := fmt.Sprintf("transforms[%d]", i)
		if len(t.Tables) == 0 {
			p.addf("%s.tables: required (the schema.table patterns the rule applies to, as in source.tables, e.g. [public.customers])", key)
		}
		checkPatterns(key+".tables", t.Tables, p)
		validateColumns(key+".columns", &t.Columns, p)
		validateTarget(key+".target", t, p)
		if t.Where != "" {
			if _, err := where.Compile(t.Where); err != nil {
				p.addf("%s.where: %v", key, err)
			}
		}
	}
}

func validateColumns(key string, c *TransformColumns, p *problems) {
	if len(c.Include) > 0 && len(c.Exclude) > 0 {
		p.addf("%s: include and exclude are both set (use one: include lists the columns to keep, exclude the columns to drop)", key)
	}
	for _, l := range []struct {
		name string
		list []string
	}{{"include", c.Include}, {"exclude", c.Exclude}} {
		seen := map[string]bool{}
		for _, n := range l.list {
			switch {
			case n == "":
				p.addf("%s.%s: has an empty column name (list column names, e.g. [id, name])", key, l.name)
			case seen[n]:
				p.addf("%s.%s: lists %q twice (list each column once)", key, l.name, n)
			}
			seen[n] = true
		}
	}
	olds := make([]string, 0, len(c.Rename))
	for old := range c.Rename {
		olds = append(olds, old)
	}
	sort.Strings(olds)
	byNew := map[string]string{}
	for _, old := range olds {
		nw := c.Rename[old]
		switch {
		case nw == "":
			p.addf("%s.rename.%s: the new name is empty (e.g. {phone_1: phone})", key, old)
			continue
		case len(nw) > maxName:
			p.addf("%s.rename.%s: %q is longer than %d bytes, too long for a column name", key, old, nw, maxName)
		case slices.Contains(c.Exclude, old):
			p.addf("%s.rename.%s: the column is also excluded (drop it from exclude or from rename)", key, old)
		case len(c.Include) > 0 && !slices.Contains(c.Include, old):
			p.addf("%s.rename.%s: the column is not in include, so there is nothing to rename (add it to include or drop the rename)", key, old)
		}
		if first, dup := byNew[nw]; dup {
			p.addf("%s.rename: %s and %s are both renamed to %q (give each its own name)", key, first, old, nw)
		}
		byNew[nw] = old
	}
}

func validateTarget(key string, t Transform, p *problems) {
	for _, n := range []struct{ part, val string }{{"schema", t.Target.Schema}, {"table", t.Target.Table}} {
		if len(n.val) > maxName {
			p.addf("%s.%s: %q is longer than %d bytes, too long for a name", key, n.part, n.val, maxName)
		}
	}
	if t.Target.Table == "" {
		return
	}
	if len(t.Tables) > 1 || len(t.Tables) == 1 && strings.ContainsAny(t.Tables[0], "*?[") {
		p.addf("%s.table: every table the rule matches would go to one target table, but tables can match several (list exactly one table, without * or ?, in this rule's tables)", key)
	}
}

// cloneTransforms deep-copies rules (for Config.Redacted).
func cloneTransforms(ts []Transform) []Transform {
	if ts == nil {
		return nil
	}
	out := make([]Transform, len(ts))
	for i, t := range ts {
		out[i] = t
		out[i].Tables = slices.Clone(t.Tables)
		out[i].Columns.Include = slices.Clone(t.Columns.Include)
		out[i].Columns.Exclude = slices.Clone(t.Columns.Exclude)
		out[i].Columns.Rename = maps.Clone(t.Columns.Rename)
	}
	return out
}
