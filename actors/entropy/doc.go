// Package entropy holds the anti-entropy scheduler actor: a shell over the
// pure machine of internal/antientropy, which decides everything.
//
// Every interval the scheduler steps the machine with the clock and a view
// of the cluster; the machine picks one partition this node serves and a
// live peer that serves it too, and runs one round between the two vnodes:
//
//  1. compare Merkle roots, then descend level by level into only the
//     subtrees whose hashes differ (merkle.Exchange);
//  2. list the keys of the differing leaf buckets on both sides, with the
//     hash of each stored object, and find the keys that differ
//     (merkle.DiffBuckets);
//  3. read those keys from both replicas, merge, and send the merged object
//     to each side that lacked it;
//  4. when the replicas were in sync and a tombstone grace is set, reap the
//     partition's old tombstones under the reap rules (see the machine's
//     package doc and its testdata/ stories).
//
// The actor only converts: a reply envelope becomes a machine event, and the
// machine's effects become metrics (ae_exchanges_total{result},
// ae_keys_repaired_total, ae_bytes_total, tombstones_reaped_total), the
// OnRepair callback, logs, and requests to vnodes and hint queues. The bytes
// exchanged grow with the difference, not with the data. One round runs at a
// time and repairs at most MaxKeys keys, which bounds the load on foreground
// traffic. Every message carries the round's deadline; a round that misses
// it is abandoned and the next starts over, which is safe because merging is
// idempotent.
//
// The machine is owned by the actor and stepped only from its Receive.
package entropy
