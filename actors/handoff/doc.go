// Package handoff holds the ownership handoff actor: it moves partitions
// when a join, decommission or force-remove changes who owns them.
//
// The ring's Plan (cluster/ring) says what should hold what; the transfer
// machine (internal/transfer) decides what to do about it: which
// partitions to receive and from whom, which to drain and drop after
// handoff.drop_delay, how many run at once (handoff.transfer_concurrency),
// when a transfer stops (a peer down, a timeout, an error reply, the ring
// changed), and when a decommissioned node has handed everything over and
// retires. Its testdata/ tells each of these as a story.
//
// This actor is the machine's shell, and decides nothing. Receive:
//
//  1. takes a tick (every Interval, and whenever the machine asks for a
//     recheck), a vnode's reply (MerkleReply, BucketKeysReply,
//     HandoffPullReply, MergeBatchReply, ErrorReply) or a vnode's Dropped;
//  2. converts it to the machine's plain values (snapshot.go: the topology
//     snapshot and the vnodes' key counts become a transfer.Snapshot);
//  3. steps the machine with time.Now();
//  4. carries out the effects (effects.go), in order: persist the receives'
//     cursors (cursor.go), so a transfer cut by a restart of either side
//     resumes after the last key merged; send the Merkle requests and
//     bucket listings of the comparisons that begin each transfer (with
//     Config.Compare, which FromConfig sets: only the keys that differ are
//     then pulled, by key), the pulls, merges, Drop
//     requests, HandoffDone records (to the topology actor, whose record
//     reaches every node by gossip) and rechecks; report to the metrics,
//     Status, the log, the node's event stream (OnEvent) and OnRetired.
//
// While a receive runs the node already takes the partition's writes
// (Plan's pending members), so nothing written meanwhile is missed. Status
// shares progress with the admin API (/admin/status, dhtctl status).
//
// Concurrency: the actor owns its machine and steps it from Receive only.
// Status is safe for concurrent use; Config.View is read on every tick.
package handoff
