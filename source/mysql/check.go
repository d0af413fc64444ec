package mysql

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/sluicecdc/sluice/pkg/change"
)

// settings are the server variables streaming depends on.
type settings map[string]string

func (s *Source) readSettings(ctx context.Context) (settings, error) {
	rows, err := s.db.QueryContext(ctx, `SHOW GLOBAL VARIABLES WHERE Variable_name IN ('log_bin', 'binlog_format', 'binlog_row_image',
		'binlog_row_metadata', 'binlog_row_value_options', 'server_id', 'gtid_mode', 'expire_logs_days', 'binlog_expire_logs_seconds')`)
	if err != nil {
		return nil, fmt.Errorf("source: read server settings: %w", err)
	}
	defer rows.Close()
	set := settings{}
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			return nil, fmt.Errorf("source: read server settings: %w", err)
		}
		set[strings.ToLower(k)] = v
	}
	return set, rows.Err()
}

// streamProblems are the settings without which the binlog cannot be
// replicated exactly, each with its fix.
func (set settings) streamProblems() []string {
	var out []string
	if v := set["log_bin"]; v != "ON" && v != "1" {
		out = append(out, "source: log_bin is OFF, the server writes no binary log; add log_bin = binlog (and a server_id) under [mysqld] in my.cnf and restart the server")
		return out
	}
	if v := set["binlog_format"]; !strings.EqualFold(v, "ROW") {
		out = append(out, fmt.Sprintf("source: binlog_format is %s, not ROW; set binlog_format = ROW under [mysqld] in my.cnf and run SET GLOBAL binlog_format = 'ROW' "+
			"(open sessions keep the old format until they reconnect)", v))
	}
	if v := set["binlog_row_image"]; !strings.EqualFold(v, "FULL") {
		out = append(out, fmt.Sprintf("source: binlog_row_image is %s, not FULL; set binlog_row_image = FULL under [mysqld] in my.cnf and run SET GLOBAL binlog_row_image = 'FULL'", v))
	}
	switch v, ok := set["binlog_row_metadata"]; {
	case !ok:
		out = append(out, "source: the server has no binlog_row_metadata setting; Sluice needs MySQL 8.0.1+ or MariaDB 10.5+ with binlog_row_metadata = FULL")
	case !strings.EqualFold(v, "FULL"):
		out = append(out, fmt.Sprintf("source: binlog_row_metadata is %s, not FULL (the binlog then lacks column names, signedness and enum labels); "+
			"set binlog_row_metadata = FULL under [mysqld] in my.cnf and run SET GLOBAL binlog_row_metadata = 'FULL'", v))
	}
	if v := set["binlog_row_value_options"]; strings.Contains(strings.ToUpper(v), "PARTIAL_JSON") {
		out = append(out, "source: binlog_row_value_options is PARTIAL_JSON, so JSON updates are logged as diffs Sluice cannot apply; "+
			"remove it from my.cnf and run SET GLOBAL binlog_row_value_options = ''")
	}
	if set["server_id"] == "0" {
		out = append(out, "source: server_id is 0, so the server refuses replicas; set server_id = 1 (any unique number) under [mysqld] in my.cnf and run SET GLOBAL server_id = 1")
	}
	return out
}

// Check inspects the source server, the user's privileges and the selected
// tables, and returns every problem found, each with its fix.
func (s *Source) Check(ctx context.Context) []string {
	var problems []string
	add := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	set, err := s.readSettings(ctx)
	if err != nil {
		return []string{err.Error()}
	}
	problems = append(problems, set.streamProblems()...)
	if set["server_id"] == strconv.FormatUint(uint64(s.serverID), 10) {
		add("source: the server's own server_id is %s, the replica server id Sluice uses; set source.mysql.server_id to another number", set["server_id"])
	}
	s.checkReplicas(ctx, add)
	if s.flavor == "mysql" && !strings.EqualFold(set["gtid_mode"], "ON") {
		add("source (advice): gtid_mode is %s, so Sluice resumes by binlog file and offset, which do not survive a failover to a replica; "+
			"for GTID positions set gtid_mode = ON and enforce_gtid_consistency = ON in my.cnf", set["gtid_mode"])
	}
	secs, _ := strconv.ParseFloat(set["binlog_expire_logs_seconds"], 64)
	if days, _ := strconv.ParseFloat(set["expire_logs_days"], 64); secs == 0 && days > 0 {
		secs = days * 86400
	}
	if secs > 0 && secs < 86400 {
		add("source: binlogs are purged after %.0f seconds (binlog_expire_logs_seconds / expire_logs_days); if Sluice is stopped longer it must copy every table again: "+
			"keep them at least a day, e.g. binlog_expire_logs_seconds = 604800 under [mysqld] in my.cnf and SET GLOBAL binlog_expire_logs_seconds = 604800", secs)
	}
	s.checkPrivileges(ctx, add)

	all, err := s.allTables(ctx)
	if err != nil {
		add("source: %v", err)
		return problems
	}
	missing := false
	for _, p := range s.opts.Tables {
		found := false
		for _, id := range all {
			if id.MatchesAny([]string{p}) {
				found = true
				break
			}
		}
		if !found {
			missing = true
			add("source.tables: pattern %q matches no table %s can see; check it (database.table, * and ? globs), or grant access: GRANT SELECT ON db.* TO %s",
				p, s.user(ctx), s.user(ctx))
		}
	}
	var selected []change.TableID
	for _, id := range all {
		if s.selected(id.Schema, id.Name) {
			selected = append(selected, id)
		}
	}
	if len(selected) == 0 && !missing {
		add("source.tables: %v (minus source.exclude %v) matches no table; check the patterns (database.table, * and ? globs)", s.opts.Tables, s.opts.Exclude)
	}
	keys := map[string]map[string][]string{}
	for _, id := range selected {
		if _, ok := keys[id.Schema]; !ok {
			if keys[id.Schema], err = readKeys(ctx, s.db, id.Schema); err != nil {
				add("source: %v", err)
				keys[id.Schema] = map[string][]string{}
			}
		}
		if len(keys[id.Schema][id.Name]) == 0 {
			add("source table %s has no primary key: it is replicated with the full row image, but an update or delete on the target changes the first equal row; "+
				"add a primary key (ALTER TABLE %s ADD PRIMARY KEY (...)) or exclude it in source.exclude", id, quoteTable(id))
		}
		if _, err := s.db.ExecContext(ctx, "SELECT 1 FROM "+quoteTable(id)+" LIMIT 0"); err != nil && isAccessDenied(err) {
			add("source: %s cannot read table %s (needed for the snapshot); run GRANT SELECT ON %s TO %s", s.user(ctx), id, quoteTable(id), s.user(ctx))
		}
	}
	return problems
}

