package mysql

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"time"

	gomysql "github.com/go-mysql-org/go-mysql/mysql"

	"github.com/sluicecdc/sluice/pkg/change"
)

// ErrLogChanged means the source's binary log is no longer the one a
// position points into: it was reset (RESET MASTER), log_bin was renamed,
// the server lost the end of its binlog in a crash, or it is another server
// that lacks the position's transactions. What happened after the position
// cannot be read any more; only a new snapshot recovers.
var ErrLogChanged = errors.New("the source's binary log is not the one the position points into")

// errFollowed tells the stream to reconnect at once: it moved its resume
// point to the start of a binary log that was reset under it.
var errFollowed = errors.New("following the source's reset binary log")

// logState is what a server says about its binary log now.
type logState struct {
	serverID uint32
	head     Position     // the end of the log, with the server's GTID state
	files    []binlogFile // the files it keeps, oldest first
}

func (s *Source) readLogState(ctx context.Context) (logState, error) {
	head, err := s.currentPosition(ctx, s.db)
	if err != nil {
		return logState{}, err
	}
	files, err := s.binaryLogs(ctx)
	if err != nil {
		return logState{}, err
	}
	if len(files) == 0 {
		return logState{}, errors.New("read the source's binlog files: SHOW BINARY LOGS lists none")
	}
	return logState{serverID: head.Server, head: head, files: files}, nil
}

// mismatch tells how p fails to point into the server's binary log as it
// is now, in words; "" when it does (or when only the server can tell, as
// for a purged file). On another server than p's, p's file and offset mean
// nothing: only its GTIDs are checked.
func (s *Source) mismatch(ctx context.Context, ls logState, p Position) (string, error) {
	if p.GTID != "" && compareGTID(p.GTID, ls.head.GTID) > 0 {
		head := ls.head.GTID
		if head == "" {
			head = "no GTID at all"
		}
		return fmt.Sprintf("the server's binlog holds %s, not the position's GTID %s", head, p.GTID), nil
	}
	if p.Server != 0 && p.Server != ls.serverID {
		if p.GTID == "" {
			return fmt.Sprintf("the position is in a binlog of server_id %d, this server's server_id is %d, "+
				"and without a GTID there is no way to find the place in its binlog", p.Server, ls.serverID), nil
		}
		return "", nil
	}
	if baseName(p.File) != baseName(ls.head.File) {
		return fmt.Sprintf("the position is in %s, but the server writes %s now (log_bin changed)", p.File, ls.head.File), nil
	}
	i := slices.IndexFunc(ls.files, func(f binlogFile) bool { return f.name == p.File })
	if i < 0 {
		oldest, newest := ls.files[0].name, ls.files[len(ls.files)-1].name
		n, _ := fileSeq(p.File)
		switch first, _ := fileSeq(oldest); {
		case n < first:
			return "", nil // purged: the server says so when asked for it
		case baseName(newest) == baseName(p.File) && n > mustSeq(newest):
			return fmt.Sprintf("the position is in %s, but the server's newest binlog is %s: its binlog numbering started over", p.File, newest), nil
		}
		return fmt.Sprintf("the server keeps %s to %s, but not %s", oldest, newest, p.File), nil
	}
	if int64(p.Pos) > ls.files[i].size {
		return fmt.Sprintf("the position is at offset %d of %s, which has %d bytes", p.Pos, p.File, ls.files[i].size), nil
	}
	if s.flavor != "mariadb" || p.GTID == "" {
		return "", nil
	}
	// The same file name may hold another log now: the GTID state there
	// must be the position's.
	var g sql.NullString
	if err := s.db.QueryRowContext(ctx, "SELECT BINLOG_GTID_POS(?, ?)", p.File, p.Pos).Scan(&g); err != nil {
		return "", fmt.Errorf("read the source's GTID state at %s:%d: %w", p.File, p.Pos, err)
	}
	if !g.Valid {
		return fmt.Sprintf("offset %d of %s is not where a transaction ends in the server's binlog", p.Pos, p.File), nil
	}
	if !sameMariaGTIDs(p.GTID, g.String) {
		return fmt.Sprintf("the server's binlog has the GTID state %q at %s:%d, the position %q", g.String, p.File, p.Pos, p.GTID), nil
	}
	return "", nil
}

func mustSeq(name string) uint64 {
	n, _ := fileSeq(name)
	return n
}

// sameMariaGTIDs tells whether every domain of the position's state has
// the same last GTID (server id included) in the server's state.
func sameMariaGTIDs(pos, server string) bool {
	p, err1 := parseMariaGTIDs(pos)
	s, err2 := parseMariaGTIDs(server)
	if err1 != nil || err2 != nil {
		return false
	}
	for _, g := range p {
		if h, ok := s.domain(g.Domain); !ok || h != g {
			return false
		}
	}
	return true
}

// Why a server's binlog may not hold a position, when nothing tells which.
const changedCauses = "the binlog was reset (RESET MASTER), log_bin was renamed, the server lost the end of its binlog in a crash, " +
	"or it is another server that does not hold these transactions"

