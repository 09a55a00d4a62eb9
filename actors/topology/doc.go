// Package topology holds the topology actor: each node's keeper of who owns
// what and who is alive.
//
// It owns the node's copy of the ring state (ring.State, a CRDT of
// ownership changes), persists it in node metadata, and gossips it: every
// interval it sends its state to one random live peer's topology actor,
// which merges it and answers with its own state when the sender was
// missing something. The partition table is ring.Claim over the state's
// history, so nodes that agree on the state agree on the table.
//
// It also tracks liveness and addresses from membership (serf), whose
// events are hints: on every event and every tick it reconciles against the
// full member list.
//
// Everything it knows is published as an immutable Snapshot through a View,
// which request coordinators read concurrently without messaging the actor.
package topology
