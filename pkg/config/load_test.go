package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// designConfig is DESIGN.md's example (minus transforms and http), as
// testdata/design.yaml holds it, with PGPASSWORD=s3cret.
var designConfig = Config{
	Name: "crm-to-dwh",
	Source: Source{
		Kind:     "postgres",
		DSN:      "postgres://replicator:s3cret@db:5432/crm?sslmode=disable",
		Tables:   []string{"public.*"},
		Exclude:  []string{"public.audit_*"},
		Snapshot: "initial", SignalTable: "public.sluice_signals",
		Postgres: PostgresSource{Slot: "sluice_crm", Publication: "sluice_crm", SnapshotWorkers: 4},
		MySQL:    MySQLSource{ServerID: 4001, SnapshotWorkers: 4},
	},
	Sink: Sink{
		Kind: "postgres",
		DSN:  "postgres://app@dwh:5432/dwh?sslmode=disable",
		Mode: "merge", SchemaChanges: "follow",
		Schema: "crm",
		Batch:  Batch{Rows: 50000, Bytes: 64 << 20, Wait: 500 * time.Millisecond},
	},
	Checkpoint: Checkpoint{Kind: "file", Path: "/var/lib/sluice/crm-to-dwh.checkpoint"},
	Log:        Log{Level: "info", Format: "json"},
}

func TestLoadDesignExample(t *testing.T) {
	t.Setenv("PGPASSWORD", "s3cret")
	got, err := Load("testdata/design.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(*got, designConfig) {
		t.Errorf("Load =\n%+v\nwant\n%+v", *got, designConfig)
	}
}

func TestParseDesignExample(t *testing.T) {
	data, err := os.ReadFile("testdata/design.yaml")
	if err != nil {
		t.Fatal(err)
	}
	got, err := Parse(data, "/etc/sluice", envOf("PGPASSWORD", "s3cret"))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(*got, designConfig) {
		t.Errorf("Parse =\n%+v\nwant\n%+v", *got, designConfig)
	}
}

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing.yaml")
	if _, err := Load(missing); err == nil || !strings.Contains(err.Error(), missing) {
		t.Errorf("Load(missing) = %v, want an error naming the file", err)
	}

	path := filepath.Join(dir, "x.yaml")
	if err := os.WriteFile(path, doc(t, "source.postgres.slott", "x"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Load(path)
	want := `config ` + path + `: unknown key "source.postgres.slott" (known keys under source.postgres: slot, publication, snapshot_workers)`
	if err == nil || err.Error() != want {
		t.Errorf("Load = %v\nwant %s", err, want)
	}
}

func TestLoadCheckpointNextToFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "x.yaml")
	if err := os.WriteFile(path, doc(t), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(dir, "crm-to-dwh.checkpoint"); c.Checkpoint.Path != want {
		t.Errorf("checkpoint.path = %q, want %q", c.Checkpoint.Path, want)
	}
}

func TestDefaults(t *testing.T) {
	got, err := Parse(doc(t), "/etc/sluice", envOf())
	if err != nil {
		t.Fatal(err)
	}
	want := Config{
		Name: "crm-to-dwh",
		Source: Source{
			Kind:     "postgres",
			DSN:      "postgres://replicator@db:5432/crm",
			Tables:   []string{"public.*"},
			Snapshot: "initial", SignalTable: "public.sluice_signals",
			Postgres: PostgresSource{Slot: "sluice_crm_to_dwh", Publication: "sluice_crm_to_dwh", SnapshotWorkers: 4},
			MySQL:    MySQLSource{SnapshotWorkers: 4},
		},
		Sink: Sink{
			Kind: "postgres",
			DSN:  "postgres://app@dwh:5432/dwh",
			Mode: "merge", SchemaChanges: "follow",
			Batch: Batch{Rows: 50000, Bytes: 64 << 20, Wait: 500 * time.Millisecond},
		},
		Checkpoint: Checkpoint{Kind: "file", Path: "/etc/sluice/crm-to-dwh.checkpoint"},
		Log:        Log{Level: "info"}, // Format "": console on a terminal, else json
	}
	if !reflect.DeepEqual(*got, want) {
		t.Errorf("Parse =\n%+v\nwant\n%+v", *got, want)
	}
}

