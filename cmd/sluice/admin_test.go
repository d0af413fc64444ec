package main

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluicecdc/sluice/pkg/metrics"
)

// The admin endpoint exists only with http.admin, refuses a bad body, and
// says when no pipeline runs to take the request.
func TestAdminEndpoint(t *testing.T) {
	t.Parallel()
	m := metrics.New(metrics.Info{Pipeline: "p"})
	post := func(h http.Handler, body string) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/admin/backfill", strings.NewReader(body)))
		return rec
	}
	if rec := post(handler(m, nil, nil), `{"tables":["public.t"]}`); rec.Code != http.StatusNotFound && rec.Code != http.StatusMethodNotAllowed {
		t.Errorf("without http.admin: %d, want no such endpoint", rec.Code)
	}
	h := handler(m, nil, &admin{})
	if rec := post(h, `not json`); rec.Code != http.StatusBadRequest {
		t.Errorf("bad body: %d, want 400", rec.Code)
	}
	if rec := post(h, `{"tables":["public.t"]}`); rec.Code != http.StatusServiceUnavailable || !strings.Contains(rec.Body.String(), "not running") {
		t.Errorf("no pipeline: %d %s, want 503 saying so", rec.Code, rec.Body)
	}
}

// sluice snapshot needs the admin endpoint configured and a running sluice.
func TestSnapshotCommandArgs(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(extra string) string {
		p := filepath.Join(dir, "c.yaml")
		cfg := "name: p\nsource:\n  kind: postgres\n  dsn: postgres://u@127.0.0.1:1/db\n  tables: [\"public.*\"]\nsink:\n  kind: postgres\n  dsn: postgres://u@127.0.0.1:1/dwh\ncheckpoint:\n  path: " +
			filepath.Join(dir, "cp") + "\n" + extra
		if err := os.WriteFile(p, []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	var out bytes.Buffer
	ctx := context.Background()
	if err := snapshotCommand(ctx, write(""), []string{"public.t"}, "", &out); err == nil || !strings.Contains(err.Error(), "http.admin: true") {
		t.Errorf("without http.admin: %v", err)
	}
	if err := snapshotCommand(ctx, write(""), nil, "", &out); err == nil || !strings.Contains(err.Error(), "--table") {
		t.Errorf("without --table: %v", err)
	}
	cfg := write("http:\n  listen: 127.0.0.1:1\n  admin: true\n")
	if err := snapshotCommand(ctx, cfg, []string{"public.t"}, "", &out); err == nil || !strings.Contains(err.Error(), "is `sluice run") {
		t.Errorf("nothing running: %v", err)
	}
	if err := snapshotCommand(ctx, write("http:\n  admin: true\n"), []string{"public.t"}, "", &out); err == nil || !strings.Contains(err.Error(), "http.listen") {
		t.Errorf("admin without listen: %v", err)
	}
}