// logChanged is the permanent error for a position the server's binlog no
// longer holds; why says what was found, causes what may have happened.
func logChanged(p Position, why, causes string) error {
	return &permanentError{fmt.Errorf("read the source binlog after %s: %w: %s; %s. "+
		"The changes since this position cannot be read: run `sluice run --resnapshot` to copy every table again", p, ErrLogChanged, why, causes)}
}

// checkResume verifies, before each session, that the resume point is in
// the server's binary log, and notes which server the session reads.
func (st *stream) checkResume(ctx context.Context) (logState, error) {
	ls, err := st.s.readLogState(ctx)
	if err != nil {
		return ls, err
	}
	p := st.resume()
	why, err := st.s.mismatch(ctx, ls, p)
	if err != nil {
		return ls, err
	}
	if why != "" {
		return ls, logChanged(p, why, changedCauses)
	}
	if p.Server != 0 && p.Server != ls.serverID && st.server != ls.serverID {
		st.s.opts.Log.Warn().Uint32("was", p.Server).Uint32("now", ls.serverID).Str("gtid", p.GTID).
			Msg("the source is another server than the one the position was read from (a failover?): resuming by GTID")
	}
	st.server = ls.serverID
	return ls, nil
}

// followReset handles the server's "could not find next log" while
// streaming. When the server's binlog was reset (RESET MASTER) after this
// session had read the old log to its end, reading goes on from the start
// of the new log, in the next epoch, so that the new log's positions come
// after every old one. The session read the old log to its end when the
// file it was reading ended without a Rotate to a next one: that file was
// the active log when the reset deleted it, and the server sends a file to
// its end before it looks for the next. (When the new log's first file has
// the old active file's name, the server never looks: idle catches that.)
// When it cannot follow it returns why, as a permanent error; nil when the
// log was not reset.
func (st *stream) followReset(ctx context.Context) error {
	ls, err := st.s.readLogState(ctx)
	if err != nil {
		return err
	}
	p := st.resume()
	why, err := st.s.mismatch(ctx, ls, p)
	switch {
	case err != nil:
		return err
	case why == "":
		return nil
	case ls.serverID != st.server:
		return logChanged(p, fmt.Sprintf("%s, and the server is another one now (server_id %d, was %d)", why, ls.serverID, st.server), changedCauses)
	case st.rotated != "":
		return logChanged(p, why, fmt.Sprintf("the binlog was reset (RESET MASTER) before Sluice had read it to its end: %s and later files were deleted unread",
			st.rotated))
	case st.inGroup:
		return logChanged(p, why, "the binlog was reset (RESET MASTER), and the old binlog ended inside a transaction")
	}
	first := ls.files[0].name
	st.epoch++
	st.s.epoch.Store(st.epoch)
	st.file, st.pos, st.curFile, st.srv, st.at = first, 4, first, ls.serverID, 4
	st.maria, st.useGTID = nil, false
	if st.mysqlSet != nil {
		empty := gomysql.NewMysqlGTIDSet()
		st.mysqlSet = &empty
	}
	st.s.opts.Log.Warn().Stringer("old", p).Stringer("new", st.resume()).Str("why", why).
		Msg("the source's binary log was reset (RESET MASTER) after Sluice had read all of it: reading on from the start of the new one")
	// An empty transaction carries the new position to the target and the
	// checkpoint, so a restart resumes in the new log, not in the old one.
	mark := change.NewTxn(st.s.opts.SpillDir, 0)
	mark.ID, mark.Commit, mark.Position = "binlog-reset@"+first, time.Now().UTC(), st.resume()
	if err := st.deliver(ctx, mark); err != nil {
		return err
	}
	return errFollowed
}

// idle handles a heartbeat: the server's dump thread waits at file:pos for
// the active binlog to grow. When the server's binlog has a file of that
// name that ends before pos, the binlog was reset and the new log reuses the
// name. The dump thread then waits for the new file to pass pos, and
// whatever the old log got after the session's last event is gone unread:
// the stream cannot go on.
func (st *stream) idle(ctx context.Context, file string, pos uint32) error {
	if file == "" || pos == 0 {
		return nil
	}
	qctx, cancel := context.WithTimeout(ctx, readTimeout)
	defer cancel()
	vals, err := st.s.masterStatus(qctx, st.s.db)
	if err != nil {
		st.s.opts.Log.Debug().Err(err).Msg("binlog end not read at a heartbeat")
		return nil
	}
	var end uint64
	fmt.Sscan(vals[1].String, &end) //nolint:errcheck // 0 when unreadable: then nothing is concluded
	if vals[0].String != file || end == 0 || end >= uint64(pos) {
		return nil
	}
	return logChanged(st.resume(), fmt.Sprintf("Sluice read %s up to offset %d, but the server's %s ends at %d now", file, pos, file, end),
		"the binlog was reset (RESET MASTER) and its new first file has the old one's name, "+
			"so the old binlog's last transactions may not have been sent")
}
