package examples_test

// Monitoring in docker-compose.yml: Prometheus scrapes the sluice services
// where their configs listen, Grafana's provisioning points at Prometheus
// and loads the dashboard, and every metric the dashboard queries is one
// the binary exports (checked against a running pipeline's /metrics).

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"go.yaml.in/yaml/v3"

	"github.com/sluicecdc/sluice/internal/pgtest"
)

const dashboardFile = "grafana/sluice-dashboard.json"

// sluiceServices are the compose services that run the sluice image.
func sluiceServices(c composeFile) []string {
	var out []string
	img := c.Services["sluice"].Image
	for name, s := range c.Services {
		if s.Image == img && s.Build != nil {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

// bindMount is where the service mounts the repository path host ("" when
// it does not).
func bindMount(t *testing.T, s composeService, host string) string {
	t.Helper()
	for _, m := range s.mounts(t) {
		if m.bind && path.Clean(m.source) == path.Clean(host) {
			return m.target
		}
	}
	return ""
}

// publishedPorts maps the container ports a service publishes to the host
// address:port, from the short syntax [ip:]host:container[/proto].
func publishedPorts(t *testing.T, s composeService) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, p := range s.Ports {
		str, ok := p.(string)
		if !ok {
			t.Fatalf("ports entry %v: want the short syntax \"127.0.0.1:HOST:CONTAINER\"", p)
		}
		str, _, _ = strings.Cut(str, "/")
		i := strings.LastIndex(str, ":")
		if i < 0 {
			out[str] = ""
			continue
		}
		out[str[i+1:]] = str[:i]
	}
	return out
}

// prometheusConfig is the part of Prometheus's configuration the example
// uses; decoded with known fields only, so a misspelt key fails the test
// as it would fail Prometheus's start.
type prometheusConfig struct {
	Global struct {
		ScrapeInterval     string            `yaml:"scrape_interval"`
		ScrapeTimeout      string            `yaml:"scrape_timeout"`
		EvaluationInterval string            `yaml:"evaluation_interval"`
		ExternalLabels     map[string]string `yaml:"external_labels"`
	} `yaml:"global"`
	ScrapeConfigs []struct {
		JobName        string `yaml:"job_name"`
		MetricsPath    string `yaml:"metrics_path"`
		Scheme         string `yaml:"scheme"`
		ScrapeInterval string `yaml:"scrape_interval"`
		ScrapeTimeout  string `yaml:"scrape_timeout"`
		StaticConfigs  []struct {
			Targets []string          `yaml:"targets"`
			Labels  map[string]string `yaml:"labels"`
		} `yaml:"static_configs"`
	} `yaml:"scrape_configs"`
}

// TestPrometheusConfig: the prometheus service reads the config compose
// mounts, and it scrapes every sluice service, once, at the port its
// config listens on, on an address other containers reach.
func TestPrometheusConfig(t *testing.T) {
	c := readCompose(t)
	prom, ok := c.Services["prometheus"]
	if !ok {
		t.Fatalf("docker-compose.yml has no prometheus service (have %v)", keys(c.Services))
	}
	if !strings.HasPrefix(prom.Image, "prom/prometheus:") {
		t.Errorf("prometheus image %q: want prom/prometheus:<version>", prom.Image)
	}
	const host = "./examples/docker/prometheus.yml"
	target := bindMount(t, prom, host)
	if target == "" {
		t.Fatalf("the prometheus service does not mount %s", host)
	}
	configFile := "/etc/prometheus/prometheus.yml" // the image's default
	for _, w := range words(prom.Command) {
		if v, ok := strings.CutPrefix(w, "--config.file="); ok {
			configFile = v
		}
	}
	if target != configFile {
		t.Errorf("prometheus reads %s, but compose mounts %s at %s", configFile, host, target)
	}

	b, err := os.ReadFile(filepath.Join(root, host))
	if err != nil {
		t.Fatal(err)
	}
	var pc prometheusConfig
	dec := yaml.NewDecoder(strings.NewReader(string(b)))
	dec.KnownFields(true)
	if err := dec.Decode(&pc); err != nil {
		t.Fatalf("%s: %v", host, err)
	}
	for key, v := range map[string]string{"global.scrape_interval": pc.Global.ScrapeInterval, "global.scrape_timeout": pc.Global.ScrapeTimeout, "global.evaluation_interval": pc.Global.EvaluationInterval} {
		if _, err := model.ParseDuration(v); v != "" && err != nil {
			t.Errorf("%s %q: %v", key, v, err)
		}
	}
	if len(pc.ScrapeConfigs) == 0 {
		t.Errorf("%s has no scrape_configs", host)
	}
	scraped := map[string]int{}
	for _, sc := range pc.ScrapeConfigs {
		if sc.JobName == "" {
			t.Errorf("a scrape config has no job_name")
		}
		if sc.MetricsPath != "" && sc.MetricsPath != "/metrics" {
			t.Errorf("job %s scrapes %s; sluice serves /metrics", sc.JobName, sc.MetricsPath)
		}
		if sc.Scheme != "" && sc.Scheme != "http" {
			t.Errorf("job %s scheme %s: sluice serves plain http", sc.JobName, sc.Scheme)
		}
		for _, st := range sc.StaticConfigs {
			for _, tg := range st.Targets {
				h, port, err := net.SplitHostPort(tg)
				if err != nil {
					t.Errorf("job %s target %q: want service:port (%v)", sc.JobName, tg, err)
					continue
				}
				svc, ok := c.Services[h]
				if !ok {
					t.Errorf("job %s target %q: no compose service %q (have %v)", sc.JobName, tg, h, keys(c.Services))
					continue
				}
				if svc.Image != c.Services["sluice"].Image {
					t.Errorf("job %s target %q: the service %s does not run sluice", sc.JobName, tg, h)
					continue
				}
				scraped[h]++
				cfg, cfgPath := composeConfig(t, c, h)
				lh, lp, err := net.SplitHostPort(cfg.HTTP.Listen)
				switch {
				case cfg.HTTP.Listen == "":
					t.Errorf("job %s scrapes %s, but %s sets no http.listen", sc.JobName, tg, cfgPath)
				case err != nil:
					t.Errorf("%s http.listen %q: %v", cfgPath, cfg.HTTP.Listen, err)
				case lp != port:
					t.Errorf("job %s scrapes %s, but %s listens on port %s", sc.JobName, tg, cfgPath, lp)
				case lh != "" && lh != "0.0.0.0" && lh != "::":
					t.Errorf("%s http.listen %q: Prometheus scrapes from another container; listen on 0.0.0.0", cfgPath, cfg.HTTP.Listen)
				}
			}
		}
	}
	for _, name := range sluiceServices(c) {
		if scraped[name] != 1 {
			t.Errorf("the sluice service %s is scraped %d times; want once", name, scraped[name])
		}
	}
}

// TestGrafanaProvisioning: the grafana service mounts the datasource and
// dashboard provisioning and the dashboard where the provider looks; the
// datasource is the compose prometheus service, with the uid the
// dashboard's datasource variable defaults to.
func TestGrafanaProvisioning(t *testing.T) {
	c := readCompose(t)
	g, ok := c.Services["grafana"]
	if !ok {
		t.Fatalf("docker-compose.yml has no grafana service (have %v)", keys(c.Services))
	}
	if !strings.HasPrefix(g.Image, "grafana/grafana:") {
		t.Errorf("grafana image %q: want grafana/grafana:<version>", g.Image)
	}
	if g.env(t)["GF_SECURITY_ADMIN_PASSWORD"] == "" {
		t.Errorf("grafana: GF_SECURITY_ADMIN_PASSWORD is not set (admin/admin would be the login)")
	}
	dsDir := bindMount(t, g, "./examples/grafana/provisioning/datasources")
	dbDir := bindMount(t, g, "./examples/grafana/provisioning/dashboards")
	dashPath := bindMount(t, g, "./examples/"+dashboardFile)
	if dsDir != "/etc/grafana/provisioning/datasources" || dbDir != "/etc/grafana/provisioning/dashboards" {
		t.Errorf("grafana mounts the provisioning at %q and %q; want /etc/grafana/provisioning/datasources and .../dashboards", dsDir, dbDir)
	}
	if dashPath == "" {
		t.Fatalf("grafana does not mount ./examples/%s", dashboardFile)
	}
	if home := g.env(t)["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]; home != "" && home != dashPath {
		t.Errorf("GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH %s is not where the dashboard is mounted (%s)", home, dashPath)
	}

	// Datasources: the prometheus service on the port it listens on.
	var ds struct {
		APIVersion  int `yaml:"apiVersion"`
		Datasources []struct {
			Name, UID, Type, Access, URL string
			IsDefault                    bool           `yaml:"isDefault"`
			JSONData                     map[string]any `yaml:"jsonData"`
		} `yaml:"datasources"`
	}
	readYAML(t, "grafana/provisioning/datasources/prometheus.yml", &ds)
	if ds.APIVersion != 1 || len(ds.Datasources) != 1 {
		t.Fatalf("datasources: want apiVersion 1 and one datasource, have %+v", ds)
	}
	d := ds.Datasources[0]
	u, err := url.Parse(d.URL)
	if err != nil {
		t.Fatalf("datasource url: %v", err)
	}
	promPort := "9090"
	for _, w := range words(c.Services["prometheus"].Command) {
		if v, ok := strings.CutPrefix(w, "--web.listen-address="); ok {
			_, promPort, _ = net.SplitHostPort(v)
		}
	}
	if d.Type != "prometheus" || u.Hostname() != "prometheus" || u.Port() != promPort || d.UID == "" {
		t.Errorf("datasource %+v: want type prometheus, url http://prometheus:%s, a uid", d, promPort)
	}
	var pc prometheusConfig
	readYAML(t, "docker/prometheus.yml", &pc)
	if ti, _ := d.JSONData["timeInterval"].(string); ti != pc.Global.ScrapeInterval {
		t.Errorf("datasource jsonData.timeInterval %q is not prometheus.yml's scrape_interval %q ($__rate_interval needs it)", ti, pc.Global.ScrapeInterval)
	}
	var dashVar string
	for _, v := range readDashboard(t).Templating.List {
		if v.Type == "datasource" {
			dashVar, _ = v.Current["value"].(string)
		}
	}
	if dashVar != d.UID {
		t.Errorf("the dashboard's datasource variable defaults to %q, the provisioned datasource's uid is %q", dashVar, d.UID)
	}

	// Dashboards: a file provider whose path holds the mounted dashboard.
	var db struct {
		APIVersion int `yaml:"apiVersion"`
		Providers  []struct {
			Name, Type string
			Options    struct {
				Path string `yaml:"path"`
			} `yaml:"options"`
		} `yaml:"providers"`
	}
	readYAML(t, "grafana/provisioning/dashboards/sluice.yml", &db)
	if db.APIVersion != 1 || len(db.Providers) != 1 {
		t.Fatalf("dashboard providers: want apiVersion 1 and one provider, have %+v", db)
	}
	if p := db.Providers[0]; p.Type != "file" || p.Options.Path != path.Dir(dashPath) {
		t.Errorf("dashboard provider %+v: want type file with options.path %s (where compose mounts the dashboard)", p, path.Dir(dashPath))
	}
}

func readYAML(t *testing.T, file string, v any) {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
}

type dashboard struct {
	UID           string           `json:"uid"`
	Title         string           `json:"title"`
	SchemaVersion int              `json:"schemaVersion"`
	Panels        []dashboardPanel `json:"panels"`
	Templating    struct {
		List []struct {
			Name, Type, AllValue string
			Multi, IncludeAll    bool
			Datasource           map[string]any
			Query                any
			Current              map[string]any
		} `json:"list"`
	} `json:"templating"`
}

type dashboardPanel struct {
	ID         int            `json:"id"`
	Type       string         `json:"type"`
	Title      string         `json:"title"`
	Datasource map[string]any `json:"datasource"`
	GridPos    struct{ X, Y, W, H int }
	Targets    []struct {
		RefID        string         `json:"refId"`
		Expr         string         `json:"expr"`
		LegendFormat string         `json:"legendFormat"`
		Datasource   map[string]any `json:"datasource"`
	} `json:"targets"`
	Panels []dashboardPanel `json:"panels"` // a collapsed row's
}

func readDashboard(t *testing.T) dashboard {
	t.Helper()
	b, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("%s: %v", dashboardFile, err)
	}
	return d
}

// query is one PromQL expression of the dashboard and where it is.
type query struct{ where, expr, legend string }

// queries lists the dashboard's panel expressions and its variables'
// queries.
func (d dashboard) queries() []query {
	var out []query
	var walk func([]dashboardPanel)
	walk = func(ps []dashboardPanel) {
		for _, p := range ps {
			for _, tg := range p.Targets {
				out = append(out, query{fmt.Sprintf("panel %q target %s", p.Title, tg.RefID), tg.Expr, tg.LegendFormat})
			}
			walk(p.Panels)
		}
	}
	walk(d.Panels)
	for _, v := range d.Templating.List {
		switch q := v.Query.(type) {
		case string:
			if v.Type == "query" {
				out = append(out, query{"variable " + v.Name, q, ""})
			}
		case map[string]any:
			if s, _ := q["query"].(string); s != "" {
				out = append(out, query{"variable " + v.Name, s, ""})
			}
		}
	}
	return out
}

var (
	sluiceNameRE = regexp.MustCompile(`(?:^|[^A-Za-z0-9_:])(sluice_[A-Za-z0-9_:]*)`)
	selectorRE   = regexp.MustCompile(`(sluice_[A-Za-z0-9_:]*)\s*(\{[^}]*\})?`)
	matcherRE    = regexp.MustCompile(`([A-Za-z_][A-Za-z0-9_]*)\s*(?:=~|!~|!=|=)`)
	groupingRE   = regexp.MustCompile(`\b(?:by|without)\s*\(([^)]*)\)`)
	legendRE     = regexp.MustCompile(`\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}`)
)

func metricNames(expr string) []string {
	var out []string
	for _, m := range sluiceNameRE.FindAllStringSubmatch(expr, -1) {
		if !slices.Contains(out, m[1]) {
			out = append(out, m[1])
		}
	}
	return out
}

// balanced reports whether brackets and double quotes pair up.
func balanced(expr string) bool {
	var stack []rune
	inQuote := false
	for i, r := range expr {
		if inQuote {
			if r == '"' && (i == 0 || expr[i-1] != '\\') {
				inQuote = false
			}
			continue
		}
		switch r {
		case '"':
			inQuote = true
		case '(', '[', '{':
			stack = append(stack, r)
		case ')', ']', '}':
			open := map[rune]rune{')': '(', ']': '[', '}': '{'}[r]
			if len(stack) == 0 || stack[len(stack)-1] != open {
				return false
			}
			stack = stack[:len(stack)-1]
		}
	}
	return !inQuote && len(stack) == 0
}

// TestGrafanaDashboard checks the dashboard's shape without a server:
// panels on the grid without overlap, every query on the datasource
// variable and filtered by the pipeline variable, the metrics an operator
// needs all shown.
func TestGrafanaDashboard(t *testing.T) {
	d := readDashboard(t)
	if d.UID == "" || d.Title == "" || d.SchemaVersion == 0 {
		t.Errorf("dashboard needs uid, title and schemaVersion (have %q, %q, %d)", d.UID, d.Title, d.SchemaVersion)
	}
	vars := map[string]int{}
	for i, v := range d.Templating.List {
		vars[v.Name] = i
	}
	if i, ok := vars["datasource"]; !ok || d.Templating.List[i].Type != "datasource" || d.Templating.List[i].Query != "prometheus" {
		t.Errorf("no datasource variable of type datasource for prometheus")
	}
	if i, ok := vars["pipeline"]; !ok {
		t.Errorf("no pipeline variable")
	} else if v := d.Templating.List[i]; v.Type != "query" || !v.Multi || !v.IncludeAll || v.AllValue != ".*" || v.Datasource["uid"] != "${datasource}" {
		t.Errorf("pipeline variable %+v: want a multi-value query variable with All = .* on ${datasource}", v)
	}

	ids := map[int]string{}
	cells := map[[2]int]string{}
	var walk func([]dashboardPanel)
	walk = func(ps []dashboardPanel) {
		for _, p := range ps {
			if other, dup := ids[p.ID]; dup || p.ID <= 0 {
				t.Errorf("panel %q id %d: not positive or also %q's", p.Title, p.ID, other)
			}
			ids[p.ID] = p.Title
			g := p.GridPos
			if g.X < 0 || g.Y < 0 || g.W < 1 || g.H < 1 || g.X+g.W > 24 {
				t.Errorf("panel %q gridPos %+v: off the 24-column grid", p.Title, g)
			}
			for x := g.X; x < g.X+g.W; x++ {
				for y := g.Y; y < g.Y+g.H; y++ {
					if other, ok := cells[[2]int{x, y}]; ok {
						t.Errorf("panel %q overlaps %q at %d,%d", p.Title, other, x, y)
						return
					}
					cells[[2]int{x, y}] = p.Title
				}
			}
			walk(p.Panels)
			if p.Type == "row" {
				continue
			}
			if p.Datasource["uid"] != "${datasource}" || len(p.Targets) == 0 {
				t.Errorf("panel %q: want datasource ${datasource} and at least one target", p.Title)
			}
			refs := map[string]bool{}
			for _, tg := range p.Targets {
				if refs[tg.RefID] || tg.RefID == "" {
					t.Errorf("panel %q: refId %q empty or repeated", p.Title, tg.RefID)
				}
				refs[tg.RefID] = true
				if tg.Datasource["uid"] != "${datasource}" {
					t.Errorf("panel %q target %s: datasource %v, want ${datasource}", p.Title, tg.RefID, tg.Datasource)
				}
			}
		}
	}
	walk(d.Panels)

	used := map[string]bool{}
	for _, q := range d.queries() {
		if !balanced(q.expr) {
			t.Errorf("%s: brackets or quotes do not pair up: %s", q.where, q.expr)
		}
		names := metricNames(q.expr)
		if len(names) == 0 {
			t.Errorf("%s queries no sluice_* metric: %s", q.where, q.expr)
		}
		for _, n := range names {
			used[n] = true
		}
		if strings.HasPrefix(q.where, "variable") {
			continue
		}
		for _, m := range selectorRE.FindAllStringSubmatch(q.expr, -1) {
			if !strings.Contains(m[2], `pipeline=~"$pipeline"`) {
				t.Errorf("%s: %s is not filtered by pipeline=~\"$pipeline\": %s", q.where, m[1], q.expr)
			}
		}
	}
	for _, want := range []string{
		"sluice_lag_seconds", "sluice_lag_bytes", "sluice_changes_read_total", "sluice_changes_applied_total",
		"sluice_batch_flush_seconds_bucket", "sluice_batches_total", "sluice_snapshot_rows_copied", "sluice_snapshot_rows_estimated",
		"sluice_errors_total", "sluice_retries_total", "sluice_slot_retained_wal_bytes", "sluice_state", "sluice_ready",
	} {
		if !used[want] {
			t.Errorf("the dashboard does not show %s", want)
		}
	}
}

// TestGrafanaDashboardMetrics runs PostgreSQL → PostgreSQL with
// http.listen, makes a snapshot, changes, a target probe error and a
// source reconnect happen, and checks that every sluice_* name the
// dashboard queries is in /metrics (histograms by their _bucket, _sum and
// _count series), and that every label its matchers, groupings and legends
// use is on those series.
func TestGrafanaDashboardMetrics(t *testing.T) {
	t.Parallel()
	d := readDashboard(t)
	queries := d.queries()
	bin := buildSluice(t)
	ctx := runWithTimeout(t, 2*time.Minute)
	src := pgtest.Start(t, pgtest.Options{})
	dst := pgtest.Start(t, pgtest.Options{})
	if err := src.CreateDB(ctx, "app"); err != nil {
		t.Fatal(err)
	}
	if err := dst.CreateDB(ctx, "dwh"); err != nil {
		t.Fatal(err)
	}
	if err := src.Exec(ctx, "app", `CREATE TABLE t (id int PRIMARY KEY, v text);
		INSERT INTO t SELECT g, 'row ' || g FROM generate_series(1, 500) g; ANALYZE t;`); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	listen := freeAddr(t)
	cfg := filepath.Join(dir, "sluice.yaml")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf(`name: dash
source:
  kind: postgres
  dsn: %s
  tables: ["public.*"]
sink:
  kind: postgres
  dsn: %s
checkpoint:
  path: %s
http:
  listen: %s
`, src.DSN("app"), dst.DSN("dwh"), filepath.Join(dir, "dash.checkpoint"), listen)), 0o600); err != nil {
		t.Fatal(err)
	}
	var out syncBuffer
	cmd := exec.Command(bin, "run", "--config", cfg)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() { cmd.Process.Kill() })
	base := "http://" + listen

	// Snapshot, then an insert, an update and a delete, applied.
	// Streaming, not just ready: ready is also 1 while the snapshot is set
	// up, and changes written then are part of the copy, not changes.
	waitScrape(t, ctx, base, done, &out, "the snapshot and the changes applied", func(mfs map[string]*dto.MetricFamily) bool {
		return seriesWith(mfs, "sluice_ready", "pipeline", "dash") && sampleValue(mfs, "sluice_ready") == 1 && inState(mfs, "streaming")
	})
	if err := src.Exec(ctx, "app", `INSERT INTO t VALUES (1000, 'new'); UPDATE t SET v = 'upd' WHERE id = 1; DELETE FROM t WHERE id = 2;`); err != nil {
		t.Fatal(err)
	}
	waitScrape(t, ctx, base, done, &out, "the changes applied", func(mfs map[string]*dto.MetricFamily) bool {
		return seriesWith(mfs, "sluice_changes_applied_total", "op", "insert") && seriesWith(mfs, "sluice_changes_applied_total", "op", "update") &&
			seriesWith(mfs, "sluice_changes_applied_total", "op", "delete")
	})

	// An error: the target refuses new connections, so its probe fails
	// (the sink's open connection is unaffected). A retry: the source's
	// replication connection is ended, and sluice reconnects.
	if err := dst.Exec(ctx, "postgres", `ALTER DATABASE dwh ALLOW_CONNECTIONS false`); err != nil {
		t.Fatal(err)
	}
	if err := src.Exec(ctx, "postgres", `SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE active`); err != nil {
		t.Fatal(err)
	}
	mfs := waitScrape(t, ctx, base, done, &out, "an error and a retry counted", func(mfs map[string]*dto.MetricFamily) bool {
		return seriesWith(mfs, "sluice_errors_total", "kind", "sink_probe") && seriesWith(mfs, "sluice_retries_total", "kind", "source_reconnect")
	})
	if err := dst.Exec(ctx, "postgres", `ALTER DATABASE dwh ALLOW_CONNECTIONS true`); err != nil {
		t.Fatal(err)
	}
	defer stopSluice(t, ctx, cmd, done, &out)

	// Every name and label the dashboard uses.
	labelsOf := func(name string) (map[string]bool, bool) {
		family := name
		mf := mfs[name]
		if mf == nil {
			for _, suffix := range []string{"_bucket", "_sum", "_count"} {
				if base, ok := strings.CutSuffix(name, suffix); ok && mfs[base] != nil && mfs[base].GetType() == dto.MetricType_HISTOGRAM {
					family, mf = base, mfs[base]
				}
			}
		}
		if mf == nil {
			return nil, false
		}
		labels := map[string]bool{"job": true, "instance": true} // added by Prometheus
		if mf.GetType() == dto.MetricType_HISTOGRAM && name == family+"_bucket" {
			labels["le"] = true
		}
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				labels[lp.GetName()] = true
			}
		}
		return labels, true
	}
	var exported []string
	for name := range mfs {
		if strings.HasPrefix(name, "sluice_") {
			exported = append(exported, name)
		}
	}
	slices.Sort(exported)
	for _, q := range queries {
		known := map[string]bool{}
		for _, name := range metricNames(q.expr) {
			labels, ok := labelsOf(name)
			if !ok {
				t.Errorf("%s uses %s, which sluice does not export; it exports %v", q.where, name, exported)
				continue
			}
			for l := range labels {
				known[l] = true
			}
		}
		var used []string
		for _, m := range selectorRE.FindAllStringSubmatch(q.expr, -1) {
			for _, mm := range matcherRE.FindAllStringSubmatch(m[2], -1) {
				used = append(used, mm[1])
			}
		}
		for _, m := range groupingRE.FindAllStringSubmatch(q.expr, -1) {
			for _, l := range strings.Split(m[1], ",") {
				if l = strings.TrimSpace(l); l != "" {
					used = append(used, l)
				}
			}
		}
		for _, m := range legendRE.FindAllStringSubmatch(q.legend, -1) {
			used = append(used, m[1])
		}
		if v, ok := strings.CutPrefix(q.where, "variable "); ok && v == "pipeline" {
			used = append(used, "pipeline") // label_values(metric, pipeline)
		}
		for _, l := range used {
			if len(known) > 0 && !known[l] {
				t.Errorf("%s uses the label %q, which its metrics %v do not have: %s", q.where, l, metricNames(q.expr), q.expr)
			}
		}
	}
	if t.Failed() {
		t.Logf("sluice output:\n%s", tailString(out.String(), 4000))
	}
}

