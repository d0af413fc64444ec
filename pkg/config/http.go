package config

import (
	"net"
	"strconv"
)

// HTTP configures the observability endpoints: /healthz, /readyz, /metrics
// (Prometheus) and /status (JSON). Off when Listen is empty.
type HTTP struct {
	Listen string // host:port, e.g. 127.0.0.1:9187; ":9187" listens on every interface
	// Admin serves POST /admin/backfill on the same listener (sluice
	// snapshot --table uses it). Off by default: anyone who can reach the
	// port could start copies.
	Admin bool
}

func validateHTTP(h *HTTP, at func(string) string, p *problems) {
	if h.Admin && h.Listen == "" {
		if a := at("http.admin"); a != "" {
			p.addf("%s: true needs http.listen (the admin endpoint is served on it), e.g. http.listen: %s", a, examples["http.listen"])
		}
	}
	k := at("http.listen")
	if k == "" || h.Listen == "" {
		return
	}
	host, port, err := net.SplitHostPort(h.Listen)
	n, perr := strconv.Atoi(port)
	switch {
	case err != nil:
		p.addf("%s: %q must be host:port (e.g. %s, or :9187 for every interface)", k, h.Listen, examples["http.listen"])
	case perr != nil || n < 0 || n > 65535:
		p.addf("%s: %q has no valid port number (0..65535; e.g. %s)", k, h.Listen, examples["http.listen"])
	case host != "" && net.ParseIP(host) == nil && !validHostname(host):
		p.addf("%s: %q: %q is not an IP address or host name (e.g. %s)", k, h.Listen, host, examples["http.listen"])
	}
}

// validHostname accepts names like localhost or sluice.internal.
func validHostname(h string) bool {
	if len(h) > 253 {
		return false
	}
	for _, r := range h {
		if !(r == '-' || r == '.' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}
