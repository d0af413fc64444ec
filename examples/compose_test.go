package examples_test

// docker-compose.yml: the services, their mounts and variables, and the
// sluice services' configs, which must load with what compose gives them.

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/sluicecdc/sluice/pkg/config"
	"github.com/sluicecdc/sluice/sink/kafka"
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
	Ports       []any          `yaml:"ports"`
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
	for _, name := range []string{"source", "target", "sluice", "mariadb", "sluice-mariadb", "kafka", "sluice-kafka", "prometheus", "grafana"} {
		if _, ok := c.Services[name]; !ok {
			t.Fatalf("docker-compose.yml: service %q missing (have %v)", name, keys(c.Services))
		}
	}
	src, dst := c.Services["source"], c.Services["target"]

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
	checkMariaDBService(t, c.Services["mariadb"])
	checkKafkaService(t, c.Services["kafka"])

	// Mounts: host paths exist, named volumes are declared, init scripts
	// have a name the image runs.
	for name, s := range c.Services {
		for _, m := range s.mounts(t) {
			if !m.bind {
				if _, ok := c.Volumes[m.source]; !ok {
					t.Errorf("service %s mounts volume %q, which is not declared under top-level volumes", name, m.source)
				}
				continue
			}
			fi, err := os.Stat(filepath.Join(root, m.source))
			if err != nil {
				t.Errorf("service %s mounts %s, which does not exist in the repository (Docker would mount an empty directory): %v", name, m.source, err)
				continue
			}
			if ext := path.Ext(m.target); (ext == ".sql" || ext == ".yml" || ext == ".yaml" || ext == ".json") && !fi.Mode().IsRegular() {
				t.Errorf("service %s mounts %s at %s: a file is expected there, %s is not one", name, m.source, m.target, m.source)
			}
			if strings.HasPrefix(m.target, "/docker-entrypoint-initdb.d/") && !strings.HasSuffix(m.target, ".sql") {
				t.Errorf("%s init script mounted as %s: the image runs only *.sql, *.sql.gz and *.sh (and this one is SQL)", name, m.target)
			}
		}
	}
	// Published ports are for this machine only: the demo's passwords are
	// no secret.
	for name, s := range c.Services {
		for container, host := range publishedPorts(t, s) {
			if ip, _, _ := strings.Cut(host, ":"); ip != "127.0.0.1" {
				t.Errorf("service %s publishes port %s on %q: bind it to 127.0.0.1 (\"127.0.0.1:HOST:%s\")", name, container, host, container)
			}
		}
	}
	for name, script := range map[string]string{"source": "examples/docker/source-init.sql", "mariadb": "examples/docker/mariadb-init.sql"} {
		if initScript(t, c.Services[name]) != script {
			t.Errorf("service %s does not mount %s under /docker-entrypoint-initdb.d/", name, script)
		}
	}

	// Each sluice service's config loads with what compose gives it, and its
	// DSNs point at the compose services with their users and passwords.
	var pg, my *config.Config
	var pgState, myState string
	t.Run("sluice", func(t *testing.T) {
		pg, pgState = checkSluiceService(t, c, "sluice", "source", "target")
		if pg == nil {
			return
		}
		checkPostgresDSN(t, c, "source.dsn", pg.Source.DSN, "source")
		checkPostgresDSN(t, c, "sink.dsn", pg.Sink.DSN, "target")
	})
	t.Run("sluice-mariadb", func(t *testing.T) {
		my, myState = checkSluiceService(t, c, "sluice-mariadb", "mariadb", "target")
		if my == nil {
			return
		}
		if my.Source.Kind != "mysql" {
			t.Errorf("source.kind %q: want mysql", my.Source.Kind)
		}
		checkMariaDBDSN(t, c, "source.dsn", my.Source.DSN, "mariadb")
		checkPostgresDSN(t, c, "sink.dsn", my.Sink.DSN, "target")
		db := c.Services["mariadb"].env(t)["MARIADB_DATABASE"]
		for _, pat := range my.Source.Tables {
			if schema, _, _ := strings.Cut(pat, "."); schema != db {
				t.Errorf("source.tables pattern %q is not in the database %q that mariadb-init.sql fills", pat, db)
			}
		}
		if id := mariadbOptions(t, c.Services["mariadb"])["server-id"]; id == fmt.Sprint(my.Source.MySQL.ServerID) {
			t.Errorf("source.mysql.server_id %d is the mariadb server's own --server-id: the server refuses a replica with its own id", my.Source.MySQL.ServerID)
		}
	})
	t.Run("sluice-kafka", func(t *testing.T) {
		k, kState := checkSluiceService(t, c, "sluice-kafka", "source", "kafka")
		if k == nil {
			return
		}
		checkPostgresDSN(t, c, "source.dsn", k.Source.DSN, "source")
		if k.Sink.Kind != "kafka" {
			t.Fatalf("sink.kind %q: want kafka", k.Sink.Kind)
		}
		ks, ok := k.Settings("sink").(*kafka.Settings)
		if !ok {
			t.Fatalf("sink.kafka settings: %T", k.Settings("sink"))
		}
		adv := c.Services["kafka"].env(t)["KAFKA_ADVERTISED_LISTENERS"]
		for _, b := range ks.Brokers {
			if !strings.Contains(adv, "://"+b) {
				t.Errorf("sink.kafka.brokers %q is not a listener the kafka service advertises (%s)", b, adv)
			}
		}
		if pg != nil {
			if kState == pgState {
				t.Errorf("sluice and sluice-kafka share the state volume %q", kState)
			}
			if k.Source.Postgres.Slot == pg.Source.Postgres.Slot || k.Source.Postgres.Publication == pg.Source.Postgres.Publication {
				t.Errorf("sluice and sluice-kafka read the same source with the same slot or publication: give each its own")
			}
		}
	})
	if pg != nil && my != nil {
		if pgState == myState {
			t.Errorf("sluice and sluice-mariadb share the state volume %q: give each pipeline its own", pgState)
		}
		if pg.Sink.Schema == "" || my.Sink.Schema == "" || pg.Sink.Schema == my.Sink.Schema {
			t.Errorf("sluice and sluice-mariadb write into the same target database: set sink.schema to a different schema in each (have %q and %q)", pg.Sink.Schema, my.Sink.Schema)
		}
	}
}

