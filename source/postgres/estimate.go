package postgres

import (
	"context"
	"fmt"

	"github.com/sluicecdc/sluice/pkg/change"
	"github.com/sluicecdc/sluice/pkg/pipeline"
)

var _ pipeline.Estimator = (*snapshot)(nil)

// Estimate returns the planner's row estimate of a table (the sum over its
// partitions for a partitioned one): reltuples, or the statistics
// collector's live-row count when that is higher (a table loaded since it
// was last analyzed). Cheap: no rows are counted.
func (sn *snapshot) Estimate(ctx context.Context, t *change.Table) (int64, error) {
	relid, ok := sn.relids[t]
	if !ok {
		return -1, nil
	}
	var n *int64
	// pg_partition_tree lists a partitioned table's partitions, and
	// nothing for a plain table.
	err := sn.pool.QueryRow(ctx, `SELECT sum(GREATEST(c.reltuples, coalesce(st.n_live_tup, 0), 0))::int8
		FROM pg_class c LEFT JOIN pg_stat_all_tables st ON st.relid = c.oid
		WHERE c.oid IN (SELECT relid FROM pg_partition_tree($1::int8::oid) WHERE isleaf
			UNION ALL SELECT $1::int8::oid WHERE NOT EXISTS (SELECT FROM pg_partition_tree($1::int8::oid)))`, int64(relid)).Scan(&n)
	if err != nil {
		return -1, fmt.Errorf("estimate rows of %s: %w", t.ID, err)
	}
	if n == nil {
		return -1, nil
	}
	return *n, nil
}
