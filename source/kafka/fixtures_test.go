package kafka

import (
	"encoding/json"
	"errors"
	"os"
	"reflect"
	"testing"
)

type fixture struct {
	Name  string          `json:"name"`
	Topic string          `json:"topic"`
	Key   json.RawMessage `json:"key"`
	Value json.RawMessage `json:"value"`
	Want  struct {
		Skip   bool     `json:"skip"`
		Op     string   `json:"op"`
		Table  string   `json:"table"`
		Key    []string `json:"key"`
		TxID   string   `json:"txid"`
		Types  []string `json:"types"`
		Before []string `json:"before"`
		After  []string `json:"after"`
	} `json:"want"`
}

// TestDebeziumFixtures decodes events shaped as Debezium's documentation
// shows them (PostgreSQL and MySQL connectors, with and without schemas).
func TestDebeziumFixtures(t *testing.T) {
	b, err := os.ReadFile("testdata/debezium_events.json")
	if err != nil {
		t.Fatal(err)
	}
	var fs []fixture
	if err := json.Unmarshal(b, &fs); err != nil {
		t.Fatal(err)
	}
	var dec Decoder
	for _, f := range fs {
		ev, err := dec.Decode(f.Topic, f.Key, f.Value)
		if f.Want.Skip {
			if !errors.Is(err, ErrSkip) {
				t.Errorf("%s: got %v, want a skip", f.Name, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", f.Name, err)
			continue
		}
		c := ev.Change
		if c.Op.String() != f.Want.Op || c.Table.ID.String() != f.Want.Table {
			t.Errorf("%s: got %v on %v", f.Name, c.Op, c.Table.ID)
		}
		if f.Want.TxID != "" && ev.TxID != f.Want.TxID {
			t.Errorf("%s: txid %q, want %q", f.Name, ev.TxID, f.Want.TxID)
		}
		if f.Want.Key != nil {
			var key []string
			for _, i := range c.Table.Key {
				key = append(key, c.Table.Columns[i].Name)
			}
			if len(key) != len(f.Want.Key) || len(key) > 0 && !reflect.DeepEqual(key, f.Want.Key) {
				t.Errorf("%s: key %v, want %v", f.Name, key, f.Want.Key)
			}
		}
		if f.Want.Types != nil {
			var types []string
			for _, col := range c.Table.Columns {
				types = append(types, col.Type)
			}
			if !reflect.DeepEqual(types, f.Want.Types) {
				t.Errorf("%s: types %q, want %q", f.Name, types, f.Want.Types)
			}
		}
		if f.Want.Before != nil && rowText(c.Before) != join(f.Want.Before) {
			t.Errorf("%s: before %q, want %q", f.Name, rowText(c.Before), join(f.Want.Before))
		}
		if f.Want.After != nil && rowText(c.After) != join(f.Want.After) {
			t.Errorf("%s: after %q, want %q", f.Name, rowText(c.After), join(f.Want.After))
		}
	}
}

func join(s []string) string {
	out := ""
	for i, v := range s {
		if i > 0 {
			out += ","
		}
		out += v
	}
	return out
}
