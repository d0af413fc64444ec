package mysql

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/sluicecdc/sluice/pkg/change"
	"github.com/sluicecdc/sluice/pkg/pipeline"
)

var _ pipeline.Estimator = (*snapshot)(nil)

// Estimate returns the table's row estimate from information_schema
// (InnoDB's sampled statistics; no rows are counted).
func (sn *snapshot) Estimate(ctx context.Context, t *change.Table) (int64, error) {
	var n sql.NullInt64
	err := sn.s.db.QueryRowContext(ctx, "SELECT TABLE_ROWS FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?",
		t.ID.Schema, t.ID.Name).Scan(&n)
	if err != nil {
		return -1, fmt.Errorf("estimate rows of %s: %w", t.ID, err)
	}
	if !n.Valid {
		return -1, nil
	}
	return n.Int64, nil
}