// checkSluiceService checks a service that runs the sluice image: built
// from the repository, started after deps are healthy, a config mounted where
// the image reads it and a named volume for its checkpoint. It returns the
// config, loaded with the service's environment, and the state volume.
func checkSluiceService(t *testing.T, c composeFile, name string, deps ...string) (*config.Config, string) {
	t.Helper()
	sl := c.Services[name]
	switch b := sl.Build.(type) {
	case string:
		if b != "." {
			t.Errorf("%s build %q: want . (the repository, where the Dockerfile is)", name, b)
		}
	case map[string]any:
		if b["context"] != "." {
			t.Errorf("%s build context %v: want .", name, b["context"])
		}
	default:
		t.Errorf("%s service is not built from the repository (build: %v)", name, sl.Build)
	}
	if main := c.Services["sluice"]; name != "sluice" && sl.Image != main.Image {
		t.Errorf("%s image %q: want the sluice service's %q (one image, built once)", name, sl.Image, main.Image)
	}
	depends, ok := sl.DependsOn.(map[string]any)
	if !ok {
		t.Fatalf("%s depends_on %v: want a mapping with condition: service_healthy", name, sl.DependsOn)
	}
	for _, dep := range deps {
		d, _ := depends[dep].(map[string]any)
		if d["condition"] != "service_healthy" {
			t.Errorf("%s depends_on %s: condition %v, want service_healthy", name, dep, d["condition"])
		}
	}

	var cfgHost, stateVolume string
	for _, m := range sl.mounts(t) {
		switch {
		case !m.bind && m.target == stateDir:
			stateVolume = m.source
		case m.bind && m.target == configMount:
			cfgHost = m.source
		}
	}
	if cfgHost == "" {
		t.Fatalf("the %s service mounts no config at %s (the image's CMD reads it there)", name, configMount)
	}
	if stateVolume == "" {
		t.Errorf("the %s service mounts no named volume at %s: the checkpoint would be lost with the container", name, stateDir)
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
			t.Errorf("%s references ${%s}, but the %s service's environment does not set it", cfgHost, v, name)
		}
	}
	for k, v := range env {
		t.Setenv(k, v)
	}
	cfg, err := streamKinds.Load(path)
	if err != nil {
		t.Fatalf("%s does not load: %v", cfgHost, err)
	}
	if !strings.HasPrefix(cfg.Checkpoint.Path, stateDir+"/") {
		t.Errorf("checkpoint.path %s is not on the state volume %s: progress is lost with the container", cfg.Checkpoint.Path, stateDir)
	}
	checkSluiceHTTP(t, c, name, cfgHost, cfg)
	return cfg, stateVolume
}

