package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// Check connects to the target and verifies Sluice can create its schemas
// and tables there; it returns every problem found, each with its fix.
func Check(ctx context.Context, dsn string) []string {
	cfg, err := parseDSN(dsn)
	if err != nil {
		return []string{"sink.dsn: invalid connection string"}
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return []string{fmt.Sprintf("sink: cannot connect to the target: %v (check sink.dsn, and that the server accepts connections from here)", err)}
	}
	defer conn.Close(ctx)
	var canCreate bool
	var user, db string
	if err := conn.QueryRow(ctx, "SELECT has_database_privilege(current_database(), 'CREATE'), current_user, current_database()").Scan(&canCreate, &user, &db); err != nil {
		return []string{fmt.Sprintf("sink: cannot read privileges: %v", err)}
	}
	if !canCreate {
		return []string{fmt.Sprintf("sink: role %s cannot create schemas in database %s; run GRANT CREATE ON DATABASE %s TO %s",
			user, db, pgx.Identifier{db}.Sanitize(), pgx.Identifier{user}.Sanitize())}
	}
	return nil
}
