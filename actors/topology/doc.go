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
//
// # Shell and machine
//
// The actor decides nothing itself. Every decision (when to join, what of a
// peer's gossip to merge, whether an operator's command is allowed, whom to
// gossip to) belongs to internal/topo's Machine and to ring's commands. The
// actor's Receive converts a message into a call on the machine (wire.go
// converts protos to ring values and back) and carries out the Effects it
// returns (effects.go): persist the state, log, report ring changes,
// publish the snapshot, report commands, broadcast, answer the sender,
// gossip. FromConfig (config.go) fills what the node's config decides.
//
// The actor is the machine's only caller; the View is the only state
// shared with other goroutines.
package topology
