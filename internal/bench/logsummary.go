package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"strings"
)

// logSummary counts sluice's log events by level and keeps the warnings
// and errors.
type logSummary struct {
	path     string
	levels   map[string]int
	problems []string
	err      error
}

func summarizeLog(path string) logSummary {
	s := logSummary{path: path, levels: map[string]int{}}
	f, err := os.Open(path)
	if err != nil {
		s.err = err
		return s
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var ev struct {
			Level string `json:"level"`
		}
		if json.Unmarshal(sc.Bytes(), &ev) != nil {
			ev.Level = "unparsed"
		}
		s.levels[ev.Level]++
		if ev.Level != "info" && ev.Level != "debug" && ev.Level != "trace" && len(s.problems) < 10 {
			s.problems = append(s.problems, sc.Text())
		}
	}
	s.err = sc.Err()
	return s
}

func (s logSummary) String() string {
	if s.err != nil {
		return fmt.Sprintf("sluice log: %v", s.err)
	}
	var parts []string
	bad := 0
	for _, l := range []string{"trace", "debug", "info", "warn", "error", "fatal", "panic", "unparsed"} {
		if s.levels[l] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", s.levels[l], l))
			if l != "trace" && l != "debug" && l != "info" {
				bad += s.levels[l]
			}
		}
	}
	if bad == 0 {
		parts = append(parts, "no warnings or errors")
	}
	out := "sluice log: " + strings.Join(parts, ", ")
	for _, p := range s.problems {
		out += "\n    " + p
	}
	return out
}
