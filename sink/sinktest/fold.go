package sinktest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/sluicecdc/sluice/pkg/change"
)

// Event is one record a stream sink wrote: its key and value as bytes
// (Debezium's JSON envelope, with or without schemas); a nil value is a
// tombstone, a nil key a table without a key.
type Event struct {
	Key, Value []byte
}

// Stream is what a stream sink wrote, folded into tables the way a
// consumer that applies the events would hold them: for a table with a key
// the last row per key, for one without a multiset of rows.
type Stream struct {
	rows    map[change.TableID]map[string][]string // key text (or row text, keyless) → row values
	keyless map[change.TableID][]string
	changes map[change.TableID]int
}

// Fold replays events in order (each key's events must be in the order the
// sink wrote them). Transaction metadata events (BEGIN/END) are ignored.
func Fold(events []Event) (*Stream, error) {
	s := &Stream{rows: map[change.TableID]map[string][]string{}, keyless: map[change.TableID][]string{}, changes: map[change.TableID]int{}}
	for i, e := range events {
		if e.Value == nil {
			continue // a tombstone
		}
		if err := s.apply(e); err != nil {
			return nil, fmt.Errorf("event %d: %w", i, err)
		}
	}
	return s, nil
}

// Rows returns a table's rows as Target.Rows does: "v1|v2", NULL as ∅,
// sorted.
func (s *Stream) Rows(id change.TableID) []string {
	var out []string
	for _, r := range s.rows[id] {
		out = append(out, strings.Join(r, "|"))
	}
	out = append(out, s.keyless[id]...)
	slices.Sort(out)
	return out
}

// Changes counts a table's change events (c, u, d, r, t).
func (s *Stream) Changes(id change.TableID) int { return s.changes[id] }

// envelope is the part of a change event's payload the fold reads.
type eventPayload struct {
	Op     string          `json:"op"`
	Before json.RawMessage `json:"before"`
	After  json.RawMessage `json:"after"`
	Source struct {
		DB     string `json:"db"`
		Schema string `json:"schema"`
		Table  string `json:"table"`
	} `json:"source"`
	Status string `json:"status"` // a transaction metadata event
}

func (s *Stream) apply(e Event) error {
	value := e.Value
	var wrapped struct {
		Schema  json.RawMessage `json:"schema"`
		Payload json.RawMessage `json:"payload"`
	}
	if err := json.Unmarshal(value, &wrapped); err == nil && wrapped.Payload != nil && wrapped.Schema != nil {
		value = wrapped.Payload
	}
	var env eventPayload
	if err := json.Unmarshal(value, &env); err != nil {
		return fmt.Errorf("decode event: %w", err)
	}
	if env.Status != "" {
		return nil // BEGIN or END
	}
	id := change.TableID{Schema: env.Source.Schema, Name: env.Source.Table}
	if id.Schema == "" {
		id.Schema = env.Source.DB // MySQL: the database
	}
	s.changes[id]++
	if s.rows[id] == nil {
		s.rows[id] = map[string][]string{}
	}
	keyed := e.Key != nil
	key := string(e.Key)
	switch env.Op {
	case "t":
		s.rows[id], s.keyless[id] = map[string][]string{}, nil
	case "c", "r", "u":
		after, err := values(env.After)
		if err != nil {
			return err
		}
		if keyed {
			s.rows[id][key] = after
			return nil
		}
		if env.Op == "u" {
			if err := s.removeOne(id, env.Before); err != nil {
				return err
			}
		}
		s.keyless[id] = append(s.keyless[id], strings.Join(after, "|"))
	case "d":
		if keyed {
			delete(s.rows[id], key)
			return nil
		}
		return s.removeOne(id, env.Before)
	default:
		return fmt.Errorf("unknown op %q", env.Op)
	}
	return nil
}

// removeOne drops one keyless row equal to before.
func (s *Stream) removeOne(id change.TableID, before json.RawMessage) error {
	vals, err := values(before)
	if err != nil {
		return err
	}
	row := strings.Join(vals, "|")
	if i := slices.Index(s.keyless[id], row); i >= 0 {
		s.keyless[id] = slices.Delete(s.keyless[id], i, i+1)
		return nil
	}
	return fmt.Errorf("%s: no row %s to remove", id, row)
}

// values reads a row object's values in column order, as text: strings as
// they are, numbers as written, null as ∅.
func values(raw json.RawMessage) ([]string, error) {
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	if t, err := d.Token(); err != nil || t != json.Delim('{') {
		return nil, fmt.Errorf("row %s is not an object", raw)
	}
	var out []string
	for d.More() {
		if _, err := d.Token(); err != nil { // the column name
			return nil, err
		}
		var v any
		if err := d.Decode(&v); err != nil {
			return nil, err
		}
		switch x := v.(type) {
		case nil:
			out = append(out, "∅")
		case string:
			out = append(out, x)
		case json.Number:
			out = append(out, x.String())
		case bool:
			out = append(out, fmt.Sprint(x))
		default:
			b, _ := json.Marshal(x)
			out = append(out, string(b))
		}
	}
	return out, nil
}
