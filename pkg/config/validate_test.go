package config

import (
	"slices"
	"strings"
	"testing"
)

// mysqlSource makes doc's source a valid mysql one.
var mysqlSource = []any{"source.kind", "mysql", "source.dsn", "mysql://repl@db:3306/shop", "source.tables", []string{"shop.*"}, "source.mysql.server_id", 4001}

func TestProblems(t *testing.T) {
	tests := []struct {
		name   string
		data   []byte
		env    []string
		prefix string   // the problem line starts with this (the key)
		has    []string // and contains all of these (value, fix)
	}{
		// structure
		{"unknown top-level key", []byte("sourse: {kind: postgres}\n"), nil,
			`unknown key "sourse"`, []string{"(known top-level keys: name, source, sink, checkpoint, log, http, transforms)"}},
		{"unknown nested key", doc(t, "source.postgres.slott", "x"), nil,
			`unknown key "source.postgres.slott" (known keys under source.postgres: slot, publication, snapshot_workers)`, nil},
		{"unknown key in a leaf section", doc(t, "sink.batch.size", 5), nil,
			`unknown key "sink.batch.size"`, []string{"known keys under sink.batch: rows, bytes, wait"}},
		{"http listen without port", doc(t, "http", map[string]any{"listen": "127.0.0.1"}), nil,
			`http.listen: "127.0.0.1" must be host:port`, []string{"127.0.0.1:9187"}},
		{"http listen bad port", doc(t, "http.listen", "localhost:http-alt"), nil,
			`http.listen: "localhost:http-alt" has no valid port number`, nil},
		{"http listen from env", doc(t, "http.listen", ":9187"), []string{"SLUICE_HTTP_LISTEN", "bad host:1"},
			`http.listen (from SLUICE_HTTP_LISTEN): "bad host:1": "bad host" is not an IP address or host name`, nil},
		{"key given twice", []byte("name: a\nName: b\n"), nil,
			"name: given twice", []string{"not case-sensitive"}},
		{"section not a mapping", doc(t, "sink", "postgres"), nil,
			"sink: must be a mapping", []string{`the text "postgres"`, "known keys under sink: kind, dsn, mode, schema, batch"}},
		{"document not a mapping", []byte("- a\n- b\n"), nil,
			"must be a mapping of keys", []string{"known top-level keys"}},
		{"yaml syntax", []byte("name: a\n  bad: [\n"), nil,
			"yaml: line", nil},
		{"yaml duplicate key", []byte("name: a\nname: b\n"), nil,
			"yaml: line 2:", []string{`"name" already defined`}},

		// signals
		{"signal table without schema", doc(t, "source.signal_table", "signals"), nil,
			`source.signal_table: "signals" must be schema.table without globs`, []string{"public.sluice_signals"}},
		{"signal table with a glob", doc(t, "source.signal_table", "public.sig*"), nil,
			`source.signal_table: "public.sig*" must be schema.table without globs`, nil},
		{"signals without a default table", doc(t, append(slices.Clone(mysqlSource), "source.tables", []string{"*.orders"}, "source.snapshot_signals", true)...), nil,
			"source.signal_table: required with source.snapshot_signals: true", []string{"shop.sluice_signals"}},

		// types
		{"text key given a boolean", doc(t, "source.snapshot", true), nil,
			"source.snapshot: must be text, not a boolean true", []string{"e.g. initial"}},
		{"text key given a number", doc(t, "name", 42), nil,
			"name: must be text, not a number 42", []string{"e.g. crm-to-dwh"}},
		{"text key given a mapping", doc(t, "log.level", map[string]any{"a": 1}), nil,
			"log.level: must be text, not a mapping", nil},
		{"number given text", doc(t, "sink.batch.rows", "abc"), nil,
			`sink.batch.rows: must be a whole number, not the text "abc"`, []string{"e.g. 50000"}},
		{"number given a fraction", doc(t, "source.postgres.snapshot_workers", 1.5), nil,
			"source.postgres.snapshot_workers: must be a whole number, not a number 1.5", []string{"e.g. 4"}},
		{"number given a boolean", doc(t, "sink.batch.rows", true), nil,
			"sink.batch.rows: must be a whole number, not a boolean true", nil},
		{"number from env", doc(t), []string{"SLUICE_SINK_BATCH_ROWS", "lots"},
			"sink.batch.rows (from SLUICE_SINK_BATCH_ROWS): must be a whole number", []string{`"lots"`}},
		{"uint32 out of range", doc(t, mysqlSource...), []string{"SLUICE_SOURCE_MYSQL_SERVER_ID", "-1"},
			"source.mysql.server_id (from SLUICE_SOURCE_MYSQL_SERVER_ID): -1 is out of range (0..4294967295)", nil},
		{"uint32 too big", doc(t, "source.mysql.server_id", 1<<32), nil,
			"source.mysql.server_id: 4294967296 is out of range", nil},
		{"size not a size", doc(t, "sink.batch.bytes", "64M"), nil,
			`sink.batch.bytes: "64M" is not a size`, []string{"KiB", "e.g. 64MiB or 1048576"}},
		{"size too large", doc(t, "sink.batch.bytes", "99999999999GiB"), nil,
			`sink.batch.bytes: "99999999999GiB" is too large`, nil},
		{"size given a boolean", doc(t, "sink.batch.bytes", false), nil,
			"sink.batch.bytes: must be a size, not a boolean false", []string{"e.g. 64MiB"}},
		{"duration not a duration", doc(t, "sink.batch.wait", "soon"), nil,
			`sink.batch.wait: "soon" is not a duration`, []string{"e.g. 250ms, 2s"}},
		{"duration without unit", doc(t, "sink.batch.wait", 500), nil,
			"sink.batch.wait: 500 needs a unit", []string{"500ms"}},
		{"duration given a list", doc(t, "sink.batch.wait", []int{1}), nil,
			"sink.batch.wait: must be a duration, not a list", nil},
		{"list given a mapping", doc(t, "source.tables", map[string]any{"a": "b"}), nil,
			"source.tables: must be a list, not a mapping", []string{"e.g. [public.*]"}},
		{"list item not text", doc(t, "source.exclude", []any{"public.a", 7}), nil,
			"source.exclude[1]: must be text, not a number 7", nil},

		// values
		{"name required", doc(t, "name", del), nil,
			"name: required (a short identifier, e.g. crm-to-dwh; it names the slot, publication and checkpoint)", nil},
		{"name shape", doc(t, "name", "crm to dwh"), nil,
			`name: "crm to dwh" must be 1-63 letters, digits`, []string{"e.g. crm-to-dwh"}},
		{"name path", doc(t, "name", "../etc"), nil,
			`name: "../etc" must be`, nil},
		{"source.kind required", doc(t, "source.kind", del), nil,
			"source.kind: required (use postgres or mysql)", nil},
		{"source.kind unknown", doc(t, "source.kind", "oracle"), nil,
			`source.kind: "oracle" is not a known source (use postgres or mysql)`, nil},
		{"source.dsn required", doc(t, "source.dsn", del), nil,
			"source.dsn: required", []string{"postgres://"}},
		{"source.dsn required, from empty expansion", doc(t, "source.dsn", "${DSN}"), []string{"DSN", ""},
			"source.dsn: required", nil},
		{"postgres dsn with mysql scheme", doc(t, "source.dsn", "mysql://u:pw@h/db"), nil,
			`source.dsn: a DSN starting with "mysql://" is not a postgres DSN`, []string{"postgres://user:${PGPASSWORD}@host:5432/db", "host="}},
		{"postgres dsn key=value without host", doc(t, "source.dsn", "dbname=crm"), nil,
			"source.dsn: a key=value DSN is not a postgres DSN", nil},
		{"postgres dsn neither", doc(t, "source.dsn", "db:5432"), nil,
			"source.dsn: a DSN that is neither a URL nor key=value is not a postgres DSN", nil},
		{"mysql dsn", doc(t, append(mysqlSource, "source.dsn", "repl:pw@tcp(db)/shop")...), nil,
			"source.dsn: a DSN that is neither a URL nor key=value is not a mysql DSN", []string{"mysql://user:${MYSQL_PASSWORD}@host:3306/db"}},
		{"dsn not a URL", doc(t, "source.dsn", "postgres://u:100%@h/db"), nil,
			"source.dsn: is not a valid URL", []string{"percent-encode"}},
		{"tables not schema.table", doc(t, "source.tables", []string{"public"}), nil,
			`source.tables: pattern "public" must be schema.table (e.g. public.* or public.customers)`, nil},
		{"tables three parts", doc(t, "source.tables", []string{"db.public.x"}), nil,
			`source.tables: pattern "db.public.x" must be schema.table`, nil},
		{"tables empty part", doc(t, "source.tables", []string{".x"}), nil,
			`source.tables: pattern ".x" must be schema.table`, nil},
		{"tables bad glob", doc(t, "source.tables", []string{"public.[a"}), nil,
			`source.tables: pattern "public.[a" is not a valid glob`, []string{"e.g. public.audit_*"}},
		{"tables from env", doc(t), []string{"SLUICE_SOURCE_TABLES", "public.a,crm"},
			`source.tables (from SLUICE_SOURCE_TABLES): pattern "crm" must be schema.table`, nil},
		{"exclude not schema.table", doc(t, "source.exclude", []string{"audit_*"}), nil,
			`source.exclude: pattern "audit_*" must be schema.table`, nil},
		{"mysql tables required", doc(t, append(mysqlSource, "source.tables", del)...), nil,
			"source.tables: required for a mysql source", []string{"e.g. [shop.*]"}},
		{"snapshot value", doc(t, "source.snapshot", "yes"), nil,
			`source.snapshot: "yes" must be initial or never`, nil},
		{"slot shape", doc(t, "source.postgres.slot", "Sluice-CRM"), nil,
			`source.postgres.slot: "Sluice-CRM" must be 1-63 characters from a-z, 0-9 and _`, []string{"e.g. sluice_crm"}},
		{"slot too long", doc(t, "source.postgres.slot", strings.Repeat("a", 64)), nil,
			"source.postgres.slot: ", []string{"must be 1-63 characters"}},
		{"publication shape", doc(t, "source.postgres.publication", "pub-1"), nil,
			`source.postgres.publication: "pub-1" must be 1-63 characters`, nil},
		{"snapshot workers zero", doc(t, "source.postgres.snapshot_workers", 0), nil,
			"source.postgres.snapshot_workers: 0 must be between 1 and 64", nil},
		{"snapshot workers too many", doc(t, "source.postgres.snapshot_workers", 65), nil,
			"source.postgres.snapshot_workers: 65 must be between 1 and 64", nil},
		{"mysql server_id required", doc(t, append(mysqlSource, "source.mysql.server_id", del)...), nil,
			"source.mysql.server_id: required for a mysql source", []string{"e.g. 4001"}},
		{"sink.kind required", doc(t, "sink.kind", del), nil,
			"sink.kind: required (supported: postgres, mysql)", nil},
		{"sink.kind mysql needs a mysql dsn", doc(t, "sink.kind", "mysql"), nil,
			`sink.dsn: a DSN starting with "postgres://" is not a mysql DSN`, nil},
		{"mysql snapshot workers", doc(t, append(mysqlSource, "source.mysql.snapshot_workers", 0)...), nil,
			"source.mysql.snapshot_workers: 0 must be between 1 and 64", nil},
		{"sink.kind kafka not yet", doc(t, "sink.kind", "kafka"), nil,
			`sink.kind: "kafka" is not supported yet (supported: postgres, mysql)`, nil},
		{"sink.kind unknown", doc(t, "sink.kind", "redis"), nil,
			`sink.kind: "redis" is not a known sink (supported: postgres, mysql)`, nil},
		{"sink.dsn required", doc(t, "sink.dsn", del), nil,
			"sink.dsn: required", nil},
		{"sink.dsn not postgres", doc(t, "sink.dsn", "nats://h:4222"), nil,
			`sink.dsn: a DSN starting with "nats://" is not a postgres DSN`, nil},
		{"sink is the source", doc(t, "sink.dsn", "postgres://replicator@db:5432/crm"), nil,
			"sink.dsn: is the source database", []string{"set sink.schema"}},
		{"sink.mode unknown", doc(t, "sink.mode", "upsert"), nil,
			`sink.mode: "upsert" is not a known mode (supported: merge, history, append)`, nil},
		{"sink.schema too long", doc(t, "sink.schema", strings.Repeat("s", 64)), nil,
			"sink.schema: ", []string{"longer than 63 bytes"}},
		{"rows zero", doc(t, "sink.batch.rows", 0), nil,
			"sink.batch.rows: must be at least 1 (got 0", nil},
		{"rows negative from env", doc(t), []string{"SLUICE_SINK_BATCH_ROWS", "-5"},
			"sink.batch.rows (from SLUICE_SINK_BATCH_ROWS): must be at least 1 (got -5", nil},
		{"bytes too small", doc(t, "sink.batch.bytes", 512), nil,
			"sink.batch.bytes: must be at least 1KiB (got 512", []string{"e.g. 64MiB"}},
		{"wait zero", doc(t, "sink.batch.wait", "0s"), nil,
			"sink.batch.wait: must be more than 0 and at most 1h (got 0s", []string{"e.g. 500ms"}},
		{"wait too long", doc(t, "sink.batch.wait", "2h"), nil,
			"sink.batch.wait: must be more than 0 and at most 1h (got 2h0m0s", nil},
		{"checkpoint in sink not yet", doc(t, "checkpoint.kind", "sink"), nil,
			`checkpoint.kind: "sink" is not supported yet (supported: file)`, nil},
		{"checkpoint kind unknown", doc(t, "checkpoint.kind", "s3"), nil,
			`checkpoint.kind: "s3" is not a known checkpoint store (supported: file)`, nil},
		{"log level", doc(t, "log.level", "verbose"), nil,
			`log.level: "verbose" must be debug, info, warn or error`, nil},
		{"log format", doc(t), []string{"SLUICE_LOG_FORMAT", "text"},
			`log.format (from SLUICE_LOG_FORMAT): "text" must be json or console`, nil},
		{"log values", doc(t, "log.values", "yes"), nil,
			`log.values: must be true or false, not the text "yes"`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse(tt.data, "", envOf(tt.env...))
			if err == nil {
				t.Fatalf("Parse = %v, want an error", c)
			}
			findProblem(t, err, tt.prefix, tt.has...)
		})
	}
}

