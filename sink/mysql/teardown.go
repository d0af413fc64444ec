package mysql

import (
	"context"
	"fmt"

	"github.com/rs/zerolog"
)

// ForgetPosition removes the pipeline's applied position from the target's
// `sluice`.`positions` (with dryRun, only tells whether there is one). The
// replicated tables stay: they are the user's data.
func ForgetPosition(ctx context.Context, dsn, pipeline string, dryRun bool) (bool, error) {
	db, p, err := open(dsn, zerolog.Nop())
	if err != nil {
		return false, err
	}
	defer db.Close()
	var n int
	if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'sluice' AND TABLE_NAME = 'positions'").Scan(&n); err != nil {
		return false, fmt.Errorf("target at %s: %w", p.Addr(), err)
	}
	if n == 0 {
		return false, nil
	}
	if dryRun {
		err = db.QueryRowContext(ctx, "SELECT COUNT(*) FROM `sluice`.`positions` WHERE pipeline = ?", pipeline).Scan(&n)
		return n > 0, err
	}
	res, err := db.ExecContext(ctx, "DELETE FROM `sluice`.`positions` WHERE pipeline = ?", pipeline)
	if err != nil {
		return false, fmt.Errorf("delete the applied position from sluice.positions: %w", err)
	}
	k, _ := res.RowsAffected()
	return k > 0, nil
}
