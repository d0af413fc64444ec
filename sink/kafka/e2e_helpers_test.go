package kafka

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sluicecdc/sluice/internal/kafkatest"
	"github.com/sluicecdc/sluice/internal/sluicetest"
)

// event is the part of a schemaless Debezium event the end-to-end tests
// check.
type event struct {
	Op     string `json:"op"`
	After  map[string]any
	Source struct {
		LSN      *json.Number `json:"lsn"`
		Sequence *string      `json:"sequence"`
		File     string       `json:"file"`
		Pos      json.Number  `json:"pos"`
		Row      json.Number  `json:"row"`
		Snapshot string       `json:"snapshot"`
	} `json:"source"`
}

func parseEvent(t *testing.T, m kafkatest.Message) event {
	t.Helper()
	var e event
	d := json.NewDecoder(bytes.NewReader([]byte(*m.Value)))
	d.UseNumber()
	if err := d.Decode(&e); err != nil {
		t.Fatalf("%s/%d@%d: %v", m.Topic, m.Partition, m.Offset, err)
	}
	return e
}

// order is where an event's change is in the source's commit order.
type order struct {
	file     string
	pos, idx int64
}

func (a order) less(b order) bool {
	if a.file != b.file {
		return a.file < b.file
	}
	if a.pos != b.pos {
		return a.pos < b.pos
	}
	return a.idx < b.idx
}

func orderOf(t *testing.T, e event) order {
	t.Helper()
	if e.Source.LSN != nil { // PostgreSQL: commit LSN, then the event index of the sequence
		lsn, _ := e.Source.LSN.Int64()
		var seq []string
		if e.Source.Sequence == nil || json.Unmarshal([]byte(*e.Source.Sequence), &seq) != nil || len(seq) != 2 {
			t.Fatalf("event without a sequence: %+v", e)
		}
		idx, _ := strconv.ParseInt(seq[1], 10, 64)
		return order{pos: lsn, idx: idx}
	}
	pos, _ := e.Source.Pos.Int64()
	row, _ := e.Source.Row.Int64()
	return order{file: e.Source.File, pos: pos, idx: row}
}

// topicStats reads a topic and checks each key's events: snapshot reads
// first, then changes in commit order, none twice. It returns the events
// by key (tombstones left out) and all messages, for folding.
func topicStats(t *testing.T, b *kafkatest.Broker, topic string) (map[string][]event, []kafkatest.Message) {
	t.Helper()
	msgs := readTopic(t, b, topic)
	byKey := map[string][]event{}
	last := map[string]order{}
	for _, m := range msgs {
		if m.Value == nil {
			continue
		}
		key := ""
		if m.Key != nil {
			key = *m.Key
		}
		e := parseEvent(t, m)
		evs := byKey[key]
		if e.Op == "r" {
			if len(evs) > 0 && evs[len(evs)-1].Op != "r" {
				t.Errorf("%s key %s: a snapshot read after a change", topic, key)
			}
		} else {
			o := orderOf(t, e)
			if prev, ok := last[key]; ok && !prev.less(o) {
				t.Errorf("%s key %s: event at %+v after %+v: out of commit order, or twice", topic, key, o, prev)
			}
			last[key] = o
		}
		byKey[key] = append(evs, e)
	}
	return byKey, msgs
}

// sluice runs the sluice binary on a config.
type sluiceRun struct {
	t   *testing.T
	dir string
	cfg string
}

func newSluiceRun(t *testing.T, config string) *sluiceRun {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "sluice.yaml")
	config = strings.ReplaceAll(config, "CHECKPOINT", filepath.Join(dir, "sluice.checkpoint"))
	if err := os.WriteFile(cfg, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	return &sluiceRun{t: t, dir: dir, cfg: cfg}
}

func (r *sluiceRun) start() *sluicetest.Proc {
	return sluicetest.Start(r.t, r.dir, "run", "--config", r.cfg)
}

// waitLog waits until the process logs text.
func waitLog(t *testing.T, p *sluicetest.Proc, text string, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !strings.Contains(p.Log(), text) {
		if exited, err := p.Exited(); exited {
			t.Fatalf("sluice exited (%v) before logging %q; log:\n%s", err, text, tail(p.Log()))
		}
		if time.Now().After(deadline) {
			t.Fatalf("sluice did not log %q within %s; log:\n%s", text, d, tail(p.Log()))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// waitTopic waits until a topic holds n records (read_committed).
func waitTopic(t *testing.T, b *kafkatest.Broker, p *sluicetest.Proc, topic string, n int, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for len(readTopic(t, b, topic)) < n {
		if exited, err := p.Exited(); exited {
			t.Fatalf("sluice exited (%v); log:\n%s", err, tail(p.Log()))
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s does not hold %d records within %s; sluice log:\n%s", topic, n, d, tail(p.Log()))
		}
		time.Sleep(250 * time.Millisecond)
	}
}

func tail(s string) string {
	if len(s) > 6000 {
		return s[len(s)-6000:]
	}
	return s
}

// equalRows compares folded rows with the source's and reports the first
// differences.
func equalRows(t *testing.T, table string, got, want []string) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: the topic folds to %d rows, the source has %d", table, len(got), len(want))
	}
	shown := 0
	for i := 0; i < min(len(got), len(want)) && shown < 5; i++ {
		if got[i] != want[i] {
			t.Errorf("%s row %d: topic %q, source %q", table, i, got[i], want[i])
			shown++
		}
	}
	if shown == 0 && len(got) == len(want) {
		t.Logf("%s: %d rows, equal", table, len(got))
	}
}

func sumLen(m map[string][]event) (n int) {
	for _, v := range m {
		n += len(v)
	}
	return n
}

var _ = fmt.Sprint
