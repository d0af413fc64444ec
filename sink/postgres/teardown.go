package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// ForgetPosition removes the pipeline's applied position from the target's
// sluice.positions (with dryRun, only tells whether there is one). The
// replicated tables stay: they are the user's data.
func ForgetPosition(ctx context.Context, dsn, pipeline string, dryRun bool) (bool, error) {
	cfg, err := parseDSN(dsn)
	if err != nil {
		return false, fmt.Errorf("sink.dsn: invalid connection string")
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return false, fmt.Errorf("connect to the target: %w", err)
	}
	defer conn.Close(ctx)
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT to_regclass('sluice.positions') IS NOT NULL").Scan(&exists); err != nil || !exists {
		return false, err
	}
	if dryRun {
		err = conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM sluice.positions WHERE pipeline = $1)", pipeline).Scan(&exists)
		return exists, err
	}
	tag, err := conn.Exec(ctx, "DELETE FROM sluice.positions WHERE pipeline = $1", pipeline)
	if err != nil {
		return false, fmt.Errorf("delete the applied position from sluice.positions: %w", err)
	}
	return tag.RowsAffected() > 0, nil
}
