// Package entropy holds the anti-entropy scheduler actor: a shell over the
// pure machine of internal/antientropy, which decides everything.
//
// The scheduler steps the machine with the clock and a view of the cluster
// every Interval (the rate limit) and again as soon as a round ends. The
// machine's schedule picks the partition this node serves and the live peer
// that serves it too, so that every such pair is exchanged at least once
// per SweepInterval: a pair due first, then a repair again (back to back
// while rounds keep finding differences), then a retry after its peer's
// backoff, then, paced, the pair exchanged longest ago. No two rounds start
// less than Interval apart. A round runs between the two vnodes:
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
// OnRepair callback, logs, and requests to vnodes and hint queues. After
// each tick it shows the schedule's Stats: ae_max_seconds_since_exchange
// (the oldest pair's age, under SweepInterval while the bound holds),
// ae_sweep_seconds (the last full sweep's duration), ae_sweeps_total and
// ae_pairs. The bytes
// exchanged grow with the difference, not with the data. One round runs at a
// time and repairs at most MaxKeys keys, which bounds the load on foreground
// traffic. Every message carries the round's deadline; a round that misses
// it is abandoned and the next starts over, which is safe because merging is
// idempotent.
//
// The machine is owned by the actor and stepped only from its Receive.
package entropy