// checkSluiceHTTP: the config serves http on every interface of the
// container (Prometheus scrapes it from another), the service publishes
// that port, and its health check is `sluice health` in exec form (the
// image has no shell) finding the port through the mounted config.
func checkSluiceHTTP(t *testing.T, c composeFile, name, cfgHost string, cfg *config.Config) {
	t.Helper()
	sl := c.Services[name]
	host, port, err := net.SplitHostPort(cfg.HTTP.Listen)
	switch {
	case cfg.HTTP.Listen == "":
		t.Errorf("%s sets no http.listen: no health check, no metrics (want http: {listen: 0.0.0.0:9187})", cfgHost)
		return
	case err != nil:
		t.Errorf("%s http.listen %q: %v", cfgHost, cfg.HTTP.Listen, err)
		return
	case host != "" && host != "0.0.0.0" && host != "::":
		t.Errorf("%s http.listen %q: other containers (Prometheus) and the published port reach only 0.0.0.0", cfgHost, cfg.HTTP.Listen)
	}
	if _, ok := publishedPorts(t, sl)[port]; !ok {
		t.Errorf("the %s service does not publish its http.listen port %s (have %v)", name, port, sl.Ports)
	}
	test := words(sl.Healthcheck["test"])
	if len(test) < 3 || test[0] != "CMD" || test[1] != "/sluice" || test[2] != "health" {
		t.Errorf("%s healthcheck %q: want [\"CMD\", \"/sluice\", \"health\", ...] (exec form: the image has no shell)", name, test)
		return
	}
	args := test[3:]
	if i := slices.Index(args, "--config"); i < 0 || i+1 >= len(args) || args[i+1] != configMount {
		if !slices.Contains(args, "--url") {
			t.Errorf("%s healthcheck %q: want --config %s (or --url)", name, test, configMount)
		}
	}
	for _, key := range []string{"interval", "timeout", "start_period"} {
		if v, ok := sl.Healthcheck[key]; ok {
			if _, err := time.ParseDuration(fmt.Sprint(v)); err != nil {
				t.Errorf("%s healthcheck %s %v: %v", name, key, v, err)
			}
		}
	}
}

// healthcheckArgs is a sluice service's health check as arguments for the
// local binary: the image's /sluice is bin, and the config mount path the
// repository file compose mounts there.
func healthcheckArgs(t *testing.T, c composeFile, service string) []string {
	t.Helper()
	test := words(c.Services[service].Healthcheck["test"])
	if len(test) < 3 || test[0] != "CMD" || test[1] != "/sluice" {
		t.Fatalf("%s healthcheck %q: want [CMD /sluice health ...]", service, test)
	}
	return localArgs(t, c, service, test[2:])
}

// localArgs replaces the config mount path in args with the repository
// file the service mounts there.
func localArgs(t *testing.T, c composeFile, service string, args []string) []string {
	t.Helper()
	_, host := composeConfig(t, c, service)
	out := slices.Clone(args)
	for i, a := range out {
		if a == configMount {
			out[i] = host
		}
	}
	return out
}

