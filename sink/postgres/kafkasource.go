package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/sluicecdc/sluice/pkg/change"
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

// TargetColumns returns the columns of a target table as format_type
// writes their types, in order (none when the table does not exist), on a
// connection of its own: the kafka source types the values of events
// without schemas by them.
func TargetColumns(ctx context.Context, dsn string, id change.TableID) ([]change.Column, error) {
	cfg, err := parseDSN(dsn)
	if err != nil {
		return nil, fmt.Errorf("sink.dsn: invalid connection string")
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect to the target: %w", err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT a.attname::text, format_type(a.atttypid, a.atttypmod), a.attnotnull
		FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = $1 AND c.relname = $2 AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum`, id.Schema, id.Name)
	if err != nil {
		return nil, fmt.Errorf("read the columns of target table %s: %w", id, err)
	}
	var cols []change.Column
	for rows.Next() {
		var c change.Column
		if err := rows.Scan(&c.Name, &c.Type, &c.NotNull); err != nil {
			return nil, err
		}
		cols = append(cols, c)
	}
	return cols, rows.Err()
}

// ForgetGroupPositions deletes the applied positions of every pipeline
// whose name starts with prefix (with dryRun, only counts them).
func ForgetGroupPositions(ctx context.Context, dsn, prefix string, dryRun bool) (int64, error) {
	cfg, err := parseDSN(dsn)
	if err != nil {
		return 0, fmt.Errorf("sink.dsn: invalid connection string")
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return 0, fmt.Errorf("connect to the target: %w", err)
	}
	defer conn.Close(ctx)
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT to_regclass('sluice.positions') IS NOT NULL").Scan(&exists); err != nil || !exists {
		return 0, err
	}
	if dryRun {
		var n int64
		err := conn.QueryRow(ctx, "SELECT count(*) FROM sluice.positions WHERE left(pipeline, length($1)) = $1", prefix).Scan(&n)
		return n, err
	}
	tag, err := conn.Exec(ctx, "DELETE FROM sluice.positions WHERE left(pipeline, length($1)) = $1", prefix)
	if err != nil {
		return 0, fmt.Errorf("delete the group's positions from sluice.positions: %w", err)
	}
	return tag.RowsAffected(), nil
}
