// Package kafkatest starts a throwaway Kafka-protocol broker (franz-go's
// kfake, as the process ./broker) for tests and benchmarks, and reads
// topics back with kcat, a real Kafka client, the way a user would.
//
// The broker persists to its own directory, so Stop, Kill and Start keep
// its topics, committed transactions and consumer group offsets, on the
// same port.
package kafkatest

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sluicecdc/sluice/internal/testport"
)

// Broker is a running broker process.
type Broker struct {
	Port int
	dir  string
	bin  string
	cmd  *exec.Cmd
	done chan error
	log  *os.File
}

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// binary builds the broker program once per process.
func binary() (string, error) {
	buildOnce.Do(func() {
		_, here, _, _ := runtime.Caller(0)
		dir, err := os.MkdirTemp("", "kafkatest-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "broker")
		cmd := exec.Command("go", "build", "-o", binPath, ".")
		cmd.Dir = filepath.Join(filepath.Dir(here), "broker")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("kafkatest: build the broker: %v\n%s", err, out)
		}
	})
	return binPath, buildErr
}

// Start starts a broker on a free port with a data directory the test
// removes; it fails the test if the broker does not come up.
func Start(t testing.TB) *Broker {
	t.Helper()
	b, err := StartBroker(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Kill() })
	return b
}

// StartBroker starts a broker persisting to dir (for benchmarks and
// examples, which have no testing.TB). The caller stops it.
func StartBroker(dir string) (*Broker, error) {
	bin, err := binary()
	if err != nil {
		return nil, err
	}
	port, err := testport.Free()
	if err != nil {
		return nil, err
	}
	b := &Broker{Port: port, dir: dir, bin: bin}
	return b, b.Start()
}

// Addr is the broker's address, host:port.
func (b *Broker) Addr() string { return "127.0.0.1:" + strconv.Itoa(b.Port) }

// Pid is the broker process's id (0 when it is not running), for CPU and
// memory readings in benchmarks.
func (b *Broker) Pid() int {
	if b.cmd == nil || b.cmd.Process == nil {
		return 0
	}
	return b.cmd.Process.Pid
}

// Start starts the (stopped) broker again on its port with its data.
func (b *Broker) Start() error {
	log, err := os.OpenFile(filepath.Join(b.dir, "broker.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("kafkatest: %w", err)
	}
	b.log = log
	b.cmd = exec.Command(b.bin, "-port", strconv.Itoa(b.Port), "-data-dir", filepath.Join(b.dir, "data"))
	b.cmd.Stderr = log
	out, err := b.cmd.StdoutPipe()
	if err != nil {
		return fmt.Errorf("kafkatest: %w", err)
	}
	if err := b.cmd.Start(); err != nil {
		return fmt.Errorf("kafkatest: start the broker: %w", err)
	}
	b.done = make(chan error, 1)
	up := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(out).ReadString('\n')
		up <- strings.TrimSpace(line)
		b.done <- b.cmd.Wait()
	}()
	select {
	case addr := <-up:
		if addr == "" {
			return fmt.Errorf("kafkatest: the broker exited at start:\n%s", b.LogTail())
		}
	case <-time.After(30 * time.Second):
		b.Kill()
		return fmt.Errorf("kafkatest: the broker did not start within 30s:\n%s", b.LogTail())
	}
	return nil
}

// Stop shuts the broker down cleanly (it writes its buffers to disk).
func (b *Broker) Stop() error {
	if b.cmd == nil || b.cmd.Process == nil {
		return nil
	}
	b.cmd.Process.Signal(syscall.SIGTERM) //nolint:errcheck // it may have exited
	select {
	case <-b.done:
	case <-time.After(30 * time.Second):
		b.Kill()
		return fmt.Errorf("kafkatest: the broker did not stop within 30s")
	}
	b.cmd = nil
	return nil
}

// Kill stops the broker with SIGKILL, as a crash would.
func (b *Broker) Kill() {
	if b.cmd == nil || b.cmd.Process == nil {
		return
	}
	b.cmd.Process.Kill() //nolint:errcheck // it may have exited
	<-b.done
	b.cmd = nil
	if b.log != nil {
		b.log.Close()
	}
}

// LogTail is the end of the broker's log, for failures.
func (b *Broker) LogTail() string {
	data, _ := os.ReadFile(filepath.Join(b.dir, "broker.log"))
	if len(data) > 4000 {
		data = data[len(data)-4000:]
	}
	return string(data)
}

// Message is one record as kcat reads it.
type Message struct {
	Topic     string
	Partition int32
	Offset    int64
	Key       *string // nil: a null key
	Value     *string // nil: a null value (a tombstone)
	Headers   map[string]string
}

// kcatJSON is kcat -J's line format.
type kcatJSON struct {
	Topic     string   `json:"topic"`
	Partition int32    `json:"partition"`
	Offset    int64    `json:"offset"`
	Headers   []string `json:"headers"`
	Key       *string  `json:"key"`
	Payload   *string  `json:"payload"`
}

// Read reads every committed record of topic (read_committed, as a
// consumer of exactly-once output must) with kcat, ordered by partition
// and offset.
func Read(ctx context.Context, addr, topic string) ([]Message, error) {
	cmd := exec.CommandContext(ctx, "kcat", "-C", "-b", addr, "-t", topic, "-o", "beginning", "-e", "-J", "-q",
		"-X", "isolation.level=read_committed", "-X", "enable.partition.eof=true")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("kcat -C -t %s: %v: %s", topic, err, stderr.String())
	}
	var msgs []Message
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if line == "" {
			continue
		}
		var k kcatJSON
		if err := json.Unmarshal([]byte(line), &k); err != nil {
			return nil, fmt.Errorf("kcat output %q: %w", line, err)
		}
		m := Message{Topic: k.Topic, Partition: k.Partition, Offset: k.Offset, Key: k.Key, Value: k.Payload}
		if len(k.Headers) > 0 {
			m.Headers = map[string]string{}
			for i := 0; i+1 < len(k.Headers); i += 2 {
				m.Headers[k.Headers[i]] = k.Headers[i+1]
			}
		}
		msgs = append(msgs, m)
	}
	sort.SliceStable(msgs, func(i, j int) bool {
		if msgs[i].Partition != msgs[j].Partition {
			return msgs[i].Partition < msgs[j].Partition
		}
		return msgs[i].Offset < msgs[j].Offset
	})
	return msgs, nil
}

// Topics lists the broker's topics with kcat.
func Topics(ctx context.Context, addr string) ([]string, error) {
	out, err := exec.CommandContext(ctx, "kcat", "-L", "-b", addr, "-J").Output()
	if err != nil {
		return nil, fmt.Errorf("kcat -L: %w", err)
	}
	var meta struct {
		Topics []struct {
			Topic string `json:"topic"`
		} `json:"topics"`
	}
	if err := json.Unmarshal(out, &meta); err != nil {
		return nil, fmt.Errorf("kcat -L output: %w", err)
	}
	var names []string
	for _, t := range meta.Topics {
		names = append(names, t.Topic)
	}
	sort.Strings(names)
	return names, nil
}
