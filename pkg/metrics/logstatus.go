package metrics

import (
	"github.com/rs/zerolog"

	"github.com/sluicecdc/sluice/pkg/pipeline"
)

// setLog fills in what the source tells about its log: its head, how far
// it is ahead in bytes, and the slot (named slot) when the source keeps
// one.
func (s *Status) setLog(ls pipeline.LogStatus, slot string) {
	s.Position.SourceHead = ls.Head
	if ls.BehindBytes >= 0 {
		s.Lag.Bytes = ptr(ls.BehindBytes)
	}
	if ls.SlotStatus != "" || ls.RetainedBytes >= 0 {
		sl := &Slot{Name: slot, WALStatus: ls.SlotStatus, Confirmed: ls.Confirmed, Restart: ls.Restart}
		if ls.RetainedBytes >= 0 {
			sl.RetainedBytes = ptr(ls.RetainedBytes)
		}
		if ls.Reading != pipeline.ReadingUnknown {
			sl.Active = ptr(ls.Reading == pipeline.ReadingActive)
		}
		s.Slot = sl
	}
}

// SetOfflineLog fills in, for a status read without the running process,
// what the source tells about its log, and the state it implies: whether
// a reader is on the slot, and whether the checkpoint can be resumed at
// all.
func (s *Status) SetOfflineLog(ls pipeline.LogStatus, slot string) {
	s.setLog(ls, slot)
	switch ls.Reading {
	case pipeline.ReadingActive:
		s.State = "running (the slot's reader is connected; set http.listen for details)"
	case pipeline.ReadingIdle:
		s.State = "not running (no reader on the slot)"
	}
	if ls.Purged {
		s.State = "cannot resume: the source no longer has the checkpoint's binlog file (oldest kept: " + ls.Restart + "); run `sluice run --resnapshot`"
	}
}

// LogWatch logs when the source's log turns dangerous for the pipeline or
// back: the slot's wal_status, a purged binlog. Its zero value is ready;
// one per probe loop.
type LogWatch struct {
	slot   string // the last wal_status
	purged bool
}

// See compares ls with the last status seen and logs the changes.
func (w *LogWatch) See(log zerolog.Logger, ls pipeline.LogStatus) {
	w.slot = warnSlot(log, w.slot, ls)
	if ls.Purged && !w.purged {
		log.Error().Str("oldest_binlog", ls.Restart).Msg("the source purged the binlog file the checkpoint needs: if Sluice stops now it cannot resume; " +
			"let it catch up, keep binlogs longer (binlog_expire_logs_seconds), or run `sluice run --resnapshot`")
	}
	w.purged = ls.Purged
}

// warnSlot logs when the slot's wal_status changes for the worse (WAL the
// slot holds beyond max_wal_size: extended, then unreserved — removed at
// the next checkpoint — then lost) or back to normal; it returns the
// status to compare the next one with.
func warnSlot(log zerolog.Logger, last string, ls pipeline.LogStatus) string {
	st := ls.SlotStatus
	if st == last || st == "" || st == "missing" {
		return last
	}
	ev := log.Warn()
	switch st {
	case "reserved":
		if last == "" {
			return st
		}
		ev = log.Info()
	case "lost":
		ev = log.Error()
	}
	ev.Str("wal_status", st).Int64("retained_wal_bytes", ls.RetainedBytes).Str("confirmed", ls.Confirmed).
		Msg(map[string]string{
			"reserved":   "the replication slot's retained WAL is back within max_wal_size",
			"extended":   "the replication slot retains WAL beyond max_wal_size: Sluice is behind; if it keeps growing, check the target and sluice_lag_seconds (max_slot_wal_keep_size caps it)",
			"unreserved": "the replication slot's WAL will be removed at the next checkpoint (max_slot_wal_keep_size reached): the slot is about to be lost; make Sluice catch up now",
			"lost":       "the replication slot lost WAL it needed: changes since the checkpoint cannot be read; run `sluice run --resnapshot`",
		}[st])
	return st
}
