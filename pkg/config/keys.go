package config

import (
	"reflect"
	"strings"
	"time"
)

// kind is what a leaf key holds. It follows from the Go type of its field.
type kind int

const (
	kString   kind = iota
	kList          // []string; a string is a comma-separated list
	kInt           // int
	kUint32        // uint32
	kSize          // int64 byte count; also "64MiB", "16MB", "512KiB"
	kDuration      // time.Duration written with a unit: "500ms", "2s"
	kBool          // bool; also the text "true" or "false" (from an override)
)

// leaf is one settable key, e.g. "sink.batch.rows".
type leaf struct {
	key     string
	kind    kind
	example string // a valid value, for messages
}

// section is a mapping key with known children, e.g. "source.postgres".
type section struct {
	path     string              // "" for the top level
	names    []string            // child names in struct order
	children map[string]*section // nil entry: the child is a leaf
}

// keySet is every key one parse knows: the Config struct's, and the
// settings sections of the kinds it was given (see Kind). It is derived
// from the structs, so a new field is a new key everywhere: unknown-key
// check, env override, type check, String.
type keySet struct {
	root   *section
	leaves []leaf
	kinds  []Kind
}

// builtin are the Config struct's own keys.
var builtin = newKeySet(nil)

// notYet are top-level keys the design describes but this version does not
// implement; they get a clearer message than "unknown key".
var notYet = map[string]bool{}

// examples give the fix in type and "required" messages; every key has one.
var examples = map[string]string{
	"name":                             "crm-to-dwh",
	"source.kind":                      "postgres",
	"source.dsn":                       "postgres://replicator:${PGPASSWORD}@db:5432/crm",
	"source.tables":                    "[public.*]",
	"source.exclude":                   "[public.audit_*]",
	"source.snapshot":                  "initial",
	"source.snapshot_signals":          "true",
	"source.signal_table":              "public.sluice_signals",
	"source.postgres.slot":             "sluice_crm",
	"source.postgres.publication":      "sluice_crm",
	"source.postgres.snapshot_workers": "4",
	"source.mysql.server_id":           "4001",
	"source.mysql.snapshot_workers":    "4",
	"sink.kind":                        "postgres",
	"sink.dsn":                         "postgres://app@dwh:5432/dwh",
	"sink.mode":                        "merge",
	"sink.schema":                      "crm",
	"sink.batch.rows":                  "50000",
	"sink.batch.bytes":                 "64MiB",
	"sink.batch.wait":                  "500ms",
	"checkpoint.kind":                  "file",
	"checkpoint.path":                  "/var/lib/sluice/crm-to-dwh.checkpoint",
	"log.level":                        "info",
	"log.format":                       "json",
	"log.values":                       "false",
	"http.listen":                      "127.0.0.1:9187",
	"http.admin":                       "true",
	"sink.soft_delete":                 "true",
	"sink.soft_delete_column":          "_deleted_at",
	"sink.metadata.source_code.value":  "crm",
	"sink.metadata.source_code.column": "_source",
	"sink.metadata.position.column":    "_source_position",
	"sink.metadata.commit_time.column": "_source_commit_time",
	"sink.metadata.synced_at.column":   "_synced_at",
	"sink.schema_changes":              "follow",
}

// secret keys never have their value quoted in a message: DSNs, and every
// key named password, secret or token (or ending in _password, _secret,
// _token), whichever kind's settings it belongs to.
func secret(key string) bool {
	name := key[strings.LastIndexByte(key, '.')+1:]
	for _, s := range []string{"password", "secret", "token"} {
		if name == s || strings.HasSuffix(name, "_"+s) {
			return true
		}
	}
	return strings.HasSuffix(key, ".dsn")
}

// envName is the override variable of a key: sink.batch.rows → SLUICE_SINK_BATCH_ROWS.
func envName(key string) string {
	return "SLUICE_" + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
}

func keyName(f reflect.StructField) string {
	if tag := f.Tag.Get("mapstructure"); tag != "" {
		return tag
	}
	return strings.ToLower(f.Name)
}

func isSection(t reflect.Type) bool {
	return t.Kind() == reflect.Struct && t != reflect.TypeFor[time.Duration]()
}

// newKeySet builds the keys of Config and of each kind's settings, which
// sit under <role>.<name> (e.g. sink.kafka).
func newKeySet(kinds []Kind) *keySet {
	ks := &keySet{kinds: kinds}
	var build func(t reflect.Type, path string, ex map[string]string) *section
	build = func(t reflect.Type, path string, ex map[string]string) *section {
		s := &section{path: path, children: map[string]*section{}}
		for i := range t.NumField() {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			name := keyName(f)
			if name == "-" { // a list of rules, read outside this schema (transforms)
				s.names = append(s.names, strings.ToLower(f.Name))
				continue
			}
			key := join(path, name)
			s.names = append(s.names, name)
			if isSection(f.Type) {
				s.children[name] = build(f.Type, key, ex)
				continue
			}
			s.children[name] = nil
			ks.leaves = append(ks.leaves, leaf{key: key, kind: kindOf(f.Type), example: ex[key]})
		}
		return s
	}
	ks.root = build(reflect.TypeFor[Config](), "", examples)
	for _, k := range kinds {
		if k.Settings == nil {
			continue
		}
		parent := ks.root.children[k.Role]
		ex := map[string]string{}
		for rel, e := range k.Examples {
			ex[k.Role+"."+k.Name+"."+rel] = e
		}
		parent.children[k.Name] = build(reflect.TypeOf(k.Settings).Elem(), k.Role+"."+k.Name, ex)
		parent.names = append(parent.names, k.Name)
	}
	return ks
}

func kindOf(t reflect.Type) kind {
	switch {
	case t == reflect.TypeFor[time.Duration]():
		return kDuration
	case t == reflect.TypeFor[[]string]():
		return kList
	case t.Kind() == reflect.String:
		return kString
	case t.Kind() == reflect.Int:
		return kInt
	case t.Kind() == reflect.Int64:
		return kSize
	case t.Kind() == reflect.Uint32:
		return kUint32
	case t.Kind() == reflect.Bool:
		return kBool
	}
	panic("config: no kind for field type " + t.String())
}
