package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/rs/zerolog"

	"github.com/sluicecdc/sluice/pkg/metrics"
)

// httpServer serves /healthz, /readyz, /metrics and /status.
type httpServer struct {
	srv  *http.Server
	addr string
	done chan struct{}
}

// startHTTP listens on addr at once, so a port in use fails the start with
// a clear message, and serves in the background until close.
func startHTTP(addr string, m *metrics.Metrics, secrets []string, log zerolog.Logger, adm ...*admin) (*httpServer, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("http.listen: %w (choose a free address, or remove http.listen)", err)
	}
	h := &httpServer{addr: ln.Addr().String(), done: make(chan struct{})}
	var a *admin
	if len(adm) > 0 {
		a = adm[0]
	}
	h.srv = &http.Server{Handler: handler(m, secrets, a), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		defer close(h.done)
		if err := h.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error().Err(err).Msg("http server stopped")
		}
	}()
	if a != nil {
		log.Info().Str("listen", h.addr).Msg("serving /healthz /readyz /metrics /status and POST /admin/backfill")
	} else {
		log.Info().Str("listen", h.addr).Msg("serving /healthz /readyz /metrics /status")
	}
	return h, nil
}

func (h *httpServer) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = h.srv.Shutdown(ctx)
	<-h.done
}

// handler routes the endpoints. Every response passes the secrets
// redactor: the last line of defence behind redacted DSNs and errors.
func handler(m *metrics.Metrics, secrets []string, adm *admin) http.Handler {
	mux := http.NewServeMux()
	if adm != nil {
		mux.HandleFunc("POST /admin/backfill", adm.serveBackfill)
		mux.HandleFunc("POST /admin/verify", serveVerifyRun(m))
	}
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		ok, reason := m.Ready()
		s := m.Status()
		code := http.StatusOK
		if !ok {
			code = http.StatusServiceUnavailable
		}
		writeJSON(w, code, struct {
			Ready  bool   `json:"ready"`
			State  string `json:"state"`
			Reason string `json:"reason,omitempty"`
		}{ok, s.State, reason})
	})
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, m.Status())
	})
	// Uncompressed, so that the redactor sees the text.
	mux.Handle("GET /metrics", promhttp.HandlerFor(m.Registry(), promhttp.HandlerOpts{DisableCompression: true}))
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "sluice: /healthz /readyz /metrics /status")
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mux.ServeHTTP(redactingResponse{w, newRedactor(w, secrets)}, r)
	})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		http.Error(w, "encode: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	w.Write(append(b, '\n')) //nolint:errcheck // the client went away
}

// redactingResponse passes the body through the redactor.
type redactingResponse struct {
	http.ResponseWriter
	body interface{ Write([]byte) (int, error) }
}

func (r redactingResponse) Write(p []byte) (int, error) { return r.body.Write(p) }
