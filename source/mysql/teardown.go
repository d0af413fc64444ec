package mysql

import "context"

// Teardown has nothing to drop: a binlog reader holds nothing on the
// server (the server keeps binlogs for its own retention time).
func (s *Source) Teardown(context.Context, bool) ([]string, error) { return nil, nil }
