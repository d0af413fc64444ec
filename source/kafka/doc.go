// Package kafka is the kafka source: it reads Debezium change events
// (JSON, with or without schemas, as Sluice's Kafka sink and Debezium's
// PostgreSQL and MySQL connectors write them) from topics as a member of
// a consumer group, and hands each event on as a one-change transaction.
//
// Positions. A member's position is the next offset to read of every
// partition it consumed (Offsets). The SQL sinks store it in the target's
// sluice.positions, in the same transaction as the data, under the row
// <pipeline>@<member>. When partitions are assigned (at start and on every
// rebalance) the member reads all rows of the pipeline from the target and
// starts each partition at the greatest offset any member stored for it:
// offsets only grow, so the greatest is the newest, even when it was
// written by a member that died since. Before revoked partitions are given
// up, the member waits until everything it handed out of them is committed
// in the target (the pipeline acks it). Kafka's committed offsets only
// mirror the target's, for monitoring.
package kafka
