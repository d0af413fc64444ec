package kafkatest

import (
	"context"
	"fmt"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// The broker keeps committed transactions across a clean stop and a kill,
// and kcat reads only what was committed.
func TestBrokerPersistsAndKcatReadsCommitted(t *testing.T) {
	ctx := context.Background()
	b := Start(t)
	adm, err := kgo.NewClient(kgo.SeedBrokers(b.Addr()))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kadm.NewClient(adm).CreateTopic(ctx, 3, 1, nil, "t"); err != nil {
		t.Fatal(err)
	}
	adm.Close()
	produce := func(n int, commit bool) {
		t.Helper()
		cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr()), kgo.TransactionalID("test"), kgo.DefaultProduceTopic("t"))
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close()
		if err := cl.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		for i := range n {
			if err := cl.ProduceSync(ctx, &kgo.Record{Key: []byte(fmt.Sprint(i)), Value: []byte(fmt.Sprint(commit))}).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
		if err := cl.EndTransaction(ctx, kgo.TransactionEndTry(commit)); err != nil {
			t.Fatal(err)
		}
	}
	produce(10, true)
	produce(5, false)
	check := func(when string, want int) {
		t.Helper()
		msgs, err := Read(ctx, b.Addr(), "t")
		if err != nil {
			t.Fatal(err)
		}
		if len(msgs) != want {
			t.Fatalf("%s: kcat read %d records, want %d committed ones", when, len(msgs), want)
		}
		for _, m := range msgs {
			if m.Value == nil || *m.Value != "true" {
				t.Fatalf("%s: read an aborted record %+v", when, m)
			}
		}
	}
	check("running", 10)
	if err := b.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := b.Start(); err != nil {
		t.Fatal(err)
	}
	check("after a restart", 10)
	produce(3, true)
	b.Kill()
	if err := b.Start(); err != nil {
		t.Fatal(err)
	}
	check("after a kill", 13)
}