// TestComposeConfigsCheckOffline: `sluice check --offline` accepts each
// config a sluice service mounts, with exactly the environment compose
// gives the service (and nothing from the caller's, such as SLUICE_*).
func TestComposeConfigsCheckOffline(t *testing.T) {
	t.Parallel()
	bin := buildSluice(t)
	c := readCompose(t)
	services := sluiceServices(c)
	if len(services) < 2 {
		t.Fatalf("sluice services in docker-compose.yml: %v; want sluice and sluice-mariadb", services)
	}
	for _, name := range services {
		args := localArgs(t, c, name, []string{"check", "--offline", "--config", configMount})
		cmd := exec.Command(bin, args...)
		cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}
		for k, v := range c.Services[name].env(t) {
			cmd.Env = append(cmd.Env, k+"="+v)
		}
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), ": ok") {
			t.Errorf("service %s: sluice %s: %v\n%s", name, strings.Join(args, " "), err, out)
		}
		for k, v := range c.Services[name].env(t) {
			if strings.Contains(k, "PASSWORD") && strings.Contains(string(out), v) {
				t.Errorf("service %s: sluice check --offline shows %s's value:\n%s", name, k, out)
			}
		}
	}
}

// checkPostgresDSN: dsn points at the compose service with its
// POSTGRES_USER, POSTGRES_PASSWORD and POSTGRES_DB.
func checkPostgresDSN(t *testing.T, c composeFile, key, dsn, service string) {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil {
		t.Errorf("%s: %v", key, err)
		return
	}
	senv := c.Services[service].env(t)
	pw, _ := u.User.Password()
	switch {
	case u.Hostname() != service:
		t.Errorf("%s host %q: want the compose service %q", key, u.Hostname(), service)
	case u.User.Username() != senv["POSTGRES_USER"] && !(u.User.Username() == "postgres" && senv["POSTGRES_USER"] == ""):
		t.Errorf("%s user %q is not the %s service's POSTGRES_USER %q", key, u.User.Username(), service, senv["POSTGRES_USER"])
	case pw != senv["POSTGRES_PASSWORD"]:
		t.Errorf("%s password is not the %s service's POSTGRES_PASSWORD", key, service)
	case strings.TrimPrefix(u.Path, "/") != senv["POSTGRES_DB"]:
		t.Errorf("%s database %q is not the %s service's POSTGRES_DB %q", key, u.Path, service, senv["POSTGRES_DB"])
	}
}

// checkMariaDBDSN: dsn points at the compose service, as a user its init
// script creates, with that user's password, in its MARIADB_DATABASE.
func checkMariaDBDSN(t *testing.T, c composeFile, key, dsn, service string) {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil {
		t.Errorf("%s: %v", key, err)
		return
	}
	s := c.Services[service]
	script := initScript(t, s)
	if script == "" {
		t.Errorf("the %s service mounts no init script, so %s's user does not exist", service, key)
		return
	}
	users := initUsers(t, filepath.Join(root, script))
	pw, _ := u.User.Password()
	user, ok := users[u.User.Username()]
	switch {
	case u.Scheme != "mysql":
		t.Errorf("%s scheme %q: want mysql://", key, u.Scheme)
	case u.Hostname() != service:
		t.Errorf("%s host %q: want the compose service %q", key, u.Hostname(), service)
	case u.Port() != "" && u.Port() != "3306":
		t.Errorf("%s port %s: the %s service listens on 3306 inside the compose network", key, u.Port(), service)
	case !ok:
		t.Errorf("%s user %q is not created by %s (it creates %v)", key, u.User.Username(), script, keys(users))
	case user.host != "%":
		t.Errorf("%s user %q is created for host %q in %s: sluice connects from another container, so create it for '%%'", key, u.User.Username(), user.host, script)
	case pw != user.password:
		t.Errorf("%s password is not the one %s gives user %q (IDENTIFIED BY): change them together", key, script, u.User.Username())
	case strings.TrimPrefix(u.Path, "/") != s.env(t)["MARIADB_DATABASE"]:
		t.Errorf("%s database %q is not the %s service's MARIADB_DATABASE %q", key, u.Path, service, s.env(t)["MARIADB_DATABASE"])
	}
}

