package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
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
	src, srcErr := openSource(sctx, cfg, zerolog.Nop(), nil)
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
	s.SetOfflineLog(ls, slot)
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
		metrics.WriteText(&b, s)
	}
	_, err := io.WriteString(w, redactString(b.String(), secret))
	return err
}
