package config

import (
	"errors"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// envOf is an environment holding exactly the given NAME, value pairs.
func envOf(kv ...string) func(string) (string, bool) {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(name string) (string, bool) {
		v, ok := m[name]
		return v, ok
	}
}

// del removes a key in doc.
type deleteKey struct{}

var del deleteKey

// doc is a minimal valid config with the given dotted keys set (or, with
// del, removed), as YAML.
func doc(t *testing.T, sets ...any) []byte {
	t.Helper()
	m := map[string]any{
		"name":   "crm-to-dwh",
		"source": map[string]any{"kind": "postgres", "dsn": "postgres://replicator@db:5432/crm"},
		"sink":   map[string]any{"kind": "postgres", "dsn": "postgres://app@dwh:5432/dwh"},
	}
	for i := 0; i+1 < len(sets); i += 2 {
		path := strings.Split(sets[i].(string), ".")
		node := m
		for _, p := range path[:len(path)-1] {
			next, ok := node[p].(map[string]any)
			if !ok {
				next = map[string]any{}
				node[p] = next
			}
			node = next
		}
		if sets[i+1] == del {
			delete(node, path[len(path)-1])
		} else {
			node[path[len(path)-1]] = sets[i+1]
		}
	}
	out, err := yaml.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// problemsOf returns the problem lines of a Parse/Load error, failing the
// test if err is not a *Error.
func problemsOf(t *testing.T, err error) []string {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error = %v (%T), want *config.Error", err, err)
	}
	return e.Problems
}

// findProblem returns the problem line that starts with prefix and contains
// every one of has, or fails the test listing all problems.
func findProblem(t *testing.T, err error, prefix string, has ...string) string {
	t.Helper()
	list := problemsOf(t, err)
next:
	for _, line := range list {
		if !strings.HasPrefix(line, prefix) {
			continue
		}
		for _, h := range has {
			if !strings.Contains(line, h) {
				continue next
			}
		}
		return line
	}
	t.Fatalf("no problem starting with %q containing %q among:\n%s", prefix, has, strings.Join(list, "\n"))
	return ""
}
