package main

import (
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestValuesNotInErrors: a row the target refuses (a constraint added by
// hand on the target) stops Sluice with an error that names the table and
// the constraint; the refused value is in neither the log, nor the exit
// error, nor /status's last_error, unless log.values is true. PostgreSQL
// puts the value in the error's DETAIL (shown only with log.values),
// MariaDB in the message itself ("Duplicate entry '...' for key ...").
func TestValuesNotInErrors(t *testing.T) {
	t.Parallel()
	const secret = "sk_live_51HxQsEcReT"
	for _, c := range []struct {
		target, constraint, create, add string
		first                           string // the note of the row there before
	}{
		{"postgres", "no_api_keys", "CREATE TABLE notes (id int PRIMARY KEY, note text)",
			"ALTER TABLE {t} ADD CONSTRAINT no_api_keys CHECK (note NOT LIKE 'sk_live%')", "hello"},
		// Keyless: rows are inserted as they come, so the unique index refuses
		// a second row with the same note (an upsert would update the other
		// row instead).
		{"mysql", "one_note", "CREATE TABLE notes (id int, note text); ALTER TABLE notes REPLICA IDENTITY FULL",
			"ALTER TABLE {t} ADD UNIQUE KEY one_note (note(100))", secret},
	} {
		for _, show := range []bool{false, true} {
			t.Run(c.target+map[bool]string{false: "", true: "/log.values"}[show], func(t *testing.T) {
				x := newXEnv(t, "postgres", c.target, "")
				e := x.env
				if show {
					text, err := os.ReadFile(e.cfg)
					if err != nil {
						t.Fatal(err)
					}
					text = []byte(strings.Replace(string(text), "log:\n  level: debug\n", "log:\n  level: debug\n  values: true\n", 1))
					if err := os.WriteFile(e.cfg, text, 0o600); err != nil {
						t.Fatal(err)
					}
				}
				testValuesNotInErrors(t, x, secret, c.constraint, c.create+"; INSERT INTO notes VALUES (1, '"+c.first+"')", c.add, show)
			})
		}
	}
}

func testValuesNotInErrors(t *testing.T, x *xenv, secret, constraint, create, add string, show bool) {
	e := x.env
	base := e.withHTTP()
	x.from.exec(t, create)
	p := e.start()
	x.waitSame(60*time.Second, p, "public.notes")
	table := x.targetTable("public.notes")
	x.to.exec(t, strings.ReplaceAll(add, "{t}", table))

	// The process stops on the refusal and its HTTP server with it:
	// read /status as often as possible until then.
	var mu sync.Mutex
	var statuses []string
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			if code, body := get(t, base+"/status"); code == 200 && strings.Contains(body, "last_error") {
				mu.Lock()
				statuses = append(statuses, body)
				mu.Unlock()
			}
			time.Sleep(time.Millisecond)
		}
	})
	x.from.exec(t, "INSERT INTO notes VALUES (2, '"+secret+"')")
	var exit error
	select {
	case exit = <-p.done:
	case <-time.After(60 * time.Second):
		t.Fatalf("sluice did not stop on the refused row; log:\n%s", tail(p.logText(), 4000))
	}
	close(stop)
	wg.Wait()
	log := p.logText()
	if exit == nil {
		t.Fatalf("sluice exited 0 on a refused row; log:\n%s", tail(log, 4000))
	}
	var stopped string
	for _, line := range strings.Split(log, "\n") {
		if strings.Contains(line, "pipeline stopped") {
			stopped = line
		}
	}
	if !strings.Contains(stopped, table) || !strings.Contains(stopped, constraint) {
		t.Errorf("the exit error does not name the table and the constraint: %s", stopped)
	}
	if got := strings.Contains(stopped, secret); got != show {
		t.Errorf("log.values %v: the exit error quotes the value: %v\n%s", show, got, stopped)
	}
	if got := strings.Contains(log, secret); got != show {
		t.Errorf("log.values %v: the log quotes the value: %v\n%s", show, got, tail(log, 4000))
	}
	if len(statuses) == 0 {
		t.Fatalf("never caught /status with last_error before sluice exited")
	}
	last := statuses[len(statuses)-1]
	if !strings.Contains(last, constraint) {
		t.Errorf("/status last_error does not name the constraint: %s", last)
	}
	if got := strings.Contains(last, secret); got != show {
		t.Errorf("log.values %v: /status quotes the value: %v\n%s", show, got, last)
	}

}
