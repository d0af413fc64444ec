package jsonl

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/sluicecdc/sluice/sink/sinktest"
)

// line is one line of a data file as a consumer reads it.
type line struct {
	Topic   string                     `json:"topic"`
	Key     json.RawMessage            `json:"key"`
	Value   json.RawMessage            `json:"value"`
	Headers map[string]json.RawMessage `json:"headers"`
}

// readLines reads the data files of path in order; every line must be a
// whole JSON object.
func readLines(t testing.TB, path string) []line {
	t.Helper()
	dir, base := filepath.Dir(path), filepath.Base(path)
	ext := filepath.Ext(base)
	names, err := filepath.Glob(filepath.Join(dir, base[:len(base)-len(ext)]+".[0-9][0-9][0-9][0-9][0-9][0-9]*"+ext))
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(names)
	var out []line
	for _, n := range names {
		f, err := os.Open(n)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(nil, 64<<20)
		for i := 1; sc.Scan(); i++ {
			var l line
			if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
				t.Fatalf("%s line %d is not a whole event: %v\n%s", n, i, err, sc.Bytes())
			}
			out = append(out, l)
		}
		f.Close()
		if err := sc.Err(); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// events turns lines into the suite's events; with changesOnly the delete
// half of a key change (header __debezium.newkey) is left out, so each
// source change counts once.
func events(lines []line, changesOnly bool) []sinktest.Event {
	var out []sinktest.Event
	for _, l := range lines {
		if _, ok := l.Headers["__debezium.newkey"]; ok && changesOnly {
			continue
		}
		e := sinktest.Event{}
		if string(l.Key) != "null" && l.Key != nil {
			e.Key = l.Key
		}
		if string(l.Value) != "null" && l.Value != nil {
			e.Value = l.Value
		}
		out = append(out, e)
	}
	return out
}

// fold replays the lines of every path into tables.
func fold(t testing.TB, changesOnly bool, paths ...string) *sinktest.Stream {
	t.Helper()
	var evs []sinktest.Event
	for _, p := range paths {
		evs = append(evs, events(readLines(t, p), changesOnly)...)
	}
	s, err := sinktest.Fold(evs)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// pathsUnder lists the data paths of the pipelines under root (one
// directory each, data files out.NNNNNN.jsonl).
func pathsUnder(t testing.TB, root string) []string {
	ents, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		if e.IsDir() {
			out = append(out, filepath.Join(root, e.Name(), "out.jsonl"))
		}
	}
	return out
}
