package kafka

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// The progress record: in the compacted progress topic, key = the pipeline
// name, value = the text of the source position of the last transaction
// the pipeline committed, written in the same Kafka transaction as that
// transaction's events. A tombstone (null value) forgets the position.

// progressPartition is the partition of the progress topic that holds the
// pipeline's record, as the producer's partitioner picks it.
func progressPartition(topic, pipeline string, partitions int) int32 {
	tp := keyPartitioner().ForTopic(topic)
	return int32(tp.Partition(&kgo.Record{Topic: topic, Key: []byte(pipeline)}, partitions))
}

// readProgress returns the value of the pipeline's last committed
// progress record ("" when there is none, or it was forgotten) and whether
// one was found. Only committed records count (read_committed): the
// caller must have initialized its transactional producer first, which
// aborts what a crashed predecessor left open.
func readProgress(ctx context.Context, opts []kgo.Opt, adm *kadm.Client, topic, pipeline string) (string, bool, error) {
	details, err := adm.ListTopics(ctx, topic)
	if err != nil {
		return "", false, classify("read the progress topic "+topic, pipeline, err)
	}
	d, ok := details[topic]
	if !ok || d.Err != nil || len(d.Partitions) == 0 {
		return "", false, nil // no progress topic: nothing written yet
	}
	part := progressPartition(topic, pipeline, len(d.Partitions))
	starts, err := adm.ListStartOffsets(ctx, topic)
	if err != nil {
		return "", false, classify("read the progress topic "+topic, pipeline, err)
	}
	ends, err := adm.ListCommittedOffsets(ctx, topic)
	if err != nil {
		return "", false, classify("read the progress topic "+topic, pipeline, err)
	}
	start, okS := starts.Lookup(topic, part)
	end, okE := ends.Lookup(topic, part)
	if !okS || !okE || start.Err != nil || end.Err != nil {
		return "", false, &Error{Op: "read the progress topic " + topic, Err: errors.Join(start.Err, end.Err,
			fmt.Errorf("no offsets for partition %d", part)), transient: true}
	}
	// Read backwards in growing windows: the record is usually near the
	// end (the topic is compacted, and every flush rewrites it).
	window := int64(256)
	for to := end.Offset; to > start.Offset; {
		from := max(start.Offset, to-window)
		val, found, err := scanProgress(ctx, opts, topic, part, from, to, pipeline)
		if err != nil || found {
			return val, found, err
		}
		to, window = from, window*4
	}
	return "", false, nil
}

// scanProgress reads partition part of topic from offset from up to (not
// including) to, read_committed, and returns the last value for key.
func scanProgress(ctx context.Context, opts []kgo.Opt, topic string, part int32, from, to int64, key string) (string, bool, error) {
	cl, err := kgo.NewClient(append(opts[:len(opts):len(opts)],
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {part: kgo.NewOffset().At(from)}}),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.FetchMaxWait(100*time.Millisecond))...)
	if err != nil {
		return "", false, &Error{Op: "read the progress topic", Err: err}
	}
	defer cl.Close()
	var val string
	var found bool
	// The last committed record of the range is at to-2 or before (to-1
	// holds the commit marker of its transaction, which a consumer never
	// sees); markers and aborted records also leave gaps, so a poll that
	// brings nothing for a while means the range is read.
	wait := 5 * time.Second // the first poll also connects
	for {
		pctx, cancel := context.WithTimeout(ctx, wait)
		wait = 750 * time.Millisecond
		fetches := cl.PollFetches(pctx)
		cancel()
		if ctx.Err() != nil {
			return "", false, ctx.Err()
		}
		var ferr error
		fetches.EachError(func(_ string, _ int32, err error) {
			if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
				ferr = err
			}
		})
		if ferr != nil {
			return "", false, classify("read the progress topic "+topic, key, ferr)
		}
		last := int64(-1)
		n := 0
		fetches.EachRecord(func(r *kgo.Record) {
			n++
			last = max(last, r.Offset)
			if r.Offset < to && string(r.Key) == key {
				val, found = string(r.Value), true
			}
		})
		if n == 0 || last >= to-2 {
			return val, found, nil
		}
	}
}
