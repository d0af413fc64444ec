package examples_test

// Dockerfile: a multi-stage static build whose final stage runs /sluice as
// a non-root user with the config path docker-compose.yml mounts.

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// instruction is one Dockerfile instruction, continuation lines joined.
type instruction struct {
	cmd, args string
	stage     int // index of the FROM it belongs to
}

func readDockerfile(t *testing.T) []instruction {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	var out []instruction
	stage, cur := -1, ""
	for _, line := range strings.Split(string(b), "\n") {
		trimmed := strings.TrimSpace(line)
		if cur == "" && (trimmed == "" || strings.HasPrefix(trimmed, "#")) {
			continue
		}
		if strings.HasSuffix(trimmed, "\\") {
			cur += strings.TrimSuffix(trimmed, "\\") + " "
			continue
		}
		cur += trimmed
		cmd, args, _ := strings.Cut(cur, " ")
		cmd = strings.ToUpper(cmd)
		if cmd == "FROM" {
			stage++
		}
		out = append(out, instruction{cmd: cmd, args: strings.TrimSpace(args), stage: stage})
		cur = ""
	}
	return out
}

// execForm parses an instruction's JSON array ("exec form").
func execForm(t *testing.T, in instruction) []string {
	t.Helper()
	var v []string
	if err := json.Unmarshal([]byte(in.args), &v); err != nil {
		t.Fatalf("%s %s: want the JSON (exec) form: distroless has no shell", in.cmd, in.args)
	}
	return v
}

func TestDockerfile(t *testing.T) {
	ins := readDockerfile(t)
	var froms []instruction
	for _, in := range ins {
		if in.cmd == "FROM" {
			froms = append(froms, in)
		}
	}
	if len(froms) < 2 {
		t.Fatalf("Dockerfile has %d FROM lines; want a multi-stage build (a Go stage, then a small runtime stage)", len(froms))
	}
	final := len(froms) - 1
	last := func(cmd string) (instruction, bool) {
		var found instruction
		ok := false
		for _, in := range ins {
			if in.cmd == cmd && in.stage == final {
				found, ok = in, true
			}
		}
		return found, ok
	}

	// The Go image matches go.mod's go version.
	gomod, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	goVersion := regexp.MustCompile(`(?m)^go (\d+\.\d+)`).FindSubmatch(gomod)
	if goVersion == nil || !strings.Contains(froms[0].args, "golang:"+string(goVersion[1])) {
		t.Errorf("build stage %q: want golang:%s (go.mod's go version)", froms[0].args, goVersion[1])
	}

	var build instruction
	for _, in := range ins {
		if in.cmd == "RUN" && strings.Contains(in.args, "go build") {
			build = in
		}
	}
	for _, want := range []string{"CGO_ENABLED=0", "./cmd/sluice", "-trimpath", "main.version="} {
		if !strings.Contains(build.args, want) {
			t.Errorf("the go build step %q lacks %s", build.args, want)
		}
	}
	if build.stage == final {
		t.Errorf("sluice is built in the final stage; build it in an earlier one and copy the binary")
	}
	out := regexp.MustCompile(`-o\s+(\S+)`).FindStringSubmatch(build.args)
	if out == nil {
		t.Fatalf("the go build step names no -o output")
	}
	copied := false
	for _, in := range ins {
		if in.cmd == "COPY" && in.stage == final && strings.Contains(in.args, "--from=") && strings.Contains(in.args, out[1]+" /sluice") {
			copied = true
		}
	}
	if !copied {
		t.Errorf("the final stage does not COPY --from the build stage %s to /sluice", out[1])
	}

	if u, ok := last("USER"); !ok {
		t.Errorf("the final stage sets no USER: it would run as root")
	} else if name, _, _ := strings.Cut(u.args, ":"); name == "" || name == "0" || name == "root" {
		t.Errorf("USER %s: want a non-root user (e.g. 65532:65532)", u.args)
	}
	if in, ok := last("ENTRYPOINT"); !ok || !slices.Equal(execForm(t, in), []string{"/sluice"}) {
		t.Errorf("ENTRYPOINT %q: want [\"/sluice\"]", in.args)
	}
	in, ok := last("CMD")
	if !ok {
		t.Fatalf("the final stage has no CMD")
	}
	args := execForm(t, in)
	if len(args) < 3 || args[0] != "run" || args[len(args)-2] != "--config" {
		t.Fatalf("CMD %v: want [run --config <path>]", args)
	}
	if args[len(args)-1] != configMount {
		t.Errorf("CMD reads %s, but docker-compose.yml mounts the config at %s", args[len(args)-1], configMount)
	}
	if v, ok := last("VOLUME"); !ok || !strings.Contains(v.args, stateDir) {
		t.Errorf("the final stage declares no VOLUME %s (the checkpoint's place)", stateDir)
	}
	if hc, ok := last("HEALTHCHECK"); !ok {
		t.Errorf("the final stage has no HEALTHCHECK (want CMD [\"/sluice\", \"health\", \"--config\", %q])", configMount)
	} else {
		checkDockerHealthcheck(t, hc, args[len(args)-1])
	}

	// .dockerignore must not hide what the build needs.
	ignore, err := os.ReadFile(filepath.Join(root, ".dockerignore"))
	if err != nil {
		t.Fatal(err)
	}
	for _, pat := range strings.Split(string(ignore), "\n") {
		pat = strings.TrimSpace(pat)
		if pat == "" || strings.HasPrefix(pat, "#") || strings.HasPrefix(pat, "!") {
			continue
		}
		for _, need := range []string{"go.mod", "go.sum", "cmd", "pkg", "source", "sink", "checkpoint", "internal"} {
			if ok, _ := filepath.Match(strings.TrimPrefix(pat, "/"), need); ok {
				t.Errorf(".dockerignore pattern %q excludes %s, which go build ./cmd/sluice needs", pat, need)
			}
		}
	}
}

