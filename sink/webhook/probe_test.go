package webhook

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/sluicecdc/sluice/pkg/config"
)

func env(t *testing.T, s *Settings) (ctx context.Context, e func() error, check func() []string) {
	t.Helper()
	cfg, err := config.Parse([]byte("name: p\nsource: {kind: postgres, dsn: 'postgres://u@h/db'}\nsink:\n  kind: webhook\n  webhook: {url: '"+s.URL+"'}\n"), ".",
		func(string) (string, bool) { return "", false }, sinkKind())
	if err != nil {
		t.Fatal(err)
	}
	*cfg.Settings("sink").(*Settings) = *s
	en := testEnv("p")
	en.Config = cfg
	ctx = context.Background()
	return ctx, func() error { return Connector.Ping(ctx, en) }, func() []string { return Connector.Check(ctx, en) }
}

// Any HTTP answer means reachable; a closed port, a certificate the
// system does not trust and a plain-HTTP server behind https:// are named.
func TestPingAndCheck(t *testing.T) {
	methodNotAllowed := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusMethodNotAllowed)
	}))
	defer methodNotAllowed.Close()
	tlsSrv := httptest.NewTLSServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer tlsSrv.Close()
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	closed := "http://" + ln.Addr().String() + "/hook"
	ln.Close()
	for _, c := range []struct {
		name, url, want string
	}{
		{"any answer", methodNotAllowed.URL + "/hook?token=abc", ""},
		{"closed port", closed, "connection refused"},
		{"untrusted certificate", tlsSrv.URL + "/hook", "TLS"},
		{"http behind https", strings.Replace(methodNotAllowed.URL, "http:", "https:", 1), "does not speak TLS"},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := testSettings(c.url)
			s.Timeout = 3 * time.Second
			_, ping, check := env(t, s)
			err, problems := ping(), check()
			if c.want == "" {
				if err != nil || len(problems) != 0 {
					t.Fatalf("ping %v, check %q", err, problems)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("ping: %v, want it to say %q", err, c.want)
			}
			if len(problems) != 1 || !strings.Contains(problems[0], "sink.webhook.url") || !strings.Contains(problems[0], c.want) {
				t.Fatalf("check: %q", problems)
			}
			if strings.Contains(problems[0], "tok") {
				t.Fatalf("check shows a header value: %q", problems)
			}
		})
	}
}

// Settings problems name the key and never quote a header's value.
func TestValidate(t *testing.T) {
	for _, c := range []struct{ yaml, want string }{
		{"url: ''", "sink.webhook.url: required"},
		{"url: 'ftp://x/y'", "is not an http:// or https:// URL"},
		{"url: 'https://h/x', headers: ['Authorization Bearer hunter2']", "sink.webhook.headers[0]: write it as"},
		{"url: 'https://h/x', headers: ['Idempotency-Key: hunter2']", "is set by Sluice"},
		{"url: 'https://h/x', timeout: 0s", "sink.webhook.timeout: must be a positive duration"},
		{"url: 'https://h/x', max_batch_rows: 0", "sink.webhook.max_batch_rows: must be at least 1"},
		{"url: 'https://h/x', decimal_handling: exact", "sink.webhook.decimal_handling"},
	} {
		_, err := config.Parse([]byte("name: p\nsource: {kind: postgres, dsn: 'postgres://u@h/db'}\nsink:\n  kind: webhook\n  webhook: {"+c.yaml+"}\n"), ".",
			func(string) (string, bool) { return "", false }, sinkKind())
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.yaml, err, c.want)
		}
		if err != nil && strings.Contains(err.Error(), "hunter2") {
			t.Errorf("%s: the message quotes a header value: %v", c.yaml, err)
		}
	}
}

func TestKeyAndSignature(t *testing.T) {
	// RFC 4231 test case 2.
	if got := sign([]byte("Jefe"), []byte("what do ya want for nothing?")); got != "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843" {
		t.Fatalf("signature %q", got)
	}
	long := key("p", "p:"+strings.Repeat("x", 300))
	if len(long) > 200 || !strings.HasPrefix(long, "p:sha256-") || long != key("p", "p:"+strings.Repeat("x", 300)) {
		t.Fatalf("long key %q", long)
	}
}

// sinkKind is the kind as the registry makes it (with its role).
func sinkKind() config.Kind {
	k := Connector.Kind
	k.Role = "sink"
	return k
}