func TestDerivedDefaults(t *testing.T) {
	tests := []struct {
		name  string
		data  []byte
		dir   string
		check func(*Config) any
		want  any
	}{
		{"slot from name", doc(t), "", func(c *Config) any { return c.Source.Postgres.Slot }, "sluice_crm_to_dwh"},
		{"publication from name", doc(t, "name", "CRM.Prod"), "", func(c *Config) any { return c.Source.Postgres.Publication }, "sluice_crm_prod"},
		{"explicit slot kept", doc(t, "source.postgres.slot", "my_slot"), "", func(c *Config) any { return c.Source.Postgres.Slot }, "my_slot"},
		{"checkpoint without dir", doc(t), "", func(c *Config) any { return c.Checkpoint.Path }, "crm-to-dwh.checkpoint"},
		{"relative checkpoint joined to dir", doc(t, "checkpoint.path", "state/x.ckpt"), "/etc/sluice", func(c *Config) any { return c.Checkpoint.Path }, "/etc/sluice/state/x.ckpt"},
		{"absolute checkpoint kept", doc(t, "checkpoint.path", "/var/x.ckpt"), "/etc/sluice", func(c *Config) any { return c.Checkpoint.Path }, "/var/x.ckpt"},
		{"explicit tables kept", doc(t, "source.tables", []string{"crm.*"}), "", func(c *Config) any { return c.Source.Tables }, []string{"crm.*"}},
		{"empty tables get the default", doc(t, "source.tables", []string{}), "", func(c *Config) any { return c.Source.Tables }, []string{"public.*"}},
		{"tables as one comma string", doc(t, "source.tables", "public.a, crm.*"), "", func(c *Config) any { return c.Source.Tables }, []string{"public.a", "crm.*"}},
		{"mysql gets no slot", doc(t, "source.kind", "mysql", "source.dsn", "mysql://u@h/shop", "source.tables", []string{"shop.*"}, "source.mysql.server_id", 4001), "", func(c *Config) any { return c.Source.Postgres.Slot }, ""},
		{"size in MiB", doc(t, "sink.batch.bytes", "16MiB"), "", func(c *Config) any { return c.Sink.Batch.Bytes }, int64(16 << 20)},
		{"size as a number", doc(t, "sink.batch.bytes", 2048), "", func(c *Config) any { return c.Sink.Batch.Bytes }, int64(2048)},
		{"wait in seconds", doc(t, "sink.batch.wait", "2s"), "", func(c *Config) any { return c.Sink.Batch.Wait }, 2 * time.Second},
		{"number in exponent form", []byte("name: x\nsource: {kind: postgres, dsn: 'postgres://h/db'}\nsink: {kind: postgres, dsn: 'postgres://h2/db', batch: {rows: 5e4}}\n"), "", func(c *Config) any { return c.Sink.Batch.Rows }, 50000},
		{"digit string is base 10", doc(t, "source.postgres.snapshot_workers", "010"), "", func(c *Config) any { return c.Source.Postgres.SnapshotWorkers }, 10},
		{"upper-case keys accepted", []byte("NAME: x\nSource: {Kind: postgres, DSN: 'postgres://h/db'}\nsink: {kind: postgres, dsn: 'postgres://h2/db'}\n"), "", func(c *Config) any { return c.Source.DSN }, "postgres://h/db"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse(tt.data, tt.dir, envOf())
			if err != nil {
				t.Fatal(err)
			}
			if got := tt.check(c); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %#v, want %#v", got, tt.want)
			}
		})
	}
}

