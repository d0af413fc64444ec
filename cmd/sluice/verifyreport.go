package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/sluicecdc/sluice/pkg/metrics"
	"github.com/sluicecdc/sluice/pkg/verify"
)

// serveVerifyRun takes the results `sluice verify` reports when it ends
// (POST /admin/verify) into the sluice_verify_* gauges of /metrics.
func serveVerifyRun(m *metrics.Metrics) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var run metrics.VerifyRun
		if err := json.NewDecoder(io.LimitReader(r.Body, 16<<20)).Decode(&run); err != nil {
			writeJSON(w, http.StatusBadRequest, adminReply{Error: "decode verify run: " + err.Error()})
			return
		}
		if run.Time.IsZero() {
			run.Time = time.Now()
		}
		m.Verified(run)
		writeJSON(w, http.StatusAccepted, adminReply{})
	}
}

// reportVerifyRun sends a verify run's results to the running sluice of
// cfgPath when its config has the admin endpoint on (as --repair needs);
// without one there is no process to report to and nothing is sent.
func reportVerifyRun(ctx context.Context, cfgPath string, rep *verifyReport) error {
	cfg, err := loadConfig(cfgPath)
	if err != nil || cfg.HTTP.Listen == "" || !cfg.HTTP.Admin {
		return nil
	}
	run := metrics.VerifyRun{Time: time.Now()}
	for _, t := range rep.Tables {
		status := string(t.Status)
		if t.Status == verify.Failed {
			status = "error"
		}
		run.Tables = append(run.Tables, metrics.VerifyTable{Table: t.Table, Status: status, Diffs: int64(t.DiffCount)})
	}
	body, _ := json.Marshal(run)
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	url := localURL(cfg.HTTP.Listen, "/admin/verify")
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("report the results to the running sluice at %s (for /metrics): %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		return fmt.Errorf("report the results to the running sluice at %s (for /metrics): %s", url, resp.Status)
	}
	return nil
}
