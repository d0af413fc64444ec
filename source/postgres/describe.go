package postgres

import (
	"context"

	"github.com/sluicecdc/sluice/pkg/change"
	"github.com/sluicecdc/sluice/pkg/pipeline"
)

var _ pipeline.Describer = (*Source)(nil)

// DescribeTables returns the catalog's current shape of every table
// source.tables selects, as a snapshot would describe them.
func (s *Source) DescribeTables(ctx context.Context) ([]*change.Table, error) {
	ids, err := SelectTables(ctx, s.meta, s.opts.Tables, s.opts.Exclude)
	if err != nil {
		return nil, err
	}
	out := make([]*change.Table, 0, len(ids))
	for _, id := range ids {
		t, _, err := describeTable(ctx, s.meta, id)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, nil
}
