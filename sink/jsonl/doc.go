// Package jsonl is the jsonl sink kind: Debezium change events as JSON
// lines, one event per line, to standard output or to files rotated by
// size. Each line is an object
//
//	{"topic":"crm.public.customers","key":{"id":1},"value":{"before":null,"after":{...},"source":{...},"op":"c",...}}
//
// with "headers" added when the event has any (the __debezium.oldkey /
// __debezium.newkey of a primary-key change). key and value are what
// sink/envelope encodes, without schemas unless schemas: true; key is
// null for a table without a primary key. Tombstones (value null) are left
// out unless tombstones: true; transaction BEGIN/END events are written
// (topic <prefix>.transaction) when transaction_metadata: true.
//
// # Guarantees
//
// Files: exactly once, also after kill -9. Flush appends the batch to the
// current file, fsyncs it, then atomically replaces a small state file
// (<path>.state: the pipeline, the last position written and the file and
// byte offset it ends at; written to a temporary file, fsynced, renamed,
// the directory fsynced). On start the sink cuts the current file back to
// that offset (dropping lines written after the last flush, a torn last
// line included), removes files created after it (a rotation whose state
// was never written), and tells the pipeline the stored position as its
// applied position (pipeline.PositionKeeper): reading resumes right after
// the last transaction the files hold. A file is rotated between
// transactions, once it holds max_bytes or more, so one file may exceed it
// by one transaction, and a transaction never spans two files. keep bounds
// how many files stay (0: all). A snapshot is written as op "r" events; if
// it is interrupted the next run cuts the files back to where it began
// before copying again, so its rows, too, appear once.
//
// Standard output (path "-"): at least once. Lines are flushed to the pipe
// at each Flush; after a crash the pipeline replays from its checkpoint
// file, which may repeat the transactions written since the last
// checkpoint. Consumers deduplicate by source position (source.lsn and
// sequence for PostgreSQL; file, pos and row for MySQL).
package jsonl
