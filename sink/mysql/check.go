package mysql

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"strings"

	"github.com/rs/zerolog"
)

// Check connects to the target and verifies Sluice can create, change and
// drop tables there, and that commits are durable when they return; it
// returns every problem found, each with its fix.
func Check(ctx context.Context, dsn string) []string {
	db, p, err := open(dsn, zerolog.Nop())
	if err != nil {
		return []string{err.Error()}
	}
	defer db.Close()
	conn, err := db.Conn(ctx)
	if err != nil {
		return []string{fmt.Sprintf("sink: cannot connect to the target at %s as %s: %v (check sink.dsn, and that the server accepts connections from here)",
			p.Addr(), p.User, err)}
	}
	defer conn.Close()
	var user string
	var flush int
	if err := conn.QueryRowContext(ctx, "SELECT CURRENT_USER(), @@innodb_flush_log_at_trx_commit").Scan(&user, &flush); err != nil {
		return []string{fmt.Sprintf("sink: cannot read the target's settings: %v", err)}
	}
	var problems []string
	if what, err := tryTables(ctx, conn); err != nil {
		problems = append(problems, fmt.Sprintf("sink: user %s cannot %s in the target (%v); run GRANT SELECT, INSERT, UPDATE, DELETE, CREATE, ALTER, DROP ON *.* TO %s",
			user, what, err, grantee(user)))
	}
	if flush != 1 {
		problems = append(problems, fmt.Sprintf("sink: innodb_flush_log_at_trx_commit is %d on the target, so commits Sluice counts as durable (the source then releases them) can be lost if the target crashes; "+
			"run SET GLOBAL innodb_flush_log_at_trx_commit=1 and set it in the server's configuration", flush))
	}
	return problems
}

// tryTables does in a scratch table what the sink does to target tables.
// It returns what failed.
func tryTables(ctx context.Context, conn *sql.Conn) (string, error) {
	table := fmt.Sprintf("`sluice`.`check_%d`", os.Getpid())
	steps := []struct{ what, sql string }{
		{"create databases", "CREATE DATABASE IF NOT EXISTS `sluice`"},
		{"create tables", "CREATE TABLE IF NOT EXISTS " + table + " (id int PRIMARY KEY, v int) ENGINE=InnoDB"},
		{"insert rows", "INSERT INTO " + table + " VALUES (1, 1) ON DUPLICATE KEY UPDATE v = VALUES(v)"},
		{"update rows", "UPDATE " + table + " SET v = 2 WHERE id = 1"},
		{"add columns", "ALTER TABLE " + table + " ADD COLUMN w int"},
		{"delete rows", "DELETE FROM " + table},
		{"drop tables", "DROP TABLE " + table},
	}
	for i, st := range steps {
		if _, err := conn.ExecContext(ctx, st.sql); err != nil {
			if i > 1 {
				conn.ExecContext(ctx, "DROP TABLE IF EXISTS "+table) //nolint:errcheck // best effort
			}
			return st.what, err
		}
	}
	return "", nil
}

// grantee quotes CURRENT_USER()'s user@host for a GRANT statement.
func grantee(user string) string {
	i := strings.LastIndexByte(user, '@')
	if i < 0 {
		return "'" + user + "'"
	}
	return "'" + user[:i] + "'@'" + user[i+1:] + "'"
}