// checkDockerHealthcheck: HEALTHCHECK [options] CMD ["/sluice", cmd, ...]
// in exec form (distroless has no shell), cmd one the binary's usage
// lists, reading the config the image's CMD runs, its probe timeout within
// the check's; and run locally with that config (http.listen pointed at a
// closed port) it parses its flags and fails saying nothing answers.
func checkDockerHealthcheck(t *testing.T, hc instruction, cmdConfig string) {
	t.Helper()
	opts, exec0, ok := strings.Cut(hc.args, "CMD ")
	if !ok {
		t.Errorf("HEALTHCHECK %s: want HEALTHCHECK [options] CMD [...]", hc.args)
		return
	}
	probe := execForm(t, instruction{cmd: "HEALTHCHECK CMD", args: strings.TrimSpace(exec0)})
	checkTimeout := 30 * time.Second // Docker's default
	for _, o := range strings.Fields(opts) {
		k, v, _ := strings.Cut(strings.TrimPrefix(o, "--"), "=")
		switch k {
		case "interval", "timeout", "start-period", "start-interval":
			d, err := time.ParseDuration(v)
			if err != nil || d <= 0 {
				t.Errorf("HEALTHCHECK --%s=%s: want a duration", k, v)
			}
			if k == "timeout" {
				checkTimeout = d
			}
		case "retries":
			if n, err := strconv.Atoi(v); err != nil || n < 1 {
				t.Errorf("HEALTHCHECK --retries=%s: want a positive number", v)
			}
		default:
			t.Errorf("HEALTHCHECK option %s: unknown", o)
		}
	}
	if len(probe) < 2 || probe[0] != "/sluice" {
		t.Fatalf("HEALTHCHECK CMD %q: want [\"/sluice\", \"health\", ...] (the image has only the binary)", probe)
	}
	bin := buildSluice(t)
	usage, _ := exec.Command(bin, "help").CombinedOutput()
	if !strings.Contains(string(usage), "\n  sluice "+probe[1]+" ") {
		t.Errorf("HEALTHCHECK runs `sluice %s`, which sluice's usage does not list:\n%s", probe[1], usage)
	}
	args := probe[1:]
	if i := slices.Index(args, "--config"); i < 0 || i+1 >= len(args) || args[i+1] != cmdConfig {
		t.Errorf("HEALTHCHECK %q does not read the config CMD runs (--config %s): it would not find http.listen", probe, cmdConfig)
	}
	probeTimeout := 3 * time.Second // sluice health's default
	if i := slices.Index(args, "--timeout"); i >= 0 && i+1 < len(args) {
		probeTimeout, _ = time.ParseDuration(args[i+1])
	}
	if probeTimeout >= checkTimeout {
		t.Errorf("sluice health --timeout %v is not within HEALTHCHECK --timeout %v: Docker would kill the probe before it says why", probeTimeout, checkTimeout)
	}

	c := readCompose(t)
	cmd := exec.Command(bin, localArgs(t, c, "sluice", args)...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "SLUICE_HTTP_LISTEN=" + freeAddr(t)}
	for k, v := range c.Services["sluice"].env(t) {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	out, err := cmd.CombinedOutput()
	if code := cmd.ProcessState.ExitCode(); err == nil || code != 1 || !strings.Contains(string(out), "not reachable") {
		t.Errorf("the HEALTHCHECK command with nothing listening: exit %d (%v), want 1 saying it is not reachable:\n%s", code, err, out)
	}
}

// dockerHealthcheck is the final stage's HEALTHCHECK command without the
// leading /sluice.
func dockerHealthcheck(t *testing.T) []string {
	t.Helper()
	var hc *instruction
	ins := readDockerfile(t)
	for i := range ins {
		if ins[i].cmd == "HEALTHCHECK" {
			hc = &ins[i]
		}
	}
	if hc == nil {
		t.Fatal("the Dockerfile has no HEALTHCHECK")
	}
	_, probe, _ := strings.Cut(hc.args, "CMD ")
	args := execForm(t, instruction{cmd: "HEALTHCHECK CMD", args: strings.TrimSpace(probe)})
	if len(args) < 2 || args[0] != "/sluice" {
		t.Fatalf("HEALTHCHECK CMD %q: want [\"/sluice\", ...]", args)
	}
	return args[1:]
}
