// Package checker decides from a recorded history whether a fault-injection
// run lost anything: history in, verdict out.
//
// Check takes the client operations (history.Op) and the final state read
// after the cluster healed (history.Final) and returns a Report:
//
//   - lost: an acknowledged set element missing from the union of the final
//     siblings; an acknowledged register write that is neither among the
//     final siblings nor in the causal past of one of them (so neither it
//     nor a later write that superseded it survived);
//   - unexpected: a value or element no client attempted, one a read saw
//     before it was written, or one whose write the server refused with a
//     definite answer;
//   - stale: a superseded value that came back: two siblings of one answer
//     where one's causal past holds the other, or a final sibling in the
//     past of an acknowledged write;
//   - divergent: nodes whose final reads of a key differ, partitions whose
//     replicas' Merkle roots differ or are missing, keys no node could read,
//     roots that could not be compared at all;
//   - siblings: the most siblings any answer held, against the key's true
//     concurrency, the width of its writes' causal order (the most writes
//     none of which saw another). More siblings than that is a finding too.
//   - found nothing: reads (an add's read too) that answered not-found for
//     a key a write of which had been acknowledged before the read was
//     invoked. Counted in every run, but not part of OK: whether a run's
//     faults allow such a read is the scenario's to say (a sloppy quorum
//     under partitions may answer it; a node rebuilding after a wipe must
//     not).
//
// Causality comes from the contexts: an acknowledged write's context covers
// its own value and what its sent context covered; a read's context covers
// the values it saw and their pasts. The checker never decodes a context, so
// what it infers is a subset of what the server knows; every finding it
// makes on that basis is sound.
//
// The final state keeps every sibling the nodes returned; nothing resolves
// it before the checker sees it, so a loss it reports is the clients' or
// the store's. Latest is the last-write-wins choice of one sibling, which
// the workload's deliberately lossy clients make (`dhtchaos -resolver lww`
// and the self-test): on an add they keep the latest sibling's elements,
// and on a read of a register they hand the application only the latest
// value, so that the next write, sent with the read's context, overwrites
// values the history shows no client saw. The checker must report both.
//
// A final state without the ring (Final.Replicas) cannot have its Merkle
// roots compared; that is a divergent finding, not a skipped check.
//
// The package is pure: no goroutines, locks, clocks, randomness or I/O
// (purity_test.go enforces it). It is not safe for concurrent use of one
// Report, and needs none.
package checker
