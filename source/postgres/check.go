package postgres

import (
	"context"
	"fmt"
	"strconv"

	"github.com/jackc/pgx/v5"
)

// Check inspects the source server and the selected tables before anything
// is created, and returns every problem found, each with its fix.
func (s *Source) Check(ctx context.Context) []string {
	var problems []string
	add := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	setting := func(name string) string {
		var v string
		if err := s.meta.QueryRow(ctx, "SELECT current_setting($1)", name).Scan(&v); err != nil {
			add("source: cannot read setting %s: %v", name, err)
		}
		return v
	}
	if v := setting("wal_level"); v != "" && v != "logical" {
		add("source: wal_level is %q; set wal_level = logical in postgresql.conf (or ALTER SYSTEM SET wal_level = logical) and restart the server", v)
	}
	var slotsUsed, sendersUsed int
	_ = s.meta.QueryRow(ctx, "SELECT count(*) FROM pg_replication_slots WHERE slot_name <> $1", s.opts.Slot).Scan(&slotsUsed)
	_ = s.meta.QueryRow(ctx, "SELECT count(*) FROM pg_stat_replication").Scan(&sendersUsed)
	if n, err := strconv.Atoi(setting("max_replication_slots")); err == nil && slotsUsed >= n {
		add("source: all %d replication slots are in use (max_replication_slots); raise max_replication_slots and restart, or drop an unused slot with pg_drop_replication_slot", n)
	}
	if n, err := strconv.Atoi(setting("max_wal_senders")); err == nil && sendersUsed >= n {
		add("source: all %d WAL senders are busy (max_wal_senders); raise max_wal_senders and restart", n)
	}
	var user string
	var repl, super bool
	if err := s.meta.QueryRow(ctx, "SELECT current_user, rolreplication, rolsuper FROM pg_roles WHERE rolname = current_user").Scan(&user, &repl, &super); err != nil {
		add("source: cannot read the role's privileges: %v", err)
	} else if !repl && !super {
		add("source: role %s lacks the REPLICATION privilege; run ALTER ROLE %s REPLICATION", user, pgx.Identifier{user}.Sanitize())
	}
	if _, err := s.checkOwner(ctx, s.meta); err != nil {
		add("source: %v", err)
	}
	tables, err := SelectTables(ctx, s.meta, s.opts.Tables, s.opts.Exclude)
	if err != nil {
		add("source: %v", err)
		return problems
	}
	if len(tables) == 0 {
		add("source.tables: %v (minus source.exclude %v) matches no table; check the patterns (schema.table, * globs)", s.opts.Tables, s.opts.Exclude)
	}
	for _, id := range tables {
		var hasPK bool
		var ident string
		err := s.meta.QueryRow(ctx, `SELECT c.relreplident::text, EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND (i.indisprimary OR i.indisreplident))
			FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = $2`, id.Schema, id.Name).Scan(&ident, &hasPK)
		if err != nil {
			add("source: cannot inspect table %s: %v", id, err)
			continue
		}
		if ident == "n" || (!hasPK && ident != "f") {
			add("source table %s has no primary key or replica identity: once published, UPDATE and DELETE on it fail on the source; "+
				"add a primary key, or run ALTER TABLE %s REPLICA IDENTITY FULL (or exclude it in source.exclude)", id, pgx.Identifier{id.Schema, id.Name}.Sanitize())
		}
	}
	if len(problems) == 0 {
		// Only a bare read: privileges on each table for the snapshot.
		for _, id := range tables {
			var ok bool
			if err := s.meta.QueryRow(ctx, "SELECT has_table_privilege($1, 'SELECT')", pgx.Identifier{id.Schema, id.Name}.Sanitize()).Scan(&ok); err == nil && !ok {
				add("source: role %s cannot SELECT from %s (needed for the snapshot); run GRANT SELECT ON %s TO %s", user, id, pgx.Identifier{id.Schema, id.Name}.Sanitize(), pgx.Identifier{user}.Sanitize())
			}
		}
	}
	return problems
}
