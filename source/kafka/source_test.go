package kafka

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicecdc/sluice/pkg/change"
)

func newTestSource(t *testing.T, positions func(context.Context) ([]string, error)) *Source {
	t.Helper()
	s, err := New(Options{Topics: []string{"crm.app.t"}, Group: "g", Positions: positions, RevokeWait: 5 * time.Second, Log: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestRevokeWaitsForCommit: revoked partitions are released only once
// what was handed out of them is committed in the target (acked).
func TestRevokeWaitsForCommit(t *testing.T) {
	s := newTestSource(t, func(context.Context) ([]string, error) { return nil, nil })
	tp := TopicPartition{"crm.app.t", 0}
	s.owned[tp], s.pos[tp], s.acked[tp] = true, 10, 4
	done := make(chan struct{})
	go func() {
		s.revoke(context.Background(), nil, map[string][]int32{"crm.app.t": {0}})
		close(done)
	}()
	select {
	case <-done:
		t.Fatal("revoke returned with changes not yet committed")
	case <-time.After(200 * time.Millisecond):
	}
	if s.current(tp, 10, false) {
		t.Error("a record of a partition being revoked is still handed out")
	}
	if err := s.Ack(context.Background(), Offsets{tp: 10}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
	case <-time.After(2 * time.Second):
		t.Fatal("revoke still waits after the ack")
	}
	if s.fatal != nil {
		t.Errorf("fatal: %v", s.fatal)
	}
}

// TestRevokeTimeout: changes not committed in time stop the source.
func TestRevokeTimeout(t *testing.T) {
	s := newTestSource(t, func(context.Context) ([]string, error) { return nil, nil })
	s.opts.RevokeWait = 100 * time.Millisecond
	tp := TopicPartition{"crm.app.t", 1}
	s.owned[tp], s.pos[tp] = true, 3
	s.revoke(context.Background(), nil, map[string][]int32{"crm.app.t": {1}})
	if !errors.Is(s.fatal, ErrRevoked) {
		t.Fatalf("fatal %v, want ErrRevoked", s.fatal)
	}
	if _, err := s.Next(context.Background()); !errors.Is(err, ErrRevoked) {
		t.Errorf("Next: %v, want ErrRevoked", err)
	}
}

// TestLostStops: a lost session with uncommitted changes stops the source.
func TestLostStops(t *testing.T) {
	s := newTestSource(t, func(context.Context) ([]string, error) { return nil, nil })
	tp := TopicPartition{"crm.app.t", 0}
	s.owned[tp], s.pos[tp], s.acked[tp] = true, 5, 5
	s.lose(context.Background(), nil, map[string][]int32{"crm.app.t": {0}})
	if s.fatal != nil {
		t.Errorf("nothing was pending, yet: %v", s.fatal)
	}
	s.owned[tp], s.pos[tp] = true, 6
	s.lose(context.Background(), nil, map[string][]int32{"crm.app.t": {0}})
	if !errors.Is(s.fatal, ErrRevoked) {
		t.Errorf("fatal %v, want ErrRevoked", s.fatal)
	}
}

func TestOffsetsText(t *testing.T) {
	o := Offsets{{"a.b.c", 0}: 5, {"a.b.c", 10}: 0, {"x-y_z", 3}: 1 << 40}
	back, err := ParseOffsets(o.String())
	if err != nil || back.String() != o.String() || back.Compare(o) != 0 {
		t.Fatalf("%q came back as %q (%v)", o, back, err)
	}
	more := Offsets{{"a.b.c", 0}: 6, {"a.b.c", 10}: 0, {"x-y_z", 3}: 1 << 40}
	if o.Compare(more) != -1 || more.Compare(o) != 1 {
		t.Error("Compare does not order a later position after")
	}
	if (Offsets{{"new", 0}: 1}).Compare(o) != 1 {
		t.Error("a new partition must come after (never taken for a replay)")
	}
	for _, bad := range []string{"t=1", "t/x=1", "t/0=-1", "t/0"} {
		if _, err := ParseOffsets(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
	m, err := MaxOffsets([]string{"t/0=5 t/1=9", "t/0=7", ""})
	if err != nil || m.String() != "t/0=7 t/1=9" {
		t.Errorf("max %q (%v)", m, err)
	}
}

// TestSeekToStored: a member starts each partition at the greatest offset
// the target holds for the group, not at Kafka's committed offset, and
// hands out each record once.
func TestSeekToStored(t *testing.T) {
	cl, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(2, "crm.app.t"))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	prod, err := kgo.NewClient(kgo.SeedBrokers(cl.ListenAddrs()...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for p := int32(0); p < 2; p++ {
		for i := 0; i < 10; i++ {
			v := fmt.Sprintf(`{"before":null,"after":{"id":%d,"p":%d},"source":{"connector":"postgresql"},"op":"c"}`, i, p)
			r := &kgo.Record{Topic: "crm.app.t", Partition: p, Key: []byte(fmt.Sprintf(`{"id":%d}`, i)), Value: []byte(v)}
			if err := prod.ProduceSync(ctx, r).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
	}
	var mu sync.Mutex
	stored := []string{"crm.app.t/0=7", "crm.app.t/0=4 crm.app.t/1=2"} // two members' rows: p0 at 7 wins
	s, err := New(Options{Topics: []string{`crm\.app\..*`}, Group: "g", Client: []kgo.Opt{kgo.SeedBrokers(cl.ListenAddrs()...)},
		Positions: func(context.Context) ([]string, error) { mu.Lock(); defer mu.Unlock(); return stored, nil }, Log: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Start(ctx, nil); err != nil {
		t.Fatal(err)
	}
	got := map[int32][]string{}
	var last change.Position
	for n := 0; n < 3+8; n++ {
		txn, err := s.Next(ctx)
		if err != nil {
			t.Fatalf("after %d: %v", n, err)
		}
		last = txn.Position
		txn.Each(func(c *change.Change) error {
			p := string(c.After[1].Data)
			got[int32(p[0]-'0')] = append(got[int32(p[0]-'0')], string(c.After[0].Data))
			return nil
		})
		txn.Close()
	}
	if fmt.Sprint(got[0]) != "[7 8 9]" || fmt.Sprint(got[1]) != "[2 3 4 5 6 7 8 9]" {
		t.Errorf("read %v, want p0 from 7 and p1 from 2", got)
	}
	if lag := lagRecords(t, s); lag != "crm.app.t/0=3 crm.app.t/1=8" {
		t.Errorf("lag before the commit: %s", lag)
	}
	if err := s.Ack(ctx, last); err != nil {
		t.Fatal(err)
	}
	if lag := lagRecords(t, s); lag != "crm.app.t/0=0 crm.app.t/1=0" {
		t.Errorf("lag after the commit: %s", lag)
	}
}

// lagRecords gathers sluice_kafka_partition_lag_records as text.
func lagRecords(t *testing.T, s *Source) string {
	t.Helper()
	reg := prometheus.NewRegistry()
	reg.MustRegister(s)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, mf := range mfs {
		if mf.GetName() != "sluice_kafka_partition_lag_records" {
			continue
		}
		for _, m := range mf.GetMetric() {
			l := m.GetLabel()
			out = append(out, fmt.Sprintf("%s/%s=%v", l[1].GetValue(), l[0].GetValue(), m.GetGauge().GetValue()))
		}
	}
	sort.Strings(out)
	return strings.Join(out, " ")
}

// TestDecodeErrorNamesWhere: an undecodable message stops the pipeline
// with topic, partition, offset and the reason.
func TestDecodeErrorNamesWhere(t *testing.T) {
	var dec Decoder
	_, err := dec.Decode("crm.app.t", nil, []byte(`{"op":"x","after":{}}`))
	if err == nil {
		t.Fatal("an unknown op decoded")
	}
	msg := (&DecodeError{Topic: "crm.app.t", Partition: 3, Offset: 42, Err: err}).Error()
	for _, want := range []string{"topic crm.app.t", "partition 3", "offset 42", `unknown op "x"`} {
		if !strings.Contains(msg, want) {
			t.Errorf("%q does not say %q", msg, want)
		}
	}
}