// TestAllProblemsAtOnce checks that problems of every stage are reported
// together, one per line, and that a key with a bad type is not reported
// again by validation.
func TestAllProblemsAtOnce(t *testing.T) {
	data := []byte(`
sourse: {}
source:
  kind: oracle
  snapshot: true
sink:
  kind: postgres
  dsn: postgres://app@dwh/dwh
  batch: {rows: abc, wait: 0s}
`)
	_, err := Parse(data, "", envOf())
	want := []string{
		`unknown key "sourse" (known top-level keys: name, source, sink, checkpoint, log, http, transforms)`,
		`source.snapshot: must be text, not a boolean true (e.g. initial)`,
		`sink.batch.rows: must be a whole number, not the text "abc" (e.g. 50000)`,
		`name: required (a short identifier, e.g. crm-to-dwh; it names the slot, publication and checkpoint)`,
		`source.kind: "oracle" is not a known source (use postgres or mysql)`,
		`source.dsn: required (e.g. postgres://user:${PGPASSWORD}@host:5432/db)`,
		`sink.batch.wait: must be more than 0 and at most 1h (got 0s; e.g. 500ms)`,
	}
	got := problemsOf(t, err)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	lines := strings.Split(err.Error(), "\n")
	if len(lines) != len(want) {
		t.Errorf("Error() has %d lines, want %d", len(lines), len(want))
	}
	for _, l := range lines {
		if !strings.HasPrefix(l, "config: ") {
			t.Errorf("line %q lacks the config: prefix", l)
		}
	}
}

