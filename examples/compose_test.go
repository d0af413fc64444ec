package examples_test

// docker-compose.yml: the services, their mounts and variables, and the
// sluice service's config, which must load with what compose gives it.

import (
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/sluicecdc/sluice/pkg/config"
)

type composeFile struct {
	Services map[string]composeService `yaml:"services"`
	Volumes  map[string]any            `yaml:"volumes"`
}

type composeService struct {
	Image       string         `yaml:"image"`
	Build       any            `yaml:"build"`
	Command     any            `yaml:"command"`
	Environment any            `yaml:"environment"`
	Volumes     []any          `yaml:"volumes"`
	DependsOn   any            `yaml:"depends_on"`
	Healthcheck map[string]any `yaml:"healthcheck"`
}

// mount is one entry of a service's volumes.
type mount struct {
	source, target string
	bind           bool // a host path, else a named volume
}

func readCompose(t *testing.T) composeFile {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "docker-compose.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var c composeFile
	if err := yaml.Unmarshal(b, &c); err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	return c
}

func (s composeService) mounts(t *testing.T) []mount {
	t.Helper()
	var out []mount
	for _, v := range s.Volumes {
		var m mount
		switch x := v.(type) {
		case string: // short syntax: source:target[:mode]
			parts := strings.Split(x, ":")
			if len(parts) < 2 {
				t.Fatalf("volume %q: want source:target[:mode] (an anonymous volume keeps no state across containers)", x)
			}
			m.source, m.target = parts[0], parts[1]
			m.bind = strings.HasPrefix(m.source, ".") || strings.HasPrefix(m.source, "/") || strings.HasPrefix(m.source, "~")
		case map[string]any: // long syntax
			m.source, _ = x["source"].(string)
			m.target, _ = x["target"].(string)
			m.bind = x["type"] == "bind"
		default:
			t.Fatalf("volume entry %v: unexpected form %T", v, v)
		}
		out = append(out, m)
	}
	return out
}

// env returns the service's environment with compose's ${VAR:-default}
// interpolation resolved to the defaults (so the test does not depend on
// the caller's environment).
func (s composeService) env(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	switch x := s.Environment.(type) {
	case nil:
	case map[string]any:
		for k, v := range x {
			out[k] = composeDefault(t, fmt.Sprint(v))
		}
	case []any:
		for _, e := range x {
			k, v, _ := strings.Cut(fmt.Sprint(e), "=")
			out[k] = composeDefault(t, v)
		}
	default:
		t.Fatalf("environment: unexpected form %T", x)
	}
	return out
}

