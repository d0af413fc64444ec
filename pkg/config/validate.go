package config

import (
	"fmt"
	"net/url"
	"path"
	"regexp"
	"slices"
	"strings"
	"time"
)

var (
	nameRE   = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$`)
	objectRE = regexp.MustCompile(`^[a-z0-9_]{1,63}$`) // slot and publication names
	pgHostKV = regexp.MustCompile(`(^|\s)host\s*=`)
)

// Words the design reserves but this version does not implement yet; they
// get "not supported yet" rather than "not known".
var (
	laterSinks = []string{"kafka", "nats", "jsonl"}
)

// validate reports every semantic problem of c, skipping keys that were
// already reported (a bad type, a failed ${VAR}).
func validate(c *Config, p *problems) {
	// at returns the key as it starts a message, or "" to skip the key.
	at := func(key string) string {
		if p.bad[key] {
			return ""
		}
		return key + p.from[key]
	}
	if k := at("name"); k != "" {
		switch {
		case c.Name == "":
			p.addf("%s: required (a short identifier, e.g. crm-to-dwh; it names the slot, publication and checkpoint)", k)
		case !nameRE.MatchString(c.Name):
			p.addf("%s: %q must be 1-63 letters, digits, '.', '_' or '-', starting with a letter or digit (e.g. crm-to-dwh)", k, c.Name)
		}
	}
	validateSource(&c.Source, at, p)
	validateSink(c, at, p)
	if k := at("checkpoint.kind"); k != "" {
		switch c.Checkpoint.Kind {
		case "file":
		case "sink":
			p.addf("%s: %q is not supported yet (supported: file)", k, c.Checkpoint.Kind)
		default:
			p.addf("%s: %q is not a known checkpoint store (supported: file)", k, c.Checkpoint.Kind)
		}
	}
	if k := at("log.level"); k != "" && !slices.Contains([]string{"debug", "info", "warn", "error"}, c.Log.Level) {
		p.addf("%s: %q must be debug, info, warn or error", k, c.Log.Level)
	}
	if k := at("log.format"); k != "" && !slices.Contains([]string{"", "json", "console"}, c.Log.Format) {
		p.addf("%s: %q must be json or console", k, c.Log.Format)
	}
	validateHTTP(&c.HTTP, at, p)
	validateTransforms(c.Transforms, p)
}

func validateSource(s *Source, at func(string) string, p *problems) {
	if k := at("source.kind"); k != "" {
		switch s.Kind {
		case "postgres", "mysql":
		case "":
			p.addf("%s: required (use %s)", k, sourceList(p))
		default:
			if !slices.Contains(kindNames("source", p.keys.kinds), s.Kind) {
				p.addf("%s: %q is not a known source (use %s)", k, s.Kind, sourceList(p))
			}
		}
	}
	// A registered kind other than postgres and mysql (kafka) has its own
	// connection keys.
	other := s.Kind != "postgres" && s.Kind != "mysql" && slices.Contains(kindNames("source", p.keys.kinds), s.Kind)
	if k := at("source.dsn"); k != "" && !other {
		checkDSN(k, s.Kind, s.DSN, p)
	}
	if k := at("source.tables"); k != "" {
		if s.Kind == "mysql" && len(s.Tables) == 0 {
			p.addf("%s: required for a mysql source (schema.table patterns, e.g. [shop.*])", k)
		}
		checkPatterns(k, s.Tables, p)
	}
	if k := at("source.exclude"); k != "" {
		checkPatterns(k, s.Exclude, p)
	}
	if k := at("source.signal_table"); k != "" {
		schema, table, ok := strings.Cut(s.SignalTable, ".")
		switch {
		case s.SignalTable == "" && s.SnapshotSignals:
			p.addf("%s: required with source.snapshot_signals: true when the first source.tables pattern names no single database (e.g. shop.sluice_signals)", k)
		case s.SignalTable != "" && (!ok || schema == "" || table == "" || strings.Contains(table, ".") || strings.ContainsAny(s.SignalTable, "*?[")):
			p.addf("%s: %q must be schema.table without globs (e.g. %s)", k, s.SignalTable, examples["source.signal_table"])
		}
	}
	if k := at("source.snapshot"); k != "" && s.Snapshot != "initial" && s.Snapshot != "never" {
		p.addf("%s: %q must be initial or never", k, s.Snapshot)
	}
	for _, o := range []struct{ key, val string }{
		{"source.postgres.slot", s.Postgres.Slot},
		{"source.postgres.publication", s.Postgres.Publication},
	} {
		if k := at(o.key); k != "" && o.val != "" && !objectRE.MatchString(o.val) {
			p.addf("%s: %q must be 1-63 characters from a-z, 0-9 and _ (e.g. %s, or leave it out for sluice_<name>)", k, o.val, examples[o.key])
		}
	}
	if k := at("source.postgres.snapshot_workers"); k != "" && (s.Postgres.SnapshotWorkers < 1 || s.Postgres.SnapshotWorkers > 64) {
		p.addf("%s: %d must be between 1 and 64", k, s.Postgres.SnapshotWorkers)
	}
	if k := at("source.mysql.snapshot_workers"); k != "" && (s.MySQL.SnapshotWorkers < 1 || s.MySQL.SnapshotWorkers > 64) {
		p.addf("%s: %d must be between 1 and 64", k, s.MySQL.SnapshotWorkers)
	}
	if k := at("source.mysql.server_id"); k != "" && s.Kind == "mysql" && s.MySQL.ServerID == 0 {
		p.addf("%s: required for a mysql source (a number from 1 to 4294967295 that no other replica of the server uses, e.g. 4001)", k)
	}
}

// sourceList names the source kinds for messages: "postgres or mysql".
func sourceList(p *problems) string {
	names := kindNames("source", p.keys.kinds)
	if len(names) < 2 {
		return strings.Join(names, "")
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}

func validateSink(c *Config, at func(string) string, p *problems) {
	s := &c.Sink
	sinks := knownList(kindNames("sink", p.keys.kinds))
	if k := at("sink.kind"); k != "" {
		switch {
		case slices.Contains(kindNames("sink", p.keys.kinds), s.Kind):
		case s.Kind == "":
			p.addf("%s: required (supported: %s)", k, sinks)
		case slices.Contains(laterSinks, s.Kind):
			p.addf("%s: %q is not supported yet (supported: %s)", k, s.Kind, sinks)
		default:
			p.addf("%s: %q is not a known sink (supported: %s)", k, s.Kind, sinks)
		}
	}
	if k, ok := kindOfRole("sink", s.Kind, p.keys.kinds); ok && !k.SQL {
		validateBatch(s, at, p)
		return // the SQL keys are refused in validateKinds
	}
	if k := at("sink.dsn"); k != "" {
		checkDSN(k, s.Kind, s.DSN, p)
		if s.Kind == c.Source.Kind && s.DSN != "" && s.DSN == c.Source.DSN && s.Schema == "" {
			p.addf("%s: is the source database and sink.schema is empty, so the target tables would be the source tables (set sink.schema, or point sink.dsn elsewhere)", k)
		}
	}
	validateSinkMode(c, at, p)
	if k := at("sink.schema_changes"); k != "" {
		if s.SchemaChanges != "" && !slices.Contains(schemaChangePolicies, s.SchemaChanges) {
			p.addf("%s: %q is not a known policy (supported: follow, which widens target columns as the source's widen and stops at other type changes; stop; ignore)", k, s.SchemaChanges)
		}
	}
	if k := at("sink.schema"); k != "" && len(s.Schema) > 63 {
		p.addf("%s: %q is longer than 63 bytes, PostgreSQL's limit for a name", k, s.Schema)
	}
	validateBatch(s, at, p)
}

func validateBatch(s *Sink, at func(string) string, p *problems) {
	if k := at("sink.batch.rows"); k != "" && s.Batch.Rows < 1 {
		p.addf("%s: must be at least 1 (got %d; e.g. 50000)", k, s.Batch.Rows)
	}
	if k := at("sink.batch.bytes"); k != "" && s.Batch.Bytes < 1<<10 {
		p.addf("%s: must be at least 1KiB (got %s; e.g. 64MiB)", k, formatSize(s.Batch.Bytes))
	}
	if k := at("sink.batch.wait"); k != "" && (s.Batch.Wait <= 0 || s.Batch.Wait > time.Hour) {
		p.addf("%s: must be more than 0 and at most 1h (got %s; e.g. 500ms)", k, s.Batch.Wait)
	}
}

// checkDSN checks that dsn has the form the kind's driver takes. A DSN
// that is malformed may hold its password where RedactDSN would not look,
// so messages quote at most its scheme.
func checkDSN(k, kind, dsn string, p *problems) {
	if dsn == "" {
		p.addf("%s: required (e.g. %s)", k, exampleDSN(kind))
		return
	}
	var isURL bool
	switch kind {
	case "postgres":
		isURL = strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://")
		if !isURL && !pgHostKV.MatchString(dsn) {
			p.addf("%s: %s is not a postgres DSN (use %s, or key=value form with host=, e.g. \"host=db dbname=crm user=replicator\")", k, dsnShape(dsn), exampleDSN(kind))
		}
	case "mysql":
		isURL = strings.HasPrefix(dsn, "mysql://")
		if !isURL {
			p.addf("%s: %s is not a mysql DSN (use %s)", k, dsnShape(dsn), exampleDSN(kind))
		}
	}
	// url.Parse's error would quote the password, so only say that it failed.
	if _, err := url.Parse(dsn); isURL && err != nil {
		p.addf("%s: is not a valid URL (percent-encode special characters in the user and password, e.g. @ as %%40)", k)
	}
}

// dsnShape describes a DSN for a message without quoting anything after
// its scheme.
func dsnShape(dsn string) string {
	if scheme, _, ok := strings.Cut(dsn, "://"); ok && !strings.ContainsAny(scheme, " =@:") {
		return fmt.Sprintf("a DSN starting with %q", scheme+"://")
	}
	if strings.Contains(dsn, "=") {
		return "a key=value DSN"
	}
	return "a DSN that is neither a URL nor key=value"
}

func exampleDSN(kind string) string {
	if kind == "mysql" {
		return "mysql://user:${MYSQL_PASSWORD}@host:3306/db"
	}
	return "postgres://user:${PGPASSWORD}@host:5432/db"
}

// checkPatterns checks include/exclude patterns: schema.table, each part
// non-empty and a valid path.Match glob.
func checkPatterns(k string, patterns []string, p *problems) {
	for _, pat := range patterns {
		schema, table, ok := strings.Cut(pat, ".")
		if !ok || schema == "" || table == "" || strings.Contains(table, ".") {
			p.addf("%s: pattern %q must be schema.table (e.g. public.* or public.customers)", k, pat)
			continue
		}
		if _, err := path.Match(pat, ""); err != nil {
			p.addf("%s: pattern %q is not a valid glob (* matches any run of characters, e.g. public.audit_*)", k, pat)
		}
	}
}
