package main

import (
	"os/exec"
	"strings"
	"testing"
)

func TestCheck(t *testing.T) {
	t.Parallel()
	e := newEnvWith(t, "", map[string]string{"wal_level": "replica"})
	e.srcExec(`CREATE TABLE ok (id int PRIMARY KEY); CREATE TABLE nokey (v int);
		CREATE ROLE weak LOGIN; GRANT SELECT ON ok, nokey TO weak;`)
	out, err := exec.Command(binary, "check", "--config", e.cfg).CombinedOutput()
	if err == nil {
		t.Fatalf("check passed on a source with wal_level=replica:\n%s", out)
	}
	for _, want := range []string{
		`wal_level is "replica"; set wal_level = logical`,
		`public.nokey has no primary key or replica identity`, `REPLICA IDENTITY FULL`,
		"2 problem(s) found",
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("check output lacks %q:\n%s", want, out)
		}
	}

	// A role without REPLICATION.
	e.srcExec(`ALTER TABLE nokey REPLICA IDENTITY FULL`)
	weak := strings.Replace(e.src.DSN("app"), "postgres@", "weak@", 1)
	out, _ = exec.Command(binary, "check", "--config", e.cfg).CombinedOutput()
	if strings.Contains(string(out), "nokey") {
		t.Errorf("REPLICA IDENTITY FULL should satisfy check:\n%s", out)
	}
	cmd := exec.Command(binary, "check", "--config", e.cfg)
	cmd.Env = append(cmd.Environ(), "SLUICE_SOURCE_DSN="+weak)
	out, _ = cmd.CombinedOutput()
	if !strings.Contains(string(out), "lacks the REPLICATION privilege; run ALTER ROLE \"weak\" REPLICATION") {
		t.Errorf("check output does not name the missing privilege:\n%s", out)
	}

	// A good source passes.
	good := newEnv(t, "")
	good.srcExec(`CREATE TABLE ok (id int PRIMARY KEY)`)
	out, err = exec.Command(binary, "check", "--config", good.cfg).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "ok: source and target are ready") {
		t.Fatalf("check failed on a good setup (%v):\n%s", err, out)
	}
	out, err = exec.Command(binary, "check", "--offline", "--config", good.cfg).CombinedOutput()
	if err != nil || !strings.Contains(string(out), ": ok") {
		t.Fatalf("check --offline (%v):\n%s", err, out)
	}
}
