package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"
)

// StatusError is a response that was not a success.
type StatusError struct {
	URL    string // redacted
	Status int
	Body   string // the first bytes of the response body, printable
}

func (e *StatusError) Error() string {
	what := "refused the batch"
	if !e.Transient() {
		what = "refused the batch permanently"
	}
	msg := fmt.Sprintf("webhook: %s %s: HTTP %d %s", e.URL, what, e.Status, http.StatusText(e.Status))
	if e.Body != "" {
		msg += fmt.Sprintf(", body %q", e.Body)
	}
	if e.Status >= 300 && e.Status < 400 {
		msg += " (redirects are not followed: set sink.webhook.url to the final address)"
	} else if !e.Transient() {
		msg += " (fix the receiver or the request it expects: sink.webhook.url, headers, secret)"
	}
	return msg
}

// Transient tells the process whether retrying the pipeline may help:
// server errors, 408 and 429 yes, other responses no.
func (e *StatusError) Transient() bool {
	return e.Status >= 500 || e.Status == http.StatusRequestTimeout || e.Status == http.StatusTooManyRequests
}

// sendError is a request that got no response.
type sendError struct {
	method, url string
	err         error
}

func (e *sendError) Error() string {
	return fmt.Sprintf("webhook: %s %s: %s", e.method, e.url, describe(e.err))
}
func (e *sendError) Unwrap() error { return e.err }

// Transient: a timeout or a connection error may pass; a TLS certificate
// problem does not.
func (e *sendError) Transient() bool { return !isTLS(e.err) }

func isTLS(err error) bool {
	var cv *tls.CertificateVerificationError
	var ua x509.UnknownAuthorityError
	var hn x509.HostnameError
	var ci x509.CertificateInvalidError
	var rh tls.RecordHeaderError
	return errors.As(err, &cv) || errors.As(err, &ua) || errors.As(err, &hn) || errors.As(err, &ci) || errors.As(err, &rh) ||
		strings.Contains(err.Error(), "HTTP response to HTTPS client") // net/http's own check, not a typed error
}

// describe names a transport error, TLS problems with their fix.
func describe(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err // its text repeats the URL, with the query
	}
	var rh tls.RecordHeaderError
	switch {
	case errors.As(err, &rh) || strings.Contains(err.Error(), "HTTP response to HTTPS client"):
		return fmt.Sprintf("TLS handshake failed: the server does not speak TLS (%v); use http:// or the server's TLS port", err)
	case isTLS(err):
		return fmt.Sprintf("TLS: %v (the server's certificate is not trusted or does not match the host: install its CA in the system trust store)", err)
	case errors.Is(err, context.DeadlineExceeded) || strings.Contains(err.Error(), "Client.Timeout"):
		return fmt.Sprintf("no response within sink.webhook.timeout (%v)", err)
	}
	return err.Error()
}

// client posts batches.
type client struct {
	http       *http.Client
	url        string // as configured
	shown      string // redacted, for messages
	secret     []byte
	headers    http.Header
	timeout    time.Duration
	maxRetries int
	maxBackoff time.Duration
	userAgent  string
	retried    func(error) // counts and logs a retry
}

// redact shows a URL without user info and query.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(an unparsable URL)"
	}
	u.User = nil
	if u.RawQuery != "" {
		u.RawQuery = "…"
	}
	u.Fragment = ""
	return u.String()
}

func newClient(s *Settings, version string) (*client, error) {
	h, err := parseHeaders(s.Headers)
	if err != nil {
		return nil, err
	}
	c := &client{url: s.URL, shown: redact(s.URL), headers: h, timeout: s.Timeout, maxRetries: s.MaxRetries,
		maxBackoff: s.MaxBackoff, userAgent: "sluice/" + version, retried: func(error) {}}
	if s.Secret != "" {
		c.secret = []byte(s.Secret)
	}
	c.http = &http.Client{
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Transport:     http.DefaultTransport.(*http.Transport).Clone(),
	}
	return c, nil
}

// parseHeaders reads "Name: value" entries; messages never quote values.
func parseHeaders(list []string) (http.Header, error) {
	h := http.Header{}
	for i, e := range list {
		name, value, ok := strings.Cut(e, ":")
		name = strings.TrimSpace(name)
		if !ok || !validName(name) {
			return nil, fmt.Errorf("sink.webhook.headers[%d]: write it as \"Name: value\" (e.g. \"Authorization: Bearer ${TOKEN}\")", i)
		}
		if strings.ContainsAny(value, "\r\n\x00") {
			return nil, fmt.Errorf("sink.webhook.headers[%d] (%s): the value holds a line break", i, name)
		}
		switch http.CanonicalHeaderKey(name) {
		case "Idempotency-Key", "X-Sluice-Signature", "Content-Type", "Content-Length", "Host":
			return nil, fmt.Errorf("sink.webhook.headers[%d]: %s is set by Sluice (remove it)", i, name)
		}
		h.Add(name, strings.TrimSpace(value))
	}
	return h, nil
}

func validName(s string) bool {
	if s == "" || !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if r <= ' ' || r >= 0x7f || strings.ContainsRune(`()<>@,;:\"/[]?={}`, r) {
			return false
		}
	}
	return true
}

// sign is the signature header's value for body.
func sign(secret, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// post sends one batch, retrying with backoff what may pass.
func (c *client) post(ctx context.Context, body []byte, key string) error {
	for attempt := 0; ; attempt++ {
		err := c.once(ctx, body, key)
		if err == nil {
			return nil
		}
		var t interface{ Transient() bool }
		if ctx.Err() != nil || attempt >= c.maxRetries || !errors.As(err, &t) || !t.Transient() {
			return err
		}
		wait := min(200*time.Millisecond<<min(attempt, 20), c.maxBackoff)
		wait = wait/2 + rand.N(wait/2+1) // jitter
		c.retried(err)
		select {
		case <-ctx.Done():
			return err
		case <-time.After(wait):
		}
	}
}

// bodyPeek is how much of an error response's body a message quotes.
const bodyPeek = 200

func (c *client) once(ctx context.Context, body []byte, key string) error {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("webhook: sink.webhook.url %s: %w", c.shown, err)
	}
	for k, v := range c.headers {
		req.Header[k] = v
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", c.userAgent)
	req.Header.Set("Idempotency-Key", key)
	if c.secret != nil {
		req.Header.Set("X-Sluice-Signature", sign(c.secret, body))
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return &sendError{method: "POST", url: c.shown, err: err}
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20)) // lets the connection be reused
		return nil
	}
	peek, _ := io.ReadAll(io.LimitReader(resp.Body, bodyPeek))
	return &StatusError{URL: c.shown, Status: resp.StatusCode, Body: printable(peek)}
}

// printable keeps valid UTF-8 text, without control characters.
func printable(b []byte) string {
	s := strings.ToValidUTF8(string(b), "?")
	return strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f {
			return ' '
		}
		return r
	}, strings.TrimSpace(s))
}

// probe tells whether the URL answers at all: any HTTP response to a HEAD
// request counts (a receiver may accept POST only).
func (c *client) probe(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodHead, c.url, nil)
	if err != nil {
		return fmt.Errorf("webhook: sink.webhook.url %s: %w", c.shown, err)
	}
	for k, v := range c.headers {
		req.Header[k] = v
	}
	req.Header.Set("User-Agent", c.userAgent)
	resp, err := c.http.Do(req)
	if err != nil {
		return &sendError{method: "HEAD", url: c.shown, err: err}
	}
	resp.Body.Close()
	return nil
}
