package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// GroupPositions returns the applied positions of every pipeline whose
// name starts with prefix (the members of a kafka source's group, named
// <pipeline>@<member>), on a connection of its own; none when the target
// has no sluice.positions yet.
func GroupPositions(ctx context.Context, dsn, prefix string) ([]string, error) {
	cfg, err := parseDSN(dsn)
	if err != nil {
		return nil, fmt.Errorf("sink.dsn: invalid connection string")
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect to the target: %w", err)
	}
	defer conn.Close(ctx)
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT to_regclass('sluice.positions') IS NOT NULL").Scan(&exists); err != nil || !exists {
		return nil, err
	}
	rows, err := conn.Query(ctx, "SELECT position FROM sluice.positions WHERE left(pipeline, length($1)) = $1", prefix)
	if err != nil {
		return nil, fmt.Errorf("read the group's positions from sluice.positions: %w", err)
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}