func TestDefaultObjectName(t *testing.T) {
	long := strings.Repeat("a", 70)
	tests := map[string]string{
		"crm-to-dwh": "sluice_crm_to_dwh",
		"CRM.Prod":   "sluice_crm_prod",
		"a_b9":       "sluice_a_b9",
		"é x":        "sluice___x",
		long:         "sluice_" + long[:56],
	}
	for name, want := range tests {
		got := DefaultObjectName(name)
		if got != want {
			t.Errorf("DefaultObjectName(%q) = %q, want %q", name, got, want)
		}
		if !objectRE.MatchString(got) {
			t.Errorf("DefaultObjectName(%q) = %q, not a valid slot name", name, got)
		}
	}
}

func TestEnvOverrides(t *testing.T) {
	tests := []struct {
		name  string
		data  []byte
		env   []string
		check func(*Config) any
		want  any
	}{
		{"wins over the file", doc(t, "sink.batch.rows", 10), []string{"SLUICE_SINK_BATCH_ROWS", "20"}, func(c *Config) any { return c.Sink.Batch.Rows }, 20},
		{"works when the file lacks the key", doc(t), []string{"SLUICE_SOURCE_POSTGRES_SLOT", "my_slot"}, func(c *Config) any { return c.Source.Postgres.Slot }, "my_slot"},
		{"name renames derived defaults", doc(t), []string{"SLUICE_NAME", "other"}, func(c *Config) any { return c.Source.Postgres.Publication }, "sluice_other"},
		{"list is comma-separated", doc(t), []string{"SLUICE_SOURCE_TABLES", "public.a, crm.* ,"}, func(c *Config) any { return c.Source.Tables }, []string{"public.a", "crm.*"}},
		{"list replaces the file's list", doc(t, "source.exclude", []string{"public.x"}), []string{"SLUICE_SOURCE_EXCLUDE", "public.y"}, func(c *Config) any { return c.Source.Exclude }, []string{"public.y"}},
		{"empty value is ignored", doc(t, "log.level", "debug"), []string{"SLUICE_LOG_LEVEL", ""}, func(c *Config) any { return c.Log.Level }, "debug"},
		{"size", doc(t), []string{"SLUICE_SINK_BATCH_BYTES", "16MB"}, func(c *Config) any { return c.Sink.Batch.Bytes }, int64(16e6)},
		{"duration", doc(t), []string{"SLUICE_SINK_BATCH_WAIT", "250ms"}, func(c *Config) any { return c.Sink.Batch.Wait }, 250 * time.Millisecond},
		{"dsn is taken literally", doc(t), []string{"SLUICE_SOURCE_DSN", "host=h password=pa${x}"}, func(c *Config) any { return c.Source.DSN }, "host=h password=pa${x}"},
		{"checkpoint path relative to dir", doc(t), []string{"SLUICE_CHECKPOINT_PATH", "x.ckpt"}, func(c *Config) any { return c.Checkpoint.Path }, "/etc/sluice/x.ckpt"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse(tt.data, "/etc/sluice", envOf(tt.env...))
			if err != nil {
				t.Fatal(err)
			}
			if got := tt.check(c); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %#v, want %#v", got, tt.want)
			}
		})
	}
}

