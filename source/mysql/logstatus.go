package mysql

import (
	"context"

	"github.com/sluicecdc/sluice/pkg/change"
	"github.com/sluicecdc/sluice/pkg/pipeline"
)

var _ pipeline.LogReporter = (*Source)(nil)

// LogStatus compares the server's current binlog position with the applied
// one, on the metadata connection pool (never the binlog connection). The
// distance in bytes is known only while both are in the same binlog file;
// the server does not say whether the binlog reader is connected.
func (s *Source) LogStatus(ctx context.Context, applied change.Position) (pipeline.LogStatus, error) {
	ls := pipeline.LogStatus{BehindBytes: -1, RetainedBytes: -1}
	head, err := s.currentPosition(ctx, s.db)
	if err != nil {
		return ls, err
	}
	ls.Head = head.String()
	var a Position
	switch p := applied.(type) {
	case Position:
		a = p
	case *Position:
		if p == nil {
			return ls, nil
		}
		a = *p
	default:
		return ls, nil
	}
	if a.File == head.File {
		ls.BehindBytes = int64(max(head.Pos, a.Pos) - a.Pos)
	}
	return ls, nil
}
