package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/sluicecdc/sluice/pkg/pipeline"
)

// admin is the admin endpoint's handle on the pipeline of the current
// attempt (nil between attempts). Served only with http.admin: true.
type admin struct {
	mu sync.Mutex
	p  *pipeline.Pipeline
}

func (a *admin) set(p *pipeline.Pipeline) {
	if a == nil {
		return
	}
	a.mu.Lock()
	a.p = p
	a.mu.Unlock()
}

func (a *admin) current() *pipeline.Pipeline {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.p
}

// backfillRequest is the body of POST /admin/backfill.
type backfillRequest struct {
	Tables []string `json:"tables"`
	Where  string   `json:"where,omitempty"`
}

type adminReply struct {
	Queued []string `json:"queued,omitempty"`
	Error  string   `json:"error,omitempty"`
}

// serveBackfill queues an online back-fill and answers at once.
func (a *admin) serveBackfill(w http.ResponseWriter, r *http.Request) {
	var req backfillRequest
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&req); err != nil {
		writeJSON(w, http.StatusBadRequest, adminReply{Error: "body: want JSON {\"tables\": [\"schema.table\"], \"where\": \"...\"}"})
		return
	}
	p := a.current()
	if p == nil {
		writeJSON(w, http.StatusServiceUnavailable, adminReply{Error: "the pipeline is not running (starting or retrying); ask again shortly"})
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 30*time.Second)
	defer cancel()
	if err := p.RequestBackfill(ctx, req.Tables, req.Where); err != nil {
		code := http.StatusBadRequest
		if errors.Is(err, pipeline.ErrNotStreaming) {
			code = http.StatusServiceUnavailable
		}
		writeJSON(w, code, adminReply{Error: err.Error()})
		return
	}
	writeJSON(w, http.StatusAccepted, adminReply{Queued: req.Tables})
}

// snapshotCommand asks the running sluice of cfgPath, through its admin
// endpoint, to back-fill tables online; it returns once they are queued.
func snapshotCommand(ctx context.Context, cfgPath string, tables []string, where string, stdout io.Writer) error {
	if len(tables) == 0 {
		return errors.New("snapshot: name the tables to copy again with --table schema.table (repeatable)")
	}
	cfg, err := loadConfig(cfgPath)
	if err != nil {
		return err
	}
	if cfg.HTTP.Listen == "" || !cfg.HTTP.Admin {
		return fmt.Errorf("snapshot: %s must set http.listen and http.admin: true (and the running sluice must have been started with them), "+
			"since the request goes to the running process's admin endpoint", cfgPath)
	}
	body, _ := json.Marshal(backfillRequest{Tables: tables, Where: where})
	ctx, cancel := context.WithTimeout(ctx, 45*time.Second)
	defer cancel()
	url := localURL(cfg.HTTP.Listen, "/admin/backfill")
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("snapshot: no sluice answers at %s (is `sluice run --config %s` running?): %w", url, cfgPath, err)
	}
	defer resp.Body.Close()
	var reply adminReply
	_ = json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&reply)
	switch {
	case resp.StatusCode == http.StatusNotFound:
		return fmt.Errorf("snapshot: the sluice at %s serves no admin endpoint: restart it with http.admin: true", url)
	case resp.StatusCode != http.StatusAccepted:
		msg := reply.Error
		if msg == "" {
			msg = resp.Status
		}
		return fmt.Errorf("snapshot: %s", msg)
	}
	fmt.Fprintf(stdout, "back-fill queued: %s; follow it with `sluice status --config %s`\n", strings.Join(reply.Queued, ", "), cfgPath)
	return nil
}

// tableFlags collects repeated --table flags.
type tableFlags []string

func (t *tableFlags) String() string     { return strings.Join(*t, ",") }
func (t *tableFlags) Set(v string) error { *t = append(*t, v); return nil }
