package main

// sluice health: probe a running sluice's /healthz (or /readyz) and exit 0
// when it answers 200, 1 otherwise. It is the container health check: the
// distroless image has no shell, curl or wget, only this binary.

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode"
)

// defaultHealthAddr is probed when neither --url nor --config is given:
// the port the examples and the image's documentation use.
const defaultHealthAddr = "127.0.0.1:9187"

// healthCommand parses the health command's flags (fs already has
// --config) and probes.
func healthCommand(ctx context.Context, fs *flag.FlagSet, cfgPath *string, args []string, stdout io.Writer) error {
	rawURL := fs.String("url", "", "the URL to GET; a URL without a path gets /healthz (or /readyz with --ready)\n(default: http.listen of --config, else http://"+defaultHealthAddr+")")
	ready := fs.Bool("ready", false, "probe /readyz (copying or streaming, source and target reachable) instead of /healthz (the process runs)")
	timeout := fs.Duration("timeout", 3*time.Second, "give up when no answer comes within this long")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("health: unexpected argument %q", fs.Arg(0))
	}
	if *timeout <= 0 {
		return fmt.Errorf("health: --timeout %v: want a positive duration such as 3s", *timeout)
	}
	target, err := healthURL(*rawURL, *cfgPath, *ready)
	if err != nil {
		return fmt.Errorf("health: %w", err)
	}
	return checkHealth(ctx, target, *timeout, stdout)
}

// healthURL is the URL to probe: --url, else the config's http.listen,
// else the default address; with the endpoint's path added when the URL
// has none.
func healthURL(rawURL, cfgPath string, ready bool) (string, error) {
	path := "/healthz"
	if ready {
		path = "/readyz"
	}
	switch {
	case rawURL != "" && cfgPath != "":
		return "", errors.New("give --url or --config, not both")
	case cfgPath != "":
		cfg, err := loadConfig(cfgPath)
		if err != nil {
			return "", err
		}
		if cfg.HTTP.Listen == "" {
			return "", fmt.Errorf("%s sets no http.listen, so sluice serves no %s to probe: set http.listen (in a container e.g. 0.0.0.0:9187)", cfgPath, path)
		}
		return localURL(cfg.HTTP.Listen, path), nil
	case rawURL == "":
		return "http://" + defaultHealthAddr + path, nil
	}
	u, err := url.Parse(rawURL)
	if err != nil { // not echoed: it might hold a password
		return "", fmt.Errorf("--url is not a URL: want http://host:port[/path] (e.g. http://%s)", defaultHealthAddr)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return "", fmt.Errorf("--url %q: want http://host:port[/path]", u.Redacted())
	}
	if u.Host == "" {
		return "", fmt.Errorf("--url %q names no host (want e.g. http://%s)", u.Redacted(), defaultHealthAddr)
	}
	switch {
	case u.Path == "" || u.Path == "/":
		u.Path = path
	case ready && !strings.HasSuffix(u.Path, "/readyz"):
		return "", fmt.Errorf("--ready probes /readyz, but --url names %s: drop --ready or the path", u.Path)
	}
	return u.String(), nil
}

// checkHealth GETs target and returns nil when it answers 200.
func checkHealth(ctx context.Context, target string, timeout time.Duration, stdout io.Writer) error {
	shown := target
	if u, err := url.Parse(target); err == nil {
		shown = u.Redacted()
	}
	client := &http.Client{
		Timeout: timeout,
		// No proxy: the probe asks this machine (or the named host) directly.
		Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true, DialContext: (&net.Dialer{Timeout: timeout}).DialContext},
		// A redirect is an answer, not health.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return fmt.Errorf("health: %s: %v", shown, err)
	}
	resp, err := client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		var ne net.Error
		if errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
			return fmt.Errorf("health: %s: no answer within %v: is sluice running, with http.listen on that address?", shown, timeout)
		}
		return fmt.Errorf("health: %s: not reachable (%v): is sluice running, with http.listen on that address?", shown, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	summary := healthSummary(body)
	if resp.StatusCode != http.StatusOK {
		if summary == "" {
			return fmt.Errorf("health: %s: HTTP %s", shown, resp.Status)
		}
		return fmt.Errorf("health: %s: HTTP %s: %s", shown, resp.Status, summary)
	}
	if summary == "" {
		summary = "ok"
	}
	fmt.Fprintf(stdout, "%s: %s\n", shown, summary)
	return nil
}

// healthSummary is one short line saying what an answer says: /readyz's
// JSON as "ready (streaming)" or "not ready: reason (state ...)", any other
// body as its first line, shortened and without control characters.
func healthSummary(body []byte) string {
	var r struct {
		Ready  *bool  `json:"ready"`
		State  string `json:"state"`
		Reason string `json:"reason"`
	}
	if json.Unmarshal(body, &r) == nil && r.Ready != nil {
		switch {
		case *r.Ready:
			return oneLine("ready (" + r.State + ")")
		case r.Reason != "":
			return oneLine("not ready: " + r.Reason + " (state " + r.State + ")")
		default:
			return oneLine("not ready (state " + r.State + ")")
		}
	}
	line, _, _ := strings.Cut(string(body), "\n")
	return oneLine(line)
}

// oneLine keeps s printable and at most 300 characters.
func oneLine(s string) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == unicode.ReplacementChar {
			return ' '
		}
		return r
	}, strings.TrimSpace(s))
	if r := []rune(s); len(r) > 300 {
		s = string(r[:300]) + "..."
	}
	return s
}
