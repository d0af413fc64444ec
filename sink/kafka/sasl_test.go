package kafka

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// SASL against a broker that requires it (kfake in process, ACLs on): the
// right SCRAM credentials publish; a wrong password and a user without
// rights fail with permanent errors that never quote the password.
func TestSASLAndAuthorization(t *testing.T) {
	const adminPass, userPass = "adm1n-s3cret", "us3r-s3cret"
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.EnableSASL(), kfake.EnableACLs(),
		kfake.Superuser("SCRAM-SHA-512", "admin", adminPass), kfake.User("SCRAM-SHA-256", "nobody", userPass))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	settings := func(mech, user, pass string) *Settings {
		return &Settings{Brokers: c.ListenAddrs(), TopicPrefix: "sluice", ExactlyOnce: true, Tombstones: true, Schemas: true,
			ProgressTopic: DefaultProgressTopic, CreateTopics: CreateTopics{Partitions: 1},
			SASL: SASL{Mechanism: mech, User: user, Password: pass}}
	}
	open := func(st *Settings) (*Sink, error) {
		return open(ctx, Options{Settings: st, Pipeline: "sasl", Version: "test", Database: "db", Log: zerolog.Nop()})
	}

	s, err := open(settings("SCRAM-SHA-512", "admin", adminPass))
	if err != nil {
		t.Fatalf("open with the right credentials: %v", err)
	}
	if err := applyTxns(t, ExactlyOnce{s}, 1, 1, 3); err != nil {
		t.Fatal(err)
	}
	if err := s.Flush(ctx); err != nil {
		t.Fatalf("flush with the right credentials: %v", err)
	}
	s.Close()

	// kfake answers a wrong password by closing the connection (a real
	// broker answers SASL_AUTHENTICATION_FAILED, which TestClassify
	// covers), so only the user without rights shows the classification.
	for _, c := range []struct {
		name      string
		st        *Settings
		pass      string
		permanent bool
	}{
		{"wrong password", settings("SCRAM-SHA-512", "admin", "wrong-"+adminPass), "wrong-" + adminPass, false},
		{"no rights", settings("SCRAM-SHA-256", "nobody", userPass), userPass, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			s, err := open(c.st)
			if err == nil {
				s.Close()
				t.Fatal("opened")
			}
			var ke *Error
			if !errors.As(err, &ke) || c.permanent && ke.Transient() {
				t.Errorf("want a permanent *Error, got %#v", err)
			}
			if strings.Contains(err.Error(), c.pass) {
				t.Errorf("the error quotes the password: %v", err)
			}
			problems := Check(ctx, c.st, "sasl", []string{"sluice.app.items"})
			if len(problems) == 0 {
				t.Error("check found no problem")
			}
			for _, p := range problems {
				if strings.Contains(p, c.pass) {
					t.Errorf("check quotes the password: %s", p)
				}
			}
			t.Logf("open: %v; check: %q", err, problems)
		})
	}
}

// The codes a person must act on are permanent; outages are transient.
func TestClassify(t *testing.T) {
	for _, c := range []struct {
		err       error
		transient bool
	}{
		{kerr.SaslAuthenticationFailed, false},
		{kerr.TopicAuthorizationFailed, false},
		{kerr.TransactionalIDAuthorizationFailed, false},
		{kerr.ClusterAuthorizationFailed, false},
		{kerr.MessageTooLarge, false},
		{kerr.RecordListTooLarge, false},
		{fmt.Errorf("%w: t", ErrMissingTopic), false},
		{kerr.NotLeaderForPartition, true},
		{kerr.RequestTimedOut, true},
		{kerr.CoordinatorNotAvailable, true},
		{kgo.ErrRecordTimeout, true},
		{errStalled, true},
		{&net.OpError{Op: "dial", Err: syscall.ECONNREFUSED}, true},
		{io.EOF, true},
	} {
		err := classify("produce", "p", fmt.Errorf("topic x: %w", c.err))
		var ke *Error
		if !errors.As(err, &ke) || ke.Transient() != c.transient {
			t.Errorf("%v: transient %v, want %v", c.err, ke != nil && ke.Transient(), c.transient)
		}
	}
	for _, fenced := range []error{kerr.ProducerFenced, kerr.InvalidProducerEpoch} {
		err := classify("commit the transaction", "crm", fenced)
		var ke *Error
		if !errors.Is(err, ErrFenced) || !errors.As(err, &ke) || ke.Transient() ||
			!strings.Contains(err.Error(), "another sluice with pipeline name crm took over the transactional id sluice-crm") {
			t.Errorf("%v: %v", fenced, err)
		}
	}
}