// waitScrape scrapes base/metrics until ok holds, and returns that scrape.
func waitScrape(t *testing.T, ctx context.Context, base string, exited chan error, out *syncBuffer, what string, ok func(map[string]*dto.MetricFamily) bool) map[string]*dto.MetricFamily {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	var last string
	for {
		mfs, err := scrapeMetrics(ctx, base)
		if err == nil && ok(mfs) {
			return mfs
		}
		last = fmt.Sprint(err)
		if err == nil {
			last = "condition not met"
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s/metrics: no %s within 20s (%s); output:\n%s", base, what, last, tailString(out.String(), 4000))
		}
		select {
		case err := <-exited:
			t.Fatalf("sluice exited (%v) before %s; output:\n%s", err, what, tailString(out.String(), 4000))
		case <-ctx.Done():
			t.Fatalf("timed out waiting for %s", what)
		case <-time.After(250 * time.Millisecond):
		}
	}
}

func scrapeMetrics(ctx context.Context, base string) (map[string]*dto.MetricFamily, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/metrics", nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("HTTP %s", resp.Status)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	return parser.TextToMetricFamilies(strings.NewReader(string(b)))
}

// seriesWith reports whether a family has a series with the label.
func seriesWith(mfs map[string]*dto.MetricFamily, name, label, value string) bool {
	for _, m := range mfs[name].GetMetric() {
		for _, lp := range m.GetLabel() {
			if lp.GetName() == label && lp.GetValue() == value {
				return true
			}
		}
	}
	return false
}

