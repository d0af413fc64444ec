package config

import (
	"strings"
	"testing"
)

func TestExpand(t *testing.T) {
	env := envOf("USER", "repl", "PW", "s3cret", "EMPTY", "")
	tests := []struct {
		in, want string
		err      string // substring of the error, "" for none
	}{
		{in: "plain", want: "plain"},
		{in: "postgres://${USER}:${PW}@db/crm", want: "postgres://repl:s3cret@db/crm"},
		{in: "$USER stays", want: "$USER stays"},
		{in: "pa$$word", want: "pa$$word"},
		{in: "trailing $", want: "trailing $"},
		{in: "$${USER}", want: "${USER}"},
		{in: "$$${USER}", want: "$${USER}"}, // leftmost match: $ then $${
		{in: "${EMPTY}", want: ""},
		{in: "${MISSING:-fallback}", want: "fallback"},
		{in: "${EMPTY:-fallback}", want: "fallback"},
		{in: "${USER:-fallback}", want: "repl"},
		{in: "${MISSING:-}", want: ""},
		{in: "${MISSING:-a:-b}", want: "a:-b"},
		{in: "${MISSING}", err: "environment variable MISSING is not set (referenced as ${MISSING})"},
		{in: "x${USER", err: "unterminated ${ (close it with }, or write $${ for a literal ${)"},
		{in: "${}", err: `"${}" is not a valid variable reference`},
		{in: "${1X}", err: `"${1X}" is not a valid variable reference`},
		{in: "${A B}", err: "letters, digits and _"},
	}
	for _, tt := range tests {
		got, err := expand(tt.in, env, true)
		switch {
		case tt.err == "" && err != nil:
			t.Errorf("expand(%q): %v", tt.in, err)
		case tt.err == "" && got != tt.want:
			t.Errorf("expand(%q) = %q, want %q", tt.in, got, tt.want)
		case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
			t.Errorf("expand(%q) error = %v, want it to contain %q", tt.in, err, tt.err)
		}
	}
}

func TestExpandInConfig(t *testing.T) {
	data := doc(t,
		"source.dsn", "postgres://replicator:${PGPASSWORD}@${PGHOST:-db}:5432/crm",
		"source.tables", []string{"${SCHEMA}.*", "public.orders"},
		"sink.batch.rows", "${ROWS}",
		"sink.schema", "$${literal}",
	)
	c, err := Parse(data, "", envOf("PGPASSWORD", "pw", "SCHEMA", "crm", "ROWS", "1000"))
	if err != nil {
		t.Fatal(err)
	}
	if want := "postgres://replicator:pw@db:5432/crm"; c.Source.DSN != want {
		t.Errorf("dsn = %q, want %q", c.Source.DSN, want)
	}
	if c.Source.Tables[0] != "crm.*" {
		t.Errorf("tables = %q", c.Source.Tables)
	}
	if c.Sink.Batch.Rows != 1000 {
		t.Errorf("rows = %d", c.Sink.Batch.Rows)
	}
	if c.Sink.Schema != "${literal}" {
		t.Errorf("schema = %q", c.Sink.Schema)
	}
}

func TestExpandErrorsInConfig(t *testing.T) {
	tests := []struct {
		name   string
		data   []byte
		prefix string
		has    []string
	}{
		{"undefined", doc(t, "source.dsn", "postgres://replicator:${PGPASSWORD}@db/crm"),
			"source.dsn:", []string{"source.dsn: environment variable PGPASSWORD is not set (referenced as ${PGPASSWORD})"}},
		{"in a list item", doc(t, "source.exclude", []string{"public.a", "${SCHEMA}.b"}),
			"source.exclude[1]:", []string{"environment variable SCHEMA is not set"}},
		{"unterminated", doc(t, "sink.schema", "${X"),
			"sink.schema:", []string{"unterminated ${", "$${"}},
		{"bad name, quoted", doc(t, "sink.schema", "${my-var}"),
			"sink.schema:", []string{`"${my-var}" is not a valid variable reference`}},
		{"bad name in a dsn, not quoted", doc(t, "source.dsn", "postgres://u:${my-var}@h/db"),
			"source.dsn:", []string{"a ${...} reference has an invalid variable name"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(tt.data, "", envOf())
			findProblem(t, err, tt.prefix, tt.has...)
			// The key is reported once, not again as "required".
			if n := len(problemsOf(t, err)); n != 1 {
				t.Errorf("%d problems, want 1: %v", n, err)
			}
		})
	}
}
