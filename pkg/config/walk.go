package config

import (
	"fmt"
	"sort"
	"strings"
)

// walk checks a decoded YAML mapping against s, reporting unknown keys and
// mappings where a value belongs (or the reverse), and expands ${VAR} in
// every string value of a known key. It returns the cleaned tree: only known
// keys, lower-cased, nil values dropped.
func walk(m map[string]any, s *section, env func(string) (string, bool), p *problems) map[string]any {
	out := map[string]any{}
	seen := map[string]bool{}
	for _, k := range sortedKeys(m) {
		lk := strings.ToLower(k)
		key := join(s.path, lk)
		child, known := s.children[lk]
		switch {
		case !known && s.path == "" && notYet[lk]:
			p.addf("key %q is not supported yet (remove it; %s)", key, s.knownList())
			continue
		case !known:
			p.addf("unknown key %q (%s)", key, s.knownList())
			continue
		case seen[lk]:
			p.addf("%s: given twice (keys are not case-sensitive)", key)
			continue
		}
		seen[lk] = true
		v := m[k]
		if v == nil {
			continue // "key:" with no value is the same as leaving it out
		}
		if child == nil {
			out[lk] = expandValue(key, v, env, p)
			continue
		}
		sub, ok := asMap(v)
		if !ok {
			p.addf("%s: must be a mapping, not %s (%s)", key, describe(key, v), child.knownList())
			for _, l := range p.keys.leaves {
				if strings.HasPrefix(l.key, key+".") {
					p.bad[l.key] = true
				}
			}
			continue
		}
		out[lk] = walk(sub, child, env, p)
	}
	return out
}

func (s *section) knownList() string {
	if s.path == "" {
		return "known top-level keys: " + strings.Join(s.names, ", ")
	}
	return "known keys under " + s.path + ": " + strings.Join(s.names, ", ")
}

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// asMap accepts both map shapes a YAML decoder produces.
func asMap(v any) (map[string]any, bool) {
	switch m := v.(type) {
	case map[string]any:
		return m, true
	case map[any]any:
		out := make(map[string]any, len(m))
		for k, x := range m {
			out[fmt.Sprint(k)] = x
		}
		return out, true
	}
	return nil, false
}

func expandValue(key string, v any, env func(string) (string, bool), p *problems) any {
	switch x := v.(type) {
	case string:
		s, err := expand(x, env, !secret(key))
		if err != nil {
			p.addf("%s: %v", key, err)
			p.bad[key] = true
		}
		return s
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = e
			if s, ok := e.(string); ok {
				var err error
				if out[i], err = expand(s, env, !secret(key)); err != nil {
					p.addf("%s[%d]: %v", key, i, err)
					p.bad[key] = true
				}
			}
		}
		return out
	}
	return v
}