// TestEnvOnly sets every key from the environment with an empty file: each
// key must have its override even though the file never mentions it
// (viper #761).
func TestEnvOnly(t *testing.T) {
	env := envOf(
		"SLUICE_NAME", "orders",
		"SLUICE_SOURCE_KIND", "mysql",
		"SLUICE_SOURCE_DSN", "mysql://repl:pw@db:3306/shop",
		"SLUICE_SOURCE_TABLES", "shop.*",
		"SLUICE_SOURCE_EXCLUDE", "shop.tmp_*,shop.log",
		"SLUICE_SOURCE_SNAPSHOT", "never",
		"SLUICE_SOURCE_POSTGRES_SLOT", "s1",
		"SLUICE_SOURCE_POSTGRES_PUBLICATION", "p1",
		"SLUICE_SOURCE_POSTGRES_SNAPSHOT_WORKERS", "8",
		"SLUICE_SOURCE_MYSQL_SERVER_ID", "4294967295",
		"SLUICE_SINK_KIND", "postgres",
		"SLUICE_SINK_DSN", "host=dwh dbname=dwh",
		"SLUICE_SINK_MODE", "merge",
		"SLUICE_SINK_SCHEMA", "shop",
		"SLUICE_SINK_BATCH_ROWS", "1000",
		"SLUICE_SINK_BATCH_BYTES", "512KiB",
		"SLUICE_SINK_BATCH_WAIT", "1h",
		"SLUICE_CHECKPOINT_KIND", "file",
		"SLUICE_CHECKPOINT_PATH", "/data/orders.ckpt",
		"SLUICE_LOG_LEVEL", "debug",
		"SLUICE_LOG_FORMAT", "console",
	)
	got, err := Parse(nil, "", env)
	if err != nil {
		t.Fatal(err)
	}
	want := Config{
		Name: "orders",
		Source: Source{
			Kind: "mysql", DSN: "mysql://repl:pw@db:3306/shop",
			Tables: []string{"shop.*"}, Exclude: []string{"shop.tmp_*", "shop.log"}, Snapshot: "never", SignalTable: "shop.sluice_signals",
			Postgres: PostgresSource{Slot: "s1", Publication: "p1", SnapshotWorkers: 8},
			MySQL:    MySQLSource{ServerID: 4294967295, SnapshotWorkers: 4},
		},
		Sink: Sink{
			Kind: "postgres", DSN: "host=dwh dbname=dwh", Mode: "merge", SchemaChanges: "follow", Schema: "shop",
			Batch: Batch{Rows: 1000, Bytes: 512 << 10, Wait: time.Hour},
		},
		Checkpoint: Checkpoint{Kind: "file", Path: "/data/orders.ckpt"},
		Log:        Log{Level: "debug", Format: "console"},
	}
	if !reflect.DeepEqual(*got, want) {
		t.Errorf("Parse =\n%+v\nwant\n%+v", *got, want)
	}
}

func TestKeys(t *testing.T) {
	var keys []string
	for _, l := range builtin.leaves {
		keys = append(keys, l.key)
		if examples[l.key] == "" {
			t.Errorf("key %s has no example", l.key)
		}
	}
	want := "name source.kind source.dsn source.tables source.exclude source.snapshot source.snapshot_signals source.signal_table " +
		"source.postgres.slot source.postgres.publication source.postgres.snapshot_workers source.mysql.server_id source.mysql.snapshot_workers " +
		"sink.kind sink.dsn sink.mode sink.schema sink.batch.rows sink.batch.bytes sink.batch.wait " +
		"sink.soft_delete sink.soft_delete_column sink.metadata.source_code.value sink.metadata.source_code.column " +
		"sink.metadata.position.column sink.metadata.commit_time.column sink.metadata.synced_at.column sink.schema_changes " +
		"checkpoint.kind checkpoint.path log.level log.format log.values http.listen http.admin"
	if got := strings.Join(keys, " "); got != want {
		t.Errorf("keys = %s\nwant   %s", got, want)
	}
	if len(examples) != len(builtin.leaves) {
		t.Errorf("%d examples for %d keys", len(examples), len(builtin.leaves))
	}
	for key := range defaults {
		if !strings.Contains(" "+want+" ", " "+key+" ") {
			t.Errorf("default for unknown key %s", key)
		}
	}
	if got := envName("source.postgres.snapshot_workers"); got != "SLUICE_SOURCE_POSTGRES_SNAPSHOT_WORKERS" {
		t.Errorf("envName = %s", got)
	}
}