// inState says whether sluice_state is 1 for state.
func inState(mfs map[string]*dto.MetricFamily, state string) bool {
	for _, m := range mfs["sluice_state"].GetMetric() {
		for _, lp := range m.GetLabel() {
			if lp.GetName() == "state" && lp.GetValue() == state && m.GetGauge().GetValue() == 1 {
				return true
			}
		}
	}
	return false
}

// sampleValue is the first series' value of a gauge or counter (-1 when
// there is none).
func sampleValue(mfs map[string]*dto.MetricFamily, name string) float64 {
	for _, m := range mfs[name].GetMetric() {
		switch {
		case m.Gauge != nil:
			return m.Gauge.GetValue()
		case m.Counter != nil:
			return m.Counter.GetValue()
		}
	}
	return -1
}

// freeAddr is a loopback address with a port nothing listens on now.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func tailString(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "..." + s[len(s)-n:]
}

// stopSluice sends SIGTERM and waits for a clean exit.
func stopSluice(t *testing.T, ctx context.Context, cmd *exec.Cmd, done chan error, out *syncBuffer) {
	t.Helper()
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("sluice exited with %v after SIGTERM; output:\n%s", err, out.String())
		}
	case <-ctx.Done():
		t.Fatalf("sluice did not exit after SIGTERM; output:\n%s", out.String())
	}
}
