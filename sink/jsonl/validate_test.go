package jsonl

import (
	"strings"
	"testing"

	"github.com/sluicecdc/sluice/pkg/config"
)

// Settings problems name the key and the fix.
func TestValidate(t *testing.T) {
	kind := Connector.Kind
	kind.Role = "sink"
	parse := func(section string) (*config.Config, error) {
		return config.Parse([]byte("name: p\nsource: {kind: postgres, dsn: 'postgres://u@h/db'}\nsink:\n  kind: jsonl\n  jsonl: {"+section+"}\n"), ".",
			func(string) (string, bool) { return "", false }, kind)
	}
	for _, c := range []struct{ yaml, want string }{
		{"keep: 1", "sink.jsonl.path: required"},
		{"path: /tmp/x/", "names a directory; name the files, e.g. /tmp/x/p.jsonl"},
		{"path: a.jsonl, max_bytes: -1", "sink.jsonl.max_bytes: must be 0"},
		{"path: a.jsonl, keep: -2", "sink.jsonl.keep: must be 0"},
		{"path: a.jsonl, topic_prefix: 'a b'", "sink.jsonl.topic_prefix"},
		{"path: a.jsonl, decimal_handling: exact", "sink.jsonl.decimal_handling"},
		{"path: a.jsonl, dsn: x", `unknown key "sink.jsonl.dsn"`},
	} {
		if _, err := parse(c.yaml); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.yaml, err, c.want)
		}
	}
	c, err := parse("path: a.jsonl, max_bytes: 1MiB")
	if err != nil {
		t.Fatal(err)
	}
	if s := c.Settings("sink").(*Settings); s.MaxBytes != 1<<20 || s.DecimalHandling != "precise" || s.Keep != 0 {
		t.Fatalf("settings %+v", s)
	}
	if c, err = parse("path: a.jsonl"); err != nil || c.Settings("sink").(*Settings).MaxBytes != 64<<20 {
		t.Fatalf("default max_bytes: %v %+v", err, c)
	}
}
