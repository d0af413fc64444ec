package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/rs/zerolog"

	"github.com/sluicecdc/sluice/checkpoint"
	"github.com/sluicecdc/sluice/checkpoint/file"
	"github.com/sluicecdc/sluice/pkg/change"
	"github.com/sluicecdc/sluice/pkg/config"
	"github.com/sluicecdc/sluice/pkg/metrics"
	"github.com/sluicecdc/sluice/pkg/pipeline"
)

// status prints the pipeline's state: from the running process's /status
// when http.listen is set and answers, else from the checkpoint file and
// the source server.
func status(ctx context.Context, path string, asJSON bool, stdout io.Writer) error {
	cfg, err := loadConfig(path)
	if err != nil {
		return err
	}
	secret := secrets(cfg)
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var note string
	if cfg.HTTP.Listen != "" {
		url := localURL(cfg.HTTP.Listen, "/status")
		s, err := fetchStatus(ctx, url)
		if err == nil {
			return printStatus(stdout, s, asJSON, secret)
		}
		note = fmt.Sprintf("the running process did not answer at %s (%v); showing the checkpoint and the source", url, err)
	}
	s, err := offlineStatus(ctx, cfg, secret)
	if err != nil {
		if note != "" {
			err = fmt.Errorf("%s; %w", strings.Replace(note, "; showing the checkpoint and the source", "", 1), err)
		}
		return errors.New(redactString(err.Error(), secret))
	}
	s.Note = note
	return printStatus(stdout, s, asJSON, secret)
}

// fetchStatus asks a running sluice for its status.
func fetchStatus(ctx context.Context, url string) (metrics.Status, error) {
	var s metrics.Status
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return s, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		var ue interface{ Unwrap() error } // drop the "Get URL:" prefix the note already has
		if errors.As(err, &ue) && ue.Unwrap() != nil {
			err = ue.Unwrap()
		}
		return s, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return s, fmt.Errorf("HTTP %s", resp.Status)
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 16<<20)).Decode(&s); err != nil {
		return s, fmt.Errorf("not a sluice status: %w", err)
	}
	return s, nil
}

// offlineStatus reads the checkpoint file and asks the source how far its
// log is ahead of it. It fails only when neither can be read.
func offlineStatus(ctx context.Context, cfg *config.Config, secret []string) (metrics.Status, error) {
	s := metrics.Status{Pipeline: cfg.Name, Origin: "checkpoint", State: "unknown (not asked: no running process answered)", Tables: []metrics.Table{}}
	i := info(cfg)
	s.Source = metrics.Endpoint{Kind: i.SourceKind, Address: i.Source}
	s.Sink = metrics.Endpoint{Kind: i.SinkKind, Address: i.Sink}
	cp, cpErr := file.New(cfg.Checkpoint.Path).Load(ctx)
	if cpErr == nil {
		s.Position.Checkpoint, s.Position.Phase = cp.Position, string(cp.Phase)
		if !cp.SavedAt.IsZero() {
			s.Position.SavedAt = &cp.SavedAt
		}
		for _, b := range cp.Backfills { // unfinished: they resume at the next run
			s.Backfills = append(s.Backfills, metrics.BackfillRow{Table: b.Table, Where: b.Where, Rows: b.Rows})
		}
	}
	sctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	src, srcErr := openSource(sctx, cfg, zerolog.Nop())
	if srcErr == nil {
		defer src.Close()
		srcErr = sourceLog(sctx, src, cp, &s, i.Slot)
	}
	if srcErr != nil {
		s.Source.Reachable, s.Source.Error = ptr(false), redactString(srcErr.Error(), secret)
	} else {
		s.Source.Reachable = ptr(true)
	}
	if cpErr != nil && srcErr != nil {
		what := "no checkpoint at " + cfg.Checkpoint.Path
		if !errors.Is(cpErr, checkpoint.ErrNotFound) {
			what = cpErr.Error()
		}
		return s, fmt.Errorf("nothing to report: %s, and the source cannot be reached (%v); "+
			"start the pipeline, set http.listen to ask it while it runs, or check source.dsn", what, srcErr)
	}
	if cpErr != nil && !errors.Is(cpErr, checkpoint.ErrNotFound) {
		s.Note = cpErr.Error()
	}
	if err := pingSink(sctx, cfg); err != nil {
		s.Sink.Reachable, s.Sink.Error = ptr(false), redactString(err.Error(), secret)
	} else {
		s.Sink.Reachable = ptr(true)
	}
	return s, nil
}

// sourceLog fills in what the source tells about its log relative to the
// checkpoint.
func sourceLog(ctx context.Context, src pipeline.Source, cp checkpoint.Checkpoint, s *metrics.Status, slot string) error {
	lr, ok := src.(pipeline.LogReporter)
	if !ok {
		return nil
	}
	var pos change.Position
	if cp.Position != "" {
		p, err := src.ParsePosition(cp.Position)
		if err != nil {
			return fmt.Errorf("checkpoint: %w", err)
		}
		pos = p
	}
	ls, err := lr.LogStatus(ctx, pos)
	if err != nil {
		return err
	}
	s.Position.SourceHead = ls.Head
	if ls.BehindBytes >= 0 {
		s.Lag.Bytes = ptr(ls.BehindBytes)
	}
	if ls.SlotStatus != "" || ls.RetainedBytes >= 0 {
		sl := &metrics.Slot{Name: slot, WALStatus: ls.SlotStatus, Confirmed: ls.Confirmed, Restart: ls.Restart}
		if ls.RetainedBytes >= 0 {
			sl.RetainedBytes = ptr(ls.RetainedBytes)
		}
		if ls.Reading != pipeline.ReadingUnknown {
			sl.Active = ptr(ls.Reading == pipeline.ReadingActive)
		}
		s.Slot = sl
	}
	switch ls.Reading {
	case pipeline.ReadingActive:
		s.State = "running (the slot's reader is connected; set http.listen for details)"
	case pipeline.ReadingIdle:
		s.State = "not running (no reader on the slot)"
	}
	if ls.Purged {
		s.State = "cannot resume: the source no longer has the checkpoint's binlog file (oldest kept: " + ls.Restart + "); run `sluice run --resnapshot`"
	}
	return nil
}

func ptr[T any](v T) *T { return &v }

// printStatus writes the status as JSON or as text for people.
func printStatus(w io.Writer, s metrics.Status, asJSON bool, secret []string) error {
	var b strings.Builder
	if asJSON {
		enc := json.NewEncoder(&b)
		enc.SetIndent("", "  ")
		if err := enc.Encode(s); err != nil {
			return err
		}
	} else {
		writeHuman(&b, s)
	}
	_, err := io.WriteString(w, redactString(b.String(), secret))
	return err
}

func writeHuman(out io.Writer, s metrics.Status) {
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
	printBackfills(out, s.Backfills)
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

func endpointText(e metrics.Endpoint) string {
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

// printBackfills lists the online back-fills, if any.
func printBackfills(out io.Writer, rows []metrics.BackfillRow) {
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