func TestBadSectionReportedOnce(t *testing.T) {
	_, err := Parse(doc(t, "sink", "postgres"), "", envOf())
	if got := problemsOf(t, err); len(got) != 1 || !strings.HasPrefix(got[0], "sink: must be a mapping") {
		t.Errorf("problems = %q, want only the sink one", got)
	}
}

func TestValidMySQLSource(t *testing.T) {
	c, err := Parse(doc(t, mysqlSource...), "", envOf())
	if err != nil {
		t.Fatal(err)
	}
	if c.Source.MySQL.ServerID != 4001 || c.Source.Tables[0] != "shop.*" {
		t.Errorf("source = %+v", c.Source)
	}
}

func TestValidForms(t *testing.T) {
	tests := map[string][]any{
		"postgresql scheme":          {"source.dsn", "postgresql://u@h/db"},
		"key=value dsn":              {"source.dsn", "host=db port=5432 dbname=crm user=replicator password='a b'"},
		"key=value dsn, host second": {"sink.dsn", "dbname=dwh host=/var/run/postgresql"},
		"same db, different schema":  {"sink.dsn", "postgres://replicator@db:5432/crm", "sink.schema", "copy"},
		"glob with ? and class":      {"source.tables", []string{"public.order?", "crm.[a-c]*"}},
		"snapshot never":             {"source.snapshot", "never"},
		"wait at the limit":          {"sink.batch.wait", "1h"},
		"bytes at the limit":         {"sink.batch.bytes", "1KiB"},
		"workers at the limit":       {"source.postgres.snapshot_workers", 64},
		"slot at 63":                 {"source.postgres.slot", strings.Repeat("a", 63)},
		"name at 63":                 {"name", strings.Repeat("n", 63)},
		"empty sections":             {"log", nil, "checkpoint", map[string]any{}},
		"dsn with password in query": {"source.dsn", "postgres://u@h/db?password=x"},
		"console logs at warn":       {"log.level", "warn", "log.format", "console"},
		"error logs":                 {"log.level", "error"},
		"no postgres section":        {"source.postgres", del},
	}
	for name, sets := range tests {
		t.Run(name, func(t *testing.T) {
			if _, err := Parse(doc(t, sets...), "", envOf()); err != nil {
				t.Error(err)
			}
		})
	}
}

