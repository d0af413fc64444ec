// Package nats is the nats sink kind: it publishes change events to a NATS
// JetStream stream in Debezium's JSON envelope (sink/envelope), one message
// per event on subject <subject_prefix>.<schema>.<table> (a transform's
// target.table names the subject). The body is the event's value (empty
// for a tombstone); the key is the Sluice-Key header, the transaction's
// source position the Sluice-Position header, and a key change's
// __debezium.oldkey / __debezium.newkey headers are kept.
//
// # Exactly once
//
// Apply publishes asynchronously, from one goroutine and one connection,
// in commit order. Flush waits until JetStream acknowledged every message
// of the batch, then publishes a progress marker (header Sluice-Position,
// a small JSON body) on <subject_prefix>._sluice.progress.<pipeline> in the
// same stream. The sink is a pipeline.PositionKeeper: on start it reads the
// last marker back (the last complete batch, so the last complete
// transaction) and the pipeline resumes after it.
//
// A batch can be partly stored without its marker (the process killed, the
// connection lost while publishing). Every message has Nats-Msg-Id
// <pipeline>:<position>:<index of the record in its transaction>, so a
// replay inside the stream's duplicate window is dropped by JetStream; and
// on start the sink reads the headers of this pipeline's messages after
// the last marker, and the replay skips the ids already stored, so
// exactly-once does not depend on the window either. Messages lost with a
// connection are always the last ones sent on it (one TCP connection, in
// order), so what is stored is a prefix of the batch and skipping it keeps
// each key's order. The sink does not reconnect: a lost connection ends
// its attempt and the pipeline opens a new sink.
//
// After a snapshot the pipeline applies an empty transaction carrying the
// snapshot's position: it becomes a marker like any other.
// PrepareSnapshot publishes a marker with an empty position (a restart
// copies again); snapshot rows are op r events, published again in full
// if a snapshot restarts (at least once, as Debezium's snapshots).
//
// The stream is created when missing (sink.nats.create_stream) with the
// configured subjects (default <prefix>.>), retention, replicas, storage,
// max_age and duplicate window. Teardown purges the pipeline's markers,
// never the change events nor the stream. The markers must stay in the
// stream: with interest or workqueue retention they may be removed (see
// docs/sinks/nats.md).
//
// Durability is JetStream's: an acknowledged message is in the stream's
// store (with replicas > 1, on a quorum). A single server's file store
// syncs to disk periodically (sync_interval), so an operating-system
// crash of a one-replica server can lose acknowledged messages.
package nats
