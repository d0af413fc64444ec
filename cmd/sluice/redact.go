package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/url"
	"regexp"
	"strings"
	"sync"

	"github.com/sluicecdc/sluice/pkg/config"
)

// minSecret is the shortest password the last-line redactor replaces in
// output: shorter ones would garble ordinary words. Every message already
// names DSNs only through config.RedactDSN; this is the second line.
const minSecret = 4

var kvPassword = regexp.MustCompile(`(?i)(?:^|[\s?&])(?:ssl)?password\s*=\s*('(?:[^'\\]|\\.)*'|[^\s&#]*)`)

// secrets returns the passwords in the config's DSNs (after ${VAR}
// expansion), in every form they may take in output: as written, decoded,
// and JSON-escaped.
func secrets(cfg *config.Config) []string {
	var out []string
	seen := map[string]bool{}
	add := func(s string) {
		s = strings.Trim(s, "'")
		if len(s) < minSecret {
			return
		}
		forms := []string{s}
		if d, err := url.PathUnescape(s); err == nil {
			forms = append(forms, d)
		}
		for _, f := range forms {
			for _, x := range []string{f, jsonText(f, true), jsonText(f, false)} {
				if !seen[x] {
					seen[x] = true
					out = append(out, x)
				}
			}
		}
	}
	for _, dsn := range []string{cfg.Source.DSN, cfg.Sink.DSN} {
		if _, rest, ok := strings.Cut(dsn, "://"); ok {
			if at := strings.LastIndexByte(rest, '@'); at >= 0 {
				if _, pw, ok := strings.Cut(rest[:at], ":"); ok {
					add(pw)
				}
			}
		}
		for _, m := range kvPassword.FindAllStringSubmatch(dsn, -1) {
			add(m[1])
		}
		if u, err := url.Parse(dsn); err == nil {
			if pw, ok := u.User.Password(); ok {
				add(pw)
			}
			add(u.Query().Get("password"))
		}
	}
	for _, s := range cfg.SecretValues() {
		add(s)
	}
	return out
}

// jsonText is s as it appears inside a JSON string (zerolog does not
// escape HTML characters, encoding/json does by default).
func jsonText(s string, escapeHTML bool) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(escapeHTML)
	if enc.Encode(s) != nil {
		return s
	}
	q := bytes.TrimSpace(b.Bytes())
	return string(q[1 : len(q)-1])
}

// redactor replaces secrets with xxxxx in everything written through it
// (one log event or response per Write).
type redactor struct {
	w       io.Writer
	secrets [][]byte
}

func newRedactor(w io.Writer, secrets []string) io.Writer {
	if len(secrets) == 0 {
		return w
	}
	r := &redactor{w: w}
	for _, s := range secrets {
		r.secrets = append(r.secrets, []byte(s))
	}
	return r
}

func (r *redactor) Write(p []byte) (int, error) {
	out := p
	for _, s := range r.secrets {
		if bytes.Contains(out, s) {
			out = bytes.ReplaceAll(out, s, []byte("xxxxx"))
		}
	}
	if _, err := r.w.Write(out); err != nil {
		return 0, err
	}
	return len(p), nil
}

// redactString applies the same replacement to a string.
func redactString(s string, secrets []string) string {
	for _, x := range secrets {
		s = strings.ReplaceAll(s, x, "xxxxx")
	}
	return s
}

// switchWriter forwards writes to a writer that can be swapped, so that log
// lines go above the progress bars while they show.
type switchWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *switchWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	w := s.w
	s.mu.Unlock()
	return w.Write(p)
}

func (s *switchWriter) set(w io.Writer) io.Writer {
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.w
	s.w = w
	return old
}
