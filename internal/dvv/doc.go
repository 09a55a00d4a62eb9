// Package dvv implements dotted version vector sets (DVV sets): the causality
// metadata of every stored key.
//
// A Set holds the concurrent siblings of one key, each named by the Dot of the
// write that made it, plus a causal context: a VersionVector that covers every
// dot the holder has seen, including dots of siblings that were later
// superseded. Two operations change a Set:
//
//   - Update, at the replica that coordinates a client write. It discards the
//     siblings the client's context covers (the client saw them, so its write
//     supersedes them) and adds the new value under a freshly minted dot.
//     Siblings the client did not see survive, which is how two writes with the
//     same context both stay visible.
//   - Merge, wherever two replicas' versions of a key meet (replication, read
//     repair, anti-entropy, hinted handoff). Merge is commutative, associative
//     and idempotent, so replicas converge whatever order and however often
//     they exchange state.
//
// # Actors and dots
//
// Actors are replica identities, never client ids, which bounds the size of
// every version vector by the number of replicas that ever coordinated a write
// rather than the number of clients. The caller mints dots: a dot's counter
// must exceed every counter of its actor the Set has seen, which Update
// checks. Node storage mints counters from one persisted, monotonic source per
// actor, and a replica that starts on empty storage takes a new actor id (an
// epoch), so a dot is never reused even after data loss or tombstone reaping
// (Riak's KV679).
//
// # Expiry
//
// A sibling may carry an absolute expiry (Sibling.ExpiresAt), fixed by the
// replica that coordinated its write. The stored object never changes when
// it passes; Set.At(now) gives the set as read at a clock reading, expired
// values turned into tombstones under their own dots, so that causality,
// merges and contexts work as for a delete and no older copy can resurrect
// them. Reapable counts an expired value as a tombstone written at its
// expiry.
//
// # Write ids
//
// A write handed from a late coordinating replica to the next may land at
// both, as two dots of one request (twins). Siblings may carry the
// request's WriteID: twins collapse into one sibling that holds the other
// dot as an alias, a context covering either dot covers the write, and a
// superseded write leaves a Ghost that drops a twin arriving later
// (writeid.go). Sets without write ids behave exactly as plain DVV sets.
//
// # Purity
//
// This package does no I/O, starts no goroutines, and reads no clock or global
// random source: time arrives as arguments. Values are immutable once built;
// every operation returns a new Set and never aliases its arguments' slices
// for writing, so a Set may be shared between goroutines for reading.
package dvv
