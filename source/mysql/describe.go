package mysql

import (
	"context"

	"github.com/sluicecdc/sluice/pkg/change"
	"github.com/sluicecdc/sluice/pkg/pipeline"
)

var _ pipeline.Describer = (*Source)(nil)

// DescribeTables returns information_schema's current shape of every table
// source.tables selects, as the snapshot and the binlog decoder build them.
func (s *Source) DescribeTables(ctx context.Context) ([]*change.Table, error) {
	ids, err := s.selectTables(ctx, s.db)
	if err != nil {
		return nil, err
	}
	ts, _, err := s.describeTables(ctx, s.db, ids)
	return ts, err
}
