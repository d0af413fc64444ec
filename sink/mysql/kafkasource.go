package mysql

import (
	"context"
	"fmt"

	"github.com/rs/zerolog"
)

// GroupPositions returns the applied positions of every pipeline whose
// name starts with prefix (the members of a kafka source's group, named
// <pipeline>@<member>), on a connection of its own; none when the target
// has no sluice.positions yet.
func GroupPositions(ctx context.Context, dsn, prefix string) ([]string, error) {
	db, p, err := open(dsn, zerolog.Nop())
	if err != nil {
		return nil, err
	}
	defer db.Close()
	var n int
	if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'sluice' AND TABLE_NAME = 'positions'").Scan(&n); err != nil {
		return nil, fmt.Errorf("target at %s: %w", p.Addr(), err)
	}
	if n == 0 {
		return nil, nil
	}
	rows, err := db.QueryContext(ctx, "SELECT position FROM `sluice`.`positions` WHERE LEFT(pipeline, CHAR_LENGTH(?)) = ?", prefix, prefix)
	if err != nil {
		return nil, fmt.Errorf("read the group's positions from sluice.positions: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var pos string
		if err := rows.Scan(&pos); err != nil {
			return nil, err
		}
		out = append(out, pos)
	}
	return out, rows.Err()
}

// ForgetGroupPositions deletes the applied positions of every pipeline
// whose name starts with prefix (with dryRun, only counts them).
func ForgetGroupPositions(ctx context.Context, dsn, prefix string, dryRun bool) (int64, error) {
	db, p, err := open(dsn, zerolog.Nop())
	if err != nil {
		return 0, err
	}
	defer db.Close()
	var n int64
	if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'sluice' AND TABLE_NAME = 'positions'").Scan(&n); err != nil {
		return 0, fmt.Errorf("target at %s: %w", p.Addr(), err)
	}
	if n == 0 {
		return 0, nil
	}
	if dryRun {
		err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM `sluice`.`positions` WHERE LEFT(pipeline, CHAR_LENGTH(?)) = ?", prefix, prefix).Scan(&n)
		return n, err
	}
	res, err := db.ExecContext(ctx, "DELETE FROM `sluice`.`positions` WHERE LEFT(pipeline, CHAR_LENGTH(?)) = ?", prefix, prefix)
	if err != nil {
		return 0, fmt.Errorf("delete the group's positions from sluice.positions: %w", err)
	}
	return res.RowsAffected()
}
