package webhook

import (
	"bytes"
	"crypto/hmac"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/sluicecdc/sluice/sink/sinktest"
)

// receiver is a webhook receiver as a user would write one: it checks the
// signature, and keeps each batch once by Idempotency-Key (a repeated key
// must come with the same body). Its answers can be scripted.
type receiver struct {
	t      testing.TB
	secret []byte
	addr   string

	mu       sync.Mutex
	srv      *http.Server
	requests int     // every request, retries included
	batches  []batch // unique by key, in the order received
	seen     map[string][]byte
	repeats  int      // requests whose key was seen before
	problems []string // what the receiver found wrong (bad signature, a key reused for another body)
	// answer, when set, decides the response to request n (1-based): a
	// status (0: 200) and how long to wait before answering.
	answer func(n int) (status int, stall time.Duration)
}

type batch struct {
	key    string
	events []element
}

type element struct {
	Topic   string                     `json:"topic"`
	Key     json.RawMessage            `json:"key"`
	Value   json.RawMessage            `json:"value"`
	Headers map[string]json.RawMessage `json:"headers"`
}

func newReceiver(t testing.TB, secret string) *receiver {
	r := &receiver{t: t, secret: []byte(secret), seen: map[string][]byte{}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r.addr = ln.Addr().String()
	r.serve(ln)
	t.Cleanup(func() { r.down() })
	return r
}

func (r *receiver) url() string { return "http://" + r.addr + "/hook" }

func (r *receiver) serve(ln net.Listener) {
	srv := &http.Server{Handler: r}
	r.mu.Lock()
	r.srv = srv
	r.mu.Unlock()
	go srv.Serve(ln) //nolint:errcheck // ends with Close
}

// down stops listening; up listens again on the same address.
func (r *receiver) down() {
	r.mu.Lock()
	srv := r.srv
	r.srv = nil
	r.mu.Unlock()
	if srv != nil {
		srv.Close()
	}
}

func (r *receiver) up() {
	ln, err := net.Listen("tcp", r.addr)
	if err != nil {
		r.t.Fatal(err)
	}
	r.serve(ln)
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if req.Method == http.MethodHead {
		return
	}
	body, err := io.ReadAll(req.Body)
	if err != nil {
		return
	}
	key := req.Header.Get("Idempotency-Key")
	r.mu.Lock()
	r.requests++
	n := r.requests
	switch {
	case req.Method != http.MethodPost || req.Header.Get("Content-Type") != "application/json":
		r.problems = append(r.problems, fmt.Sprintf("request %d: %s with Content-Type %q", n, req.Method, req.Header.Get("Content-Type")))
	case len(r.secret) > 0 && !hmac.Equal([]byte(req.Header.Get("X-Sluice-Signature")), []byte(sign(r.secret, body))):
		r.problems = append(r.problems, fmt.Sprintf("request %d: bad signature %q", n, req.Header.Get("X-Sluice-Signature")))
	case key == "":
		r.problems = append(r.problems, fmt.Sprintf("request %d: no Idempotency-Key", n))
	}
	var status int
	var stall time.Duration
	if r.answer != nil {
		status, stall = r.answer(n)
	}
	if status == 0 || status == http.StatusOK { // accepted: kept once
		if prev, ok := r.seen[key]; ok {
			r.repeats++
			if !bytes.Equal(prev, body) {
				r.problems = append(r.problems, fmt.Sprintf("request %d: key %s repeated with another body", n, key))
			}
		} else {
			var evs []element
			if err := json.Unmarshal(body, &evs); err != nil {
				r.problems = append(r.problems, fmt.Sprintf("request %d: body is not a JSON array of events: %v", n, err))
			}
			r.seen[key] = body
			r.batches = append(r.batches, batch{key: key, events: evs})
		}
	}
	r.mu.Unlock()
	if stall > 0 {
		select {
		case <-time.After(stall):
		case <-req.Context().Done():
		}
	}
	if status != 0 {
		w.WriteHeader(status)
		fmt.Fprintf(w, "scripted answer %d", status)
	}
}

// events are the events of every batch kept; with changesOnly the delete
// half of a key change (header __debezium.newkey) is left out.
func (r *receiver) events(changesOnly bool) []sinktest.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []sinktest.Event
	for _, b := range r.batches {
		for _, e := range b.events {
			if _, ok := e.Headers["__debezium.newkey"]; ok && changesOnly {
				continue
			}
			ev := sinktest.Event{}
			if e.Key != nil && string(e.Key) != "null" {
				ev.Key = e.Key
			}
			if e.Value != nil && string(e.Value) != "null" {
				ev.Value = e.Value
			}
			out = append(out, ev)
		}
	}
	return out
}

func (r *receiver) fold(t testing.TB, changesOnly bool) *sinktest.Stream {
	t.Helper()
	s, err := sinktest.Fold(r.events(changesOnly))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// check fails the test with what the receiver found wrong.
func (r *receiver) check(t testing.TB) {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, p := range r.problems {
		t.Error("receiver:", p)
	}
}