// checkMariaDBService: a MariaDB image with what a binlog source needs on
// its command line, a root password, and a healthcheck that passes only once
// the server (not the entrypoint's socket-only init server) is up.
func checkMariaDBService(t *testing.T, s composeService) {
	t.Helper()
	if !strings.HasPrefix(s.Image, "mariadb:") {
		t.Errorf("mariadb image %q: want mariadb:<version>", s.Image)
	}
	opts := mariadbOptions(t, s)
	if _, off := opts["skip-log-bin"]; off {
		t.Errorf("mariadb command has --skip-log-bin: a binlog source needs the binary log")
	}
	switch v, ok := opts["log-bin"]; {
	case !ok:
		t.Errorf("mariadb command lacks --log-bin: the binary log is off by default")
	case v == "" && opts["log-basename"] == "":
		t.Errorf("mariadb command has --log-bin without a name: the log files are then named after the host, which is a new container id after every `docker compose up` that recreates the container, and sluice cannot resume; write --log-bin=mariadb-bin")
	}
	for opt, want := range map[string]string{"binlog-format": "ROW", "binlog-row-image": "FULL", "binlog-row-metadata": "FULL"} {
		if v, ok := opts[opt]; !ok || !strings.EqualFold(v, want) {
			t.Errorf("mariadb command: want --%s=%s (have %q)", opt, want, v)
		}
	}
	if id, err := strconv.ParseUint(opts["server-id"], 10, 32); err != nil || id == 0 {
		t.Errorf("mariadb command: want --server-id=<1..4294967295> (have %q)", opts["server-id"])
	}
	env := s.env(t)
	if env["MARIADB_ROOT_PASSWORD"] == "" && env["MARIADB_ALLOW_EMPTY_ROOT_PASSWORD"] == "" && env["MARIADB_RANDOM_ROOT_PASSWORD"] == "" {
		t.Errorf("mariadb: MARIADB_ROOT_PASSWORD is not set (the mariadb image refuses to start)")
	}
	if env["MARIADB_DATABASE"] == "" {
		t.Errorf("mariadb: MARIADB_DATABASE is not set (the database sluice-mariadb's DSN names)")
	}
	hc := strings.Join(words(s.Healthcheck["test"]), " ")
	switch {
	case strings.Contains(hc, "healthcheck.sh"):
		if !strings.Contains(hc, "--connect") {
			t.Errorf("mariadb healthcheck %q: add --connect (over TCP), else it passes while the init script still runs on the socket-only init server", hc)
		}
	case strings.Contains(hc, "mariadb-admin") && strings.Contains(hc, "ping"):
		if !strings.Contains(hc, "-h") && !strings.Contains(hc, "--protocol=tcp") {
			t.Errorf("mariadb healthcheck %q: ping over TCP (-h 127.0.0.1), else it passes while the init script still runs on the socket-only init server", hc)
		}
	default:
		t.Errorf("mariadb healthcheck %q runs neither healthcheck.sh nor mariadb-admin ping", hc)
	}
}

// mariadbOptions reads the mariadb service's command as mariadbd options,
// name (with - for _) → value ("" for a bare --flag).
func mariadbOptions(t *testing.T, s composeService) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, w := range words(s.Command) {
		if w == "mariadbd" || w == "mysqld" {
			continue
		}
		if !strings.HasPrefix(w, "--") {
			t.Errorf("mariadb command word %q: want --option[=value] (the image's entrypoint passes those to mariadbd)", w)
			continue
		}
		name, val, _ := strings.Cut(strings.TrimPrefix(w, "--"), "=")
		out[strings.ReplaceAll(name, "_", "-")] = val
	}
	return out
}

// mariadbArgs is the mariadb service's command as arguments for mariadbd.
func mariadbArgs(t *testing.T, s composeService) []string {
	t.Helper()
	var out []string
	for _, w := range words(s.Command) {
		if strings.HasPrefix(w, "--") {
			out = append(out, w)
		}
	}
	return out
}

// initScript is the repository path of the service's SQL init script.
func initScript(t *testing.T, s composeService) string {
	t.Helper()
	for _, m := range s.mounts(t) {
		if m.bind && strings.HasPrefix(m.target, "/docker-entrypoint-initdb.d/") {
			return strings.TrimPrefix(m.source, "./")
		}
	}
	return ""
}

type initUser struct{ host, password string }

