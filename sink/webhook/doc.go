// Package webhook is the webhook sink kind: each flush POSTs the batch's
// Debezium change events to a URL as a JSON array, split into requests of
// at most max_batch_rows events and max_batch_bytes bytes. Each element is
// the object a jsonl line holds: {"topic", "key", "value"[, "headers"]}.
//
// Every request carries
//
//   - Idempotency-Key: <pipeline>:<first position>..<last position>:<index>,
//     the positions of the first and last transaction in the flush and the
//     request's index within it (a key longer than 200 bytes becomes
//     <pipeline>:sha256-<hex of it>); snapshot rows use
//     <pipeline>:snapshot-<n>. A retried request repeats its key.
//   - X-Sluice-Signature: sha256=<hex HMAC-SHA256 of the body with secret>,
//     when secret is set;
//   - Content-Type: application/json, and the configured headers.
//
// # Guarantees
//
// At least once. A request is retried with exponential backoff (up to
// max_retries times, waits up to max_backoff) after a 5xx, 408 or 429
// response, a timeout or a connection error; the receiver may have
// processed a request whose response never arrived, so it can see a
// request twice, always with the same Idempotency-Key. Once retries are
// spent the pipeline stops with a transient error and the process retries
// it from the checkpoint, which re-sends the transactions since the last
// checkpoint (their keys are the same when the batches come out the same,
// not always). Only after every request of a flush succeeded is the
// position checkpointed and acknowledged to the source. A 4xx response
// (other than 408 and 429) is a permanent error naming the status and the
// first bytes of the response body: the pipeline stops. Redirects are not
// followed. Receivers deduplicate by Idempotency-Key, or by each event's
// source position (source.lsn and sequence for PostgreSQL; file, pos and
// row for MySQL).
//
// The secret and the header values are never logged or put in errors; the
// URL is shown without its user info and query.
package webhook
