package config

import (
	"fmt"
	"reflect"
	"slices"
	"strings"

	"github.com/go-viper/mapstructure/v2"
)

// Kind is a source or sink kind that the loader learns about from the
// kind's own package (see pkg/connector), so that a new kind brings its
// settings, defaults and checks along instead of adding them here. The
// built-in SQL kinds (postgres, mysql) are part of Config itself.
type Kind struct {
	Role string // "source" or "sink"
	Name string // the value of source.kind / sink.kind, e.g. "kafka"
	// Settings points to a zero value of the struct holding the kind's own
	// keys, which live under <role>.<name> (sink.kafka.brokers). Its fields
	// follow Config's rules (string, []string, int, int64 sizes, uint32,
	// bool, time.Duration, nested structs; mapstructure tags for names). A
	// key named password, secret or token (or ending in _password, _secret,
	// _token) is never quoted in a message. nil: the kind has no settings.
	Settings any
	Defaults map[string]any    // by key relative to the section, e.g. "create_topics.partitions": 6
	Examples map[string]string // by relative key: a valid value, for messages
	// SQL says a sink writes into a database: sink.dsn is required, and
	// sink.mode, sink.schema, soft deletes and metadata columns apply. A
	// sink that is not SQL refuses those keys.
	SQL bool
	// Validate checks the settings (a pointer of the Settings type, or nil)
	// and any shared keys, when this is the configured kind.
	Validate func(c *Config, settings any, v Validator)
}

// Validator reports problems the way the loader does.
type Validator struct{ p *problems }

// At returns key as it starts a message (with " (from SLUICE_...)" when an
// override set it), or "" when the key was reported already: skip it then.
func (v Validator) At(key string) string {
	if v.p.bad[key] {
		return ""
	}
	return key + v.p.from[key]
}

// Addf adds a problem: "key: what is wrong (the fix)".
func (v Validator) Addf(format string, args ...any) { v.p.addf(format, args...) }

// Settings returns the settings of the configured kind of role ("source"
// or "sink"): a pointer of its Kind.Settings type, nil when it has none.
func (c *Config) Settings(role string) any {
	kind := c.Source.Kind
	if role == "sink" {
		kind = c.Sink.Kind
	}
	return c.settings[role+"."+kind]
}

// takeSettings removes each kind's section from the merged settings and
// decodes it into a new value of the kind's Settings type.
func takeSettings(all map[string]any, kinds []Kind) (map[string]any, error) {
	var out map[string]any // nil without kinds, so configs compare equal
	for _, k := range kinds {
		if k.Settings == nil {
			continue
		}
		if out == nil {
			out = map[string]any{}
		}
		parent, _ := all[k.Role].(map[string]any)
		raw, _ := parent[k.Name].(map[string]any)
		delete(parent, k.Name)
		v := reflect.New(reflect.TypeOf(k.Settings).Elem()).Interface()
		if err := decodeStrict(raw, v); err != nil {
			return nil, fmt.Errorf("decode %s.%s: %w", k.Role, k.Name, err)
		}
		out[k.Role+"."+k.Name] = v
	}
	return out, nil
}

// decodeStrict decodes normalized settings exactly: every value already has
// its field's Go type, and an unknown key is a bug of the schema.
func decodeStrict(m map[string]any, out any) error {
	d, err := mapstructure.NewDecoder(&mapstructure.DecoderConfig{Result: out, ErrorUnused: true, WeaklyTypedInput: false})
	if err != nil {
		return err
	}
	return d.Decode(m)
}

// kindNames lists the kinds of a role the loader knows: the built-in ones
// and the given ones.
func kindNames(role string, kinds []Kind) []string {
	names := []string{"postgres", "mysql"}
	for _, k := range kinds {
		if k.Role == role && !slices.Contains(names, k.Name) {
			names = append(names, k.Name)
		}
	}
	return names
}

// kindOfRole finds the given kind named name.
func kindOfRole(role, name string, kinds []Kind) (Kind, bool) {
	for _, k := range kinds {
		if k.Role == role && k.Name == name {
			return k, true
		}
	}
	return Kind{}, false
}

// validateKinds checks the given kinds' sections: a section belongs to the
// configured kind only, and that kind checks its own settings. A sink that
// is not SQL refuses the SQL sinks' keys.
func validateKinds(c *Config, tree map[string]any, p *problems) {
	chosen := map[string]string{"source": c.Source.Kind, "sink": c.Sink.Kind}
	for _, k := range p.keys.kinds {
		if k.Settings != nil && k.Name != chosen[k.Role] {
			if sec, _ := tree[k.Role].(map[string]any); sec != nil && sec[k.Name] != nil {
				p.addf("%s.%s: applies to %s.kind %s only, and %s.kind is %q (remove the section, or set %s.kind: %s)",
					k.Role, k.Name, k.Role, k.Name, k.Role, chosen[k.Role], k.Role, k.Name)
			}
		}
	}
	v := Validator{p}
	if k, ok := kindOfRole("sink", c.Sink.Kind, p.keys.kinds); ok {
		if !k.SQL {
			refuseSQLKeys(c, tree, v)
		}
		if k.Validate != nil {
			k.Validate(c, c.Settings("sink"), v)
		}
	}
	if k, ok := kindOfRole("source", c.Source.Kind, p.keys.kinds); ok && k.Validate != nil {
		k.Validate(c, c.Settings("source"), v)
	}
}

// sqlKeys are the keys only SQL sinks use.
var sqlKeys = []string{"dsn", "mode", "schema", "soft_delete", "soft_delete_column", "metadata", "schema_changes"}

func refuseSQLKeys(c *Config, tree map[string]any, v Validator) {
	sec, _ := tree["sink"].(map[string]any)
	for _, name := range sqlKeys {
		key := "sink." + name
		_, inFile := sec[name]
		if _, overridden := v.p.from[key]; !inFile && !overridden {
			continue
		}
		if k := v.At(key); k != "" {
			v.Addf("%s: applies to SQL sinks (postgres, mysql) only, not to sink.kind %s (remove it%s)", k, c.Sink.Kind, sqlKeyHint(name))
		}
	}
}

func sqlKeyHint(name string) string {
	if name == "schema" {
		return "; a transform's target.schema renames what a stream sink publishes"
	}
	return ""
}

// knownList lists kind names for messages: "postgres, mysql, kafka".
func knownList(names []string) string { return strings.Join(names, ", ") }

// SecretValues returns the values of the configured kinds' secret settings
// (passwords, secrets, tokens), so the process can keep them out of its
// logs; DSN passwords are the caller's to find (see RedactDSN).
func (c *Config) SecretValues() []string {
	var out []string
	var walk func(v reflect.Value, key string)
	walk = func(v reflect.Value, key string) {
		switch v.Kind() {
		case reflect.Struct:
			for i := range v.NumField() {
				if f := v.Type().Field(i); f.IsExported() {
					walk(v.Field(i), key+"."+keyName(f))
				}
			}
		case reflect.String:
			if secret(key) && v.String() != "" {
				out = append(out, v.String())
			}
		}
	}
	for _, role := range []string{"source", "sink"} {
		if s := c.Settings(role); s != nil {
			walk(reflect.ValueOf(s).Elem(), role)
		}
	}
	return out
}