var createUserRE = regexp.MustCompile(`(?i)CREATE\s+USER\s+(?:IF\s+NOT\s+EXISTS\s+)?'([^']+)'@'([^']*)'\s+IDENTIFIED\s+BY\s+'([^']*)'`)

// initUsers lists the users an init script creates with a password.
func initUsers(t *testing.T, path string) map[string]initUser {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]initUser{}
	for _, m := range createUserRE.FindAllStringSubmatch(string(b), -1) {
		out[m[1]] = initUser{host: m[2], password: m[3]}
	}
	return out
}

// composeConfig loads the config the compose service mounts, with the
// service's environment only (no t.Setenv, so parallel tests can use it).
func composeConfig(t *testing.T, c composeFile, service string) (*config.Config, string) {
	t.Helper()
	s := c.Services[service]
	var host string
	for _, m := range s.mounts(t) {
		if m.bind && m.target == configMount {
			host = m.source
		}
	}
	if host == "" {
		t.Fatalf("the %s service mounts no config at %s", service, configMount)
	}
	text, err := os.ReadFile(filepath.Join(root, host))
	if err != nil {
		t.Fatal(err)
	}
	env := s.env(t)
	cfg, err := config.Parse(text, "", func(k string) (string, bool) { v, ok := env[k]; return v, ok }, streamKinds.Kinds()...)
	if err != nil {
		t.Fatalf("%s: %v", host, err)
	}
	return cfg, filepath.Join(root, host)
}

// runHealthchecks runs the service's compose health check and the image's
// HEALTHCHECK, as Docker would in the container, against the sluice running
// locally with env, until both exit 0.
func runHealthchecks(t *testing.T, ctx context.Context, bin string, c composeFile, service string, env []string) {
	t.Helper()
	checks := map[string][]string{
		"the " + service + " service's healthcheck": healthcheckArgs(t, c, service),
		"the Dockerfile's HEALTHCHECK":              localArgs(t, c, service, dockerHealthcheck(t)),
	}
	for what, args := range checks {
		deadline := time.Now().Add(20 * time.Second)
		for {
			cmd := exec.CommandContext(ctx, bin, args...)
			cmd.Env = env
			out, err := cmd.CombinedOutput()
			if err == nil {
				break
			}
			if time.Now().After(deadline) || ctx.Err() != nil {
				t.Errorf("%s (sluice %s) fails against the running sluice: %v\n%s", what, strings.Join(args, " "), err, out)
				break
			}
			time.Sleep(500 * time.Millisecond)
		}
	}
}

// checkKafkaService: a single KRaft node whose internal topics can exist
// on one broker (transactions need the transaction state log, with its
// min ISR, at replication factor 1), with its data on a named volume.
func checkKafkaService(t *testing.T, s composeService) {
	t.Helper()
	if !strings.HasPrefix(s.Image, "apache/kafka:") {
		t.Errorf("kafka image %q: want apache/kafka:<version>", s.Image)
	}
	env := s.env(t)
	for k, want := range map[string]string{
		"KAFKA_PROCESS_ROLES":                            "broker,controller",
		"KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR":         "1",
		"KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR": "1",
		"KAFKA_TRANSACTION_STATE_LOG_MIN_ISR":            "1",
	} {
		if env[k] != want {
			t.Errorf("kafka %s = %q, want %q", k, env[k], want)
		}
	}
	if !strings.Contains(env["KAFKA_ADVERTISED_LISTENERS"], "PLAINTEXT://kafka:9092") {
		t.Errorf("kafka advertises %q: the sluice-kafka service reaches it as kafka:9092", env["KAFKA_ADVERTISED_LISTENERS"])
	}
	if vs := s.mounts(t); len(vs) == 0 || vs[0].bind || vs[0].target != env["KAFKA_LOG_DIRS"] {
		t.Errorf("kafka: KAFKA_LOG_DIRS %q is not on a named volume (mounts %v): topics would be lost with the container", env["KAFKA_LOG_DIRS"], vs)
	}
	if hc := strings.Join(words(s.Healthcheck["test"]), " "); !strings.Contains(hc, "kafka-broker-api-versions") {
		t.Errorf("kafka healthcheck %q: want a broker API probe (sluice-kafka waits for service_healthy)", hc)
	}
}
