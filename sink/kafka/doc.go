// Package kafka is the kafka sink kind: it publishes each source
// transaction to Kafka as Debezium change events (sink/envelope), one
// topic per table (<topic_prefix>.<schema>.<table>, or sink.kafka.topic's
// template), keyed by the primary key.
//
// # Guarantees
//
// Exactly once (exactly_once: true, the default). The producer is
// transactional with the id sluice-<pipeline name>. Each Flush is one Kafka
// transaction holding the events of the flushed source transactions and
// one progress record (key: the pipeline name, value: the text of the last
// source position) in a compacted topic of Sluice's own (progress_topic,
// default _sluice_progress, created if missing). When the sink opens, it
// initializes the transactional producer first: the broker bumps the id's
// epoch, which fences any other producer with it and aborts a transaction
// a crashed predecessor left open. AppliedPosition (pipeline.PositionKeeper)
// then reads the last committed progress record (read_committed) and the
// pipeline resumes right after it, so a transaction is in the topics once
// whatever was killed when. A consumer must read with
// isolation.level=read_committed to see each event once. The source is
// acknowledged only after the Kafka transaction committed. A second
// process with the same pipeline name fences the first, which stops with
// a permanent error wrapping ErrFenced.
//
// At least once (exactly_once: false). An idempotent producer (no
// duplicates from its own retries), no progress record: after a crash the
// pipeline replays from its checkpoint file, and the events since the last
// checkpoint can appear twice.
//
// # Order and partitions
//
// A keyed record goes to the partition Kafka's default partitioner picks
// (murmur2 of the key), so each key's changes are in one partition, in
// commit order. A record without a key (a table without a primary key, a
// truncate) always goes to partition 0 of its topic, so a keyless table's
// changes keep their order; a truncate is ordered with the keyless records
// and the records of keys in partition 0 only. A keyless table's tombstone
// (null key and value) is not produced: it would compact nothing.
//
// # Snapshots
//
// Snapshot rows are op r events produced by Load, which runs concurrently
// per table: with exactly_once through a second, idempotent producer
// outside transactions (a repeated snapshot publishes every row again, as
// Debezium does). source.snapshot is first / true / last per table.
//
// # Errors
//
// Every error is an *Error whose Transient method tells a broker outage or
// timeout (retry) from what needs a person: authentication or
// authorization, a record too large, a missing topic, fencing. Any
// produce error aborts the Kafka transaction and leaves the sink unusable;
// the pipeline opens a new one and resumes from the progress record.
package kafka
