package natstest

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// TestRestartKeepsStream publishes, restarts (cleanly, then after a kill)
// and reads the message back: the store survives on the same port.
func TestRestartKeepsStream(t *testing.T) {
	s := Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	nc, err := nats.Connect(s.URL(), nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	st, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "T", Subjects: []string{"t.>"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := js.Publish(ctx, "t.a", []byte("one")); err != nil {
		t.Fatal(err)
	}
	if err := s.Restart(); err != nil {
		t.Fatal(err)
	}
	s.Kill()
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	var m *jetstream.RawStreamMsg
	for deadline := time.Now().Add(20 * time.Second); ; {
		if m, err = st.GetLastMsgForSubject(ctx, "t.a"); err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("read back after restarts: %v", err)
	}
	if string(m.Data) != "one" || m.Sequence != 1 {
		t.Fatalf("read back %q at %d, want \"one\" at 1", m.Data, m.Sequence)
	}
}

// TestStartFailsLoudly: a second server on a taken port fails with the log.
func TestStartFailsLoudly(t *testing.T) {
	s := Start(t)
	other := &Server{Port: s.Port, dir: t.TempDir(), bin: s.bin}
	err := other.Start()
	if err == nil {
		other.Kill()
		t.Fatal("a second server started on a taken port")
	}
	if !strings.Contains(err.Error(), "address already in use") {
		t.Fatalf("the error does not show the server's reason: %v", err)
	}
}
