package metrics

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/sluicecdc/sluice/checkpoint"
)

// WriteText writes the status for people: one line per fact, then tables
// of changes, back-fills and the snapshot.
func WriteText(out io.Writer, s Status) {
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	line := func(k, format string, args ...any) { fmt.Fprintf(w, "%s\t%s\n", k, fmt.Sprintf(format, args...)) }
	from := "from the running process"
	if s.Origin != "process" {
		from = "from the checkpoint file and the source"
	}
	line("pipeline", "%s (%s)", s.Pipeline, from)
	if s.Note != "" {
		line("note", "%s", s.Note)
	}
	state := s.State
	if s.Origin == "process" {
		state += fmt.Sprintf(" since %s (%s ago)", s.Since.Format(time.RFC3339), ago(s.Since))
		if s.Ready {
			state += ", ready"
		} else {
			state += ", NOT READY: " + s.Reason
		}
	}
	line("state", "%s", state)
	if s.StateError != "" {
		line("error", "%s", s.StateError)
	}
	line("source", "%s", endpointText(s.Source))
	line("target", "%s", endpointText(s.Sink))
	p := s.Position
	if p.Applied != "" {
		v := p.Applied
		if p.AppliedCommit != nil {
			v += fmt.Sprintf(" (source commit %s)", p.AppliedCommit.Format(time.RFC3339Nano))
		}
		line("applied", "%s", v)
	}
	if p.Checkpoint != "" || p.Phase != "" {
		v := p.Checkpoint
		if p.Phase == string(checkpoint.PhaseSnapshot) {
			v = "snapshot not finished (the next run copies the tables again)"
		}
		if p.SavedAt != nil {
			v += fmt.Sprintf(", saved %s (%s ago)", p.SavedAt.Format(time.RFC3339), ago(*p.SavedAt))
		}
		line("checkpoint", "%s", v)
	} else if s.Origin != "process" {
		line("checkpoint", "none yet")
	}
	if p.SourceHead != "" {
		line("source head", "%s", p.SourceHead)
	}
	var lag []string
	if s.Lag.Seconds != nil {
		lag = append(lag, fmt.Sprintf("%.3f s", *s.Lag.Seconds))
	}
	if s.Lag.Bytes != nil {
		lag = append(lag, bytesText(*s.Lag.Bytes)+" of log")
	}
	if len(lag) > 0 {
		line("lag", "%s", strings.Join(lag, ", "))
	}
	if sl := s.Slot; sl != nil {
		v := sl.Name
		if sl.WALStatus != "" {
			v += " wal_status=" + sl.WALStatus
		}
		if sl.Active != nil {
			v += map[bool]string{true: " active", false: " inactive"}[*sl.Active]
		}
		if sl.RetainedBytes != nil {
			v += ", retains " + bytesText(*sl.RetainedBytes) + " of WAL"
		}
		if sl.Confirmed != "" {
			v += ", confirmed_flush_lsn " + sl.Confirmed
		}
		line("slot", "%s", strings.TrimSpace(v))
	}
	if s.Origin == "process" {
		line("totals", "%d changes read, %d applied in %d transactions, %d batches", s.Totals.Read, s.Totals.Applied, s.Totals.Transactions, s.Totals.Batches)
	}
	if len(s.Errors) > 0 {
		line("errors", "%s", countsText(s.Errors))
	}
	if len(s.Retries) > 0 {
		line("retries", "%s", countsText(s.Retries))
	}
	if s.LastError != nil {
		line("last error", "%s at %s: %s", s.LastError.Kind, s.LastError.At.Format(time.RFC3339), s.LastError.Message)
	}
	w.Flush()
	if len(s.Tables) > 0 {
		fmt.Fprintln(out, "\nchanges since start (read / applied)")
		w = tabwriter.NewWriter(out, 0, 4, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(w, "table\tinsert\tupdate\tdelete\ttruncate\t")
		for _, t := range s.Tables {
			fmt.Fprintf(w, "%s\t", t.Table)
			for _, op := range []string{"insert", "update", "delete", "truncate"} {
				fmt.Fprintf(w, "%d / %d\t", t.Read[op], t.Applied[op])
			}
			fmt.Fprintln(w)
		}
		w.Flush()
	}
	writeBackfills(out, s.Backfills)
	if len(s.Snapshot) > 0 {
		fmt.Fprintln(out, "\nsnapshot")
		w = tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
		for _, t := range s.Snapshot {
			v := fmt.Sprintf("%d rows", t.Rows)
			if t.Estimate >= 0 {
				v += fmt.Sprintf(" of ~%d", t.Estimate)
			}
			switch {
			case t.Done:
				v += ", done"
			case t.Rate > 0:
				v += fmt.Sprintf(", %.0f rows/s", t.Rate)
				if t.ETA > 0 {
					v += fmt.Sprintf(", about %s left", (time.Duration(t.ETA) * time.Second).String())
				}
			}
			fmt.Fprintf(w, "  %s\t%s\n", t.Table, v)
		}
		w.Flush()
	}
}

func endpointText(e Endpoint) string {
	v := e.Kind + " " + e.Address
	switch {
	case e.Reachable == nil:
	case *e.Reachable:
		v += " (reachable)"
	default:
		v += " (UNREACHABLE: " + e.Error + ")"
	}
	return v
}

func ago(t time.Time) string {
	return time.Since(t).Round(time.Second).String()
}

func bytesText(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

func countsText(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s=%d", k, m[k])
	}
	return strings.Join(parts, " ")
}

// writeBackfills lists the online back-fills, if any.
func writeBackfills(out io.Writer, rows []BackfillRow) {
	if len(rows) == 0 {
		return
	}
	fmt.Fprintln(out, "\nback-fills")
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	for _, b := range rows {
		v := fmt.Sprintf("%d rows", b.Rows)
		switch {
		case b.Error != "":
			v += ", given up: " + b.Error
		case b.Done:
			v += ", done"
		case b.Rate > 0:
			v += fmt.Sprintf(", %.0f rows/s", b.Rate)
		}
		if b.Where != "" {
			v += " (where " + b.Where + ")"
		}
		fmt.Fprintf(w, "  %s\t%s\n", b.Table, v)
	}
	w.Flush()
}
