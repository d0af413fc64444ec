package kafka

import (
	"encoding/json"
	"os"
	"testing"
)

// FuzzDecode: no input panics the decoder.
func FuzzDecode(f *testing.F) {
	b, err := os.ReadFile("testdata/debezium_events.json")
	if err != nil {
		f.Fatal(err)
	}
	var fs []fixture
	if err := json.Unmarshal(b, &fs); err != nil {
		f.Fatal(err)
	}
	for _, x := range fs {
		f.Add(x.Topic, []byte(x.Key), []byte(x.Value))
	}
	f.Fuzz(func(t *testing.T, topic string, key, value []byte) {
		var dec Decoder
		_, _ = dec.Decode(topic, key, value)
	})
}
