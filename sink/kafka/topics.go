package kafka

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
)

// topics makes sure the topics the sink writes to exist, once per topic
// per process: created as create_topics says, or a clear error.
type topics struct {
	adm    *kadm.Client
	create CreateTopics

	mu    sync.Mutex
	known map[string]bool
}

func newTopics(adm *kadm.Client, create CreateTopics) *topics {
	return &topics{adm: adm, create: create, known: map[string]bool{}}
}

// ensure checks (and creates, when configured) the named topics.
func (t *topics) ensure(ctx context.Context, names ...string) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	var unknown []string
	for _, n := range names {
		if !t.known[n] {
			unknown = append(unknown, n)
		}
	}
	if len(unknown) == 0 {
		return nil
	}
	missing, err := missingTopics(ctx, t.adm, unknown)
	if err != nil {
		return err
	}
	if len(missing) > 0 {
		if t.create.Partitions <= 0 {
			return &Error{Op: "check topics", Err: fmt.Errorf("%w: %s (create it, e.g. kafka-topics.sh --create --topic %s --partitions 6, "+
				"or set sink.kafka.create_topics.partitions so that Sluice creates missing topics)", ErrMissingTopic, missing[0], missing[0])}
		}
		if err := createTopics(ctx, t.adm, int32(t.create.Partitions), replication(t.create), nil, missing); err != nil {
			return err
		}
	}
	for _, n := range unknown {
		t.known[n] = true
	}
	return nil
}

// replication is the replication factor to create topics with (-1: the
// broker's default).
func replication(c CreateTopics) int16 {
	if c.ReplicationFactor <= 0 {
		return -1
	}
	return int16(c.ReplicationFactor)
}

// missingTopics returns which of names do not exist.
func missingTopics(ctx context.Context, adm *kadm.Client, names []string) ([]string, error) {
	details, err := adm.ListTopics(ctx, names...)
	if err != nil {
		return nil, &Error{Op: "list topics", Err: err, transient: transientErr(err)}
	}
	var missing []string
	for _, n := range names {
		d, ok := details[n]
		switch {
		case !ok || errors.Is(d.Err, kerr.UnknownTopicOrPartition):
			missing = append(missing, n)
		case d.Err != nil:
			return nil, classify("describe topic "+n, "", d.Err)
		}
	}
	return missing, nil
}

// createTopics creates topics; one that appeared meanwhile is fine.
func createTopics(ctx context.Context, adm *kadm.Client, partitions int32, rf int16, configs map[string]*string, names []string) error {
	resp, err := adm.CreateTopics(ctx, partitions, rf, configs, names...)
	if err != nil {
		return &Error{Op: "create topics", Err: err, transient: transientErr(err)}
	}
	for _, n := range names {
		r, ok := resp[n]
		if !ok {
			return &Error{Op: "create topic " + n, Err: errors.New("no answer from the broker"), transient: true}
		}
		if r.Err != nil && !errors.Is(r.Err, kerr.TopicAlreadyExists) {
			return classify("create topic "+n+" (sink.kafka.create_topics)", "", fmt.Errorf("%w%s", r.Err, detail(r.ErrMessage)))
		}
	}
	return nil
}

func detail(msg string) string {
	if msg == "" {
		return ""
	}
	return ": " + msg
}

// ensureProgressTopic creates the compacted progress topic if it is
// missing (one partition: it holds one small record per pipeline).
func ensureProgressTopic(ctx context.Context, adm *kadm.Client, s *Settings) error {
	missing, err := missingTopics(ctx, adm, []string{s.ProgressTopic})
	if err != nil || len(missing) == 0 {
		return err
	}
	compact := "compact"
	return createTopics(ctx, adm, 1, replication(s.CreateTopics), map[string]*string{"cleanup.policy": &compact}, missing)
}