var composeVar = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)(:?-([^}]*))?\}`)

func composeDefault(t *testing.T, s string) string {
	t.Helper()
	return composeVar.ReplaceAllStringFunc(s, func(ref string) string {
		m := composeVar.FindStringSubmatch(ref)
		if m[2] == "" {
			t.Fatalf("compose reference %s has no default: `docker compose up` would use an empty value unless the user sets %s; write ${%s:-value}", ref, m[1], m[1])
		}
		return m[3]
	})
}

func words(v any) []string {
	switch x := v.(type) {
	case string:
		return strings.Fields(x)
	case []any:
		var out []string
		for _, e := range x {
			out = append(out, fmt.Sprint(e))
		}
		return out
	}
	return nil
}

func TestCompose(t *testing.T) {
	c := readCompose(t)
	for _, name := range []string{"source", "target", "sluice"} {
		if _, ok := c.Services[name]; !ok {
			t.Fatalf("docker-compose.yml: service %q missing (have %v)", name, keys(c.Services))
		}
	}
	src, dst, sl := c.Services["source"], c.Services["target"], c.Services["sluice"]

	cmd := strings.Join(words(src.Command), " ")
	for _, want := range []string{"wal_level=logical", "max_replication_slots=", "max_wal_senders="} {
		if !strings.Contains(cmd, want) {
			t.Errorf("source command %q lacks %s", cmd, want)
		}
	}
	for name, s := range map[string]composeService{"source": src, "target": dst} {
		if !strings.HasPrefix(s.Image, "postgres:") {
			t.Errorf("%s image %q: want postgres:<version>", name, s.Image)
		}
		if hc := strings.Join(words(s.Healthcheck["test"]), " "); !strings.Contains(hc, "pg_isready") {
			t.Errorf("%s healthcheck %q does not run pg_isready", name, hc)
		}
		if s.env(t)["POSTGRES_PASSWORD"] == "" {
			t.Errorf("%s: POSTGRES_PASSWORD is not set (the postgres image refuses to start)", name)
		}
	}

	switch b := sl.Build.(type) {
	case string:
		if b != "." {
			t.Errorf("sluice build %q: want . (the repository, where the Dockerfile is)", b)
		}
	case map[string]any:
		if b["context"] != "." {
			t.Errorf("sluice build context %v: want .", b["context"])
		}
	default:
		t.Errorf("sluice service is not built from the repository (build: %v)", sl.Build)
	}
	deps, ok := sl.DependsOn.(map[string]any)
	if !ok {
		t.Fatalf("sluice depends_on %v: want a mapping with condition: service_healthy", sl.DependsOn)
	}
	for _, name := range []string{"source", "target"} {
		d, _ := deps[name].(map[string]any)
		if d["condition"] != "service_healthy" {
			t.Errorf("sluice depends_on %s: condition %v, want service_healthy", name, d["condition"])
		}
	}

	// Mounts: host paths exist, named volumes are declared.
	var cfgHost, stateVolume string
	for name, s := range c.Services {
		for _, m := range s.mounts(t) {
			if !m.bind {
				if _, ok := c.Volumes[m.source]; !ok {
					t.Errorf("service %s mounts volume %q, which is not declared under top-level volumes", name, m.source)
				}
				if name == "sluice" && m.target == stateDir {
					stateVolume = m.source
				}
				continue
			}
			if _, err := os.Stat(filepath.Join(root, m.source)); err != nil {
				t.Errorf("service %s mounts %s, which does not exist in the repository: %v", name, m.source, err)
			}
			if name == "sluice" && m.target == configMount {
				cfgHost = m.source
			}
			if name == "source" && strings.HasPrefix(m.target, "/docker-entrypoint-initdb.d/") && !strings.HasSuffix(m.target, ".sql") {
				t.Errorf("source init script mounted as %s: the postgres image runs only *.sql, *.sql.gz and *.sh", m.target)
			}
		}
	}
	if cfgHost == "" {
		t.Fatalf("the sluice service mounts no config at %s (the image's CMD reads it there)", configMount)
	}
	if stateVolume == "" {
		t.Errorf("the sluice service mounts no named volume at %s: the checkpoint would be lost with the container", stateDir)
	}

	// The mounted config loads with the service's environment, and every
	// ${VAR} it uses is set by compose.
	path := filepath.Join(root, cfgHost)
	text, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	env := sl.env(t)
	for _, v := range configVars(string(text)) {
		if _, ok := env[v]; !ok {
			t.Errorf("%s references ${%s}, but the sluice service's environment does not set it", cfgHost, v)
		}
	}
	for k, v := range env {
		t.Setenv(k, v)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatalf("%s does not load: %v", cfgHost, err)
	}
	if !strings.HasPrefix(cfg.Checkpoint.Path, stateDir+"/") {
		t.Errorf("checkpoint.path %s is not on the state volume %s: progress is lost with the container", cfg.Checkpoint.Path, stateDir)
	}
	// The DSNs point at the compose services with their passwords and databases.
	for _, x := range []struct {
		key, dsn, service string
	}{{"source.dsn", cfg.Source.DSN, "source"}, {"sink.dsn", cfg.Sink.DSN, "target"}} {
		u, err := url.Parse(x.dsn)
		if err != nil {
			t.Errorf("%s: %v", x.key, err)
			continue
		}
		senv := c.Services[x.service].env(t)
		pw, _ := u.User.Password()
		switch {
		case u.Hostname() != x.service:
			t.Errorf("%s host %q: want the compose service %q", x.key, u.Hostname(), x.service)
		case u.User.Username() != senv["POSTGRES_USER"] && !(u.User.Username() == "postgres" && senv["POSTGRES_USER"] == ""):
			t.Errorf("%s user %q is not the %s service's POSTGRES_USER %q", x.key, u.User.Username(), x.service, senv["POSTGRES_USER"])
		case pw != senv["POSTGRES_PASSWORD"]:
			t.Errorf("%s password is not the %s service's POSTGRES_PASSWORD", x.key, x.service)
		case strings.TrimPrefix(u.Path, "/") != senv["POSTGRES_DB"]:
			t.Errorf("%s database %q is not the %s service's POSTGRES_DB %q", x.key, u.Path, x.service, senv["POSTGRES_DB"])
		}
	}
}