// allTables lists every base table outside the system schemas.
func (s *Source) allTables(ctx context.Context) ([]change.TableID, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT TABLE_SCHEMA, TABLE_NAME FROM information_schema.TABLES
		WHERE TABLE_TYPE = 'BASE TABLE' AND TABLE_SCHEMA NOT IN ('mysql', 'information_schema', 'performance_schema', 'sys')`)
	if err != nil {
		return nil, fmt.Errorf("list tables: %w", err)
	}
	defer rows.Close()
	var out []change.TableID
	for rows.Next() {
		var id change.TableID
		if err := rows.Scan(&id.Schema, &id.Name); err != nil {
			return nil, err
		}
		out = append(out, id)
	}
	return out, rows.Err()
}

// checkReplicas reports another replica registered with our server id.
func (s *Source) checkReplicas(ctx context.Context, add func(string, ...any)) {
	rows, err := s.db.QueryContext(ctx, "SHOW SLAVE HOSTS")
	if err != nil && s.flavor == "mysql" {
		rows, err = s.db.QueryContext(ctx, "SHOW REPLICAS")
	}
	if err != nil {
		return // needs REPLICATION MASTER ADMIN on MariaDB; nothing to learn without it
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	for rows.Next() {
		vals, err := scanStrings(rows, len(cols))
		if err != nil || len(vals) < 3 {
			return
		}
		if vals[0].String == strconv.FormatUint(uint64(s.serverID), 10) {
			add("source: another replica (%s:%s) is connected with server id %s, the one Sluice uses; the server disconnects one of them: "+
				"set source.mysql.server_id to a number no other replica uses", vals[1].String, vals[2].String, vals[0].String)
		}
	}
}

// checkPrivileges reads the user's global grants.
func (s *Source) checkPrivileges(ctx context.Context, add func(string, ...any)) {
	user := s.user(ctx)
	rows, err := s.db.QueryContext(ctx, "SHOW GRANTS")
	if err != nil {
		add("source: cannot read the privileges of %s: %v", user, err)
		return
	}
	defer rows.Close()
	var global string
	for rows.Next() {
		var g string
		if rows.Scan(&g) != nil {
			return
		}
		if up := strings.ToUpper(g); strings.Contains(up, " ON *.* TO ") {
			global += " " + up
		}
	}
	has := func(privs ...string) bool {
		if strings.Contains(global, "ALL PRIVILEGES") {
			return true
		}
		for _, p := range privs {
			if strings.Contains(global, p) {
				return true
			}
		}
		return false
	}
	if !has("REPLICATION SLAVE", "REPLICATION REPLICA") {
		add("source: %s lacks REPLICATION SLAVE, needed to read the binlog; run GRANT REPLICATION SLAVE ON *.* TO %s", user, user)
	}
	if _, err := s.db.ExecContext(ctx, "SHOW MASTER STATUS"); err != nil && isAccessDenied(err) {
		if s.flavor == "mariadb" {
			add("source: %s lacks BINLOG MONITOR, needed to read the binlog position; run GRANT BINLOG MONITOR ON *.* TO %s", user, user)
		} else {
			add("source: %s lacks REPLICATION CLIENT, needed to read the binlog position; run GRANT REPLICATION CLIENT ON *.* TO %s", user, user)
		}
	}
	if s.flavor == "mysql" && !has("RELOAD") { // MariaDB snapshots without it, with one worker
		add("source: %s lacks RELOAD, which the snapshot needs for a moment (FLUSH TABLES WITH READ LOCK); run GRANT RELOAD ON *.* TO %s", user, user)
	}
}

// user is the connected account as 'user'@'host'.
func (s *Source) user(ctx context.Context) string {
	var cu string
	if s.db.QueryRowContext(ctx, "SELECT CURRENT_USER()").Scan(&cu) != nil {
		return "'" + s.dsn.User + "'"
	}
	u, h, _ := strings.Cut(cu, "@")
	return "'" + u + "'@'" + h + "'"
}
