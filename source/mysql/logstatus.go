package mysql

import (
	"context"
	"fmt"
	"slices"
	"strconv"

	"github.com/sluicecdc/sluice/pkg/change"
	"github.com/sluicecdc/sluice/pkg/pipeline"
)

var _ pipeline.LogReporter = (*Source)(nil)

// LogStatus compares the server's current binlog position with the applied
// one, on the metadata connection pool (never the binlog connection): the
// distance in bytes across binlog files (from SHOW BINARY LOGS), the oldest
// file the server keeps, and whether the applied one is purged already.
// The server does not say whether the binlog reader is connected.
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
	if !sameLog(a, head) {
		return ls, nil // another server's files: no distance in bytes
	}
	if a.File == head.File {
		ls.BehindBytes = int64(max(head.Pos, a.Pos) - a.Pos)
	}
	logs, err := s.binaryLogs(ctx)
	if err != nil || len(logs) == 0 {
		return ls, err
	}
	ls.Restart = logs[0].name
	if a.File == "" || a.File == head.File {
		return ls, nil
	}
	i := slices.IndexFunc(logs, func(l binlogFile) bool { return l.name == a.File })
	if i < 0 {
		// Binlog names sort in order; one older than the oldest kept is gone.
		ls.Purged = a.File < logs[0].name
		return ls, nil
	}
	behind := max(logs[i].size-int64(a.Pos), 0) + int64(head.Pos)
	for _, l := range logs[i+1:] {
		if l.name == head.File {
			ls.BehindBytes = behind
			break
		}
		behind += l.size
	}
	return ls, nil
}

type binlogFile struct {
	name string
	size int64
}

// binaryLogs lists the binlog files the server keeps, oldest first.
func (s *Source) binaryLogs(ctx context.Context) ([]binlogFile, error) {
	rows, err := s.db.QueryContext(ctx, "SHOW BINARY LOGS")
	if err != nil {
		return nil, fmt.Errorf("list the source's binlog files: %w%s", err, privilegeHint(err, s.flavor))
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	var out []binlogFile
	for rows.Next() {
		vals, err := scanStrings(rows, len(cols)) // Log_name, File_size (MySQL 8 adds Encrypted)
		if err != nil {
			return nil, err
		}
		if len(vals) < 2 {
			return nil, fmt.Errorf("SHOW BINARY LOGS returned %d columns", len(vals))
		}
		size, _ := strconv.ParseInt(vals[1].String, 10, 64)
		out = append(out, binlogFile{name: vals[0].String, size: size})
	}
	return out, rows.Err()
}