// TestSecretsNeverInErrors puts a password into the DSNs of configs that
// fail in every way that quotes or describes a DSN, and checks no error
// repeats it.
func TestSecretsNeverInErrors(t *testing.T) {
	const pw = "hunter2pw"
	tests := []struct {
		name string
		data []byte
		env  []string
	}{
		{"wrong scheme", doc(t, "source.dsn", "mysql://u:"+pw+"@h/db"), nil},
		{"wrong scheme for mysql", doc(t, append(mysqlSource, "source.dsn", "postgres://u:"+pw+"@h/db")...), nil},
		{"driver form for mysql", doc(t, append(mysqlSource, "source.dsn", "u:"+pw+"@tcp(h)/db")...), nil},
		{"key=value without host", doc(t, "source.dsn", "dbname=crm password="+pw), nil},
		{"bare password", doc(t, "sink.dsn", pw), nil},
		{"invalid URL", doc(t, "source.dsn", "postgres://u:"+pw+"%zz@h/db"), nil},
		{"invalid URL, unescaped", doc(t, "source.dsn", "postgres://u:"+pw+"/#?@h/db"), nil},
		{"from expansion", doc(t, "source.dsn", "mysql://u:${PW}@h/db"), []string{"PW", pw}},
		{"expansion error beside a secret", doc(t, "source.dsn", "postgres://u:${PW}@${HOST}/db"), []string{"PW", pw}},
		{"bad reference in a dsn", doc(t, "source.dsn", "postgres://u:${"+pw+"!}@h/db"), nil},
		{"dsn not text", doc(t, "source.dsn", []string{pw}), nil},
		{"dsn given a number", doc(t, "sink.dsn", 12345678), []string{"PW", "12345678"}},
		{"from override", doc(t), []string{"SLUICE_SINK_DSN", "mysql://u:" + pw + "@h/db"}},
		{"yaml tag error", []byte("sink:\n  dsn: !!int hunter2pw\n"), nil},
		{"sink is source", doc(t, "source.dsn", "postgres://u:"+pw+"@h/db", "sink.dsn", "postgres://u:"+pw+"@h/db"), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(tt.data, "", envOf(tt.env...))
			if err == nil {
				t.Fatal("Parse succeeded, want an error")
			}
			if strings.Contains(err.Error(), pw) || strings.Contains(err.Error(), "12345678") {
				t.Errorf("error contains the secret:\n%v", err)
			}
			if !strings.Contains(err.Error(), "dsn") && !strings.Contains(err.Error(), "yaml") {
				t.Errorf("error does not name the dsn key:\n%v", err)
			}
		})
	}
}

// TestLogValues: log.values is off unless set, in the file or from
// SLUICE_LOG_VALUES.
func TestLogValues(t *testing.T) {
	for _, c := range []struct {
		data []byte
		env  []string
		want bool
	}{
		{doc(t), nil, false},
		{doc(t, "log.values", true), nil, true},
		{doc(t), []string{"SLUICE_LOG_VALUES", "true"}, true},
	} {
		cfg, err := Parse(c.data, "", envOf(c.env...))
		if err != nil {
			t.Fatal(err)
		}
		if cfg.Log.Values != c.want {
			t.Errorf("log.values = %v (env %v), want %v", cfg.Log.Values, c.env, c.want)
		}
	}
}
