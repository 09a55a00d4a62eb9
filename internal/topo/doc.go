// Package topo holds the decisions of a node's topology actor as a pure
// machine: what the node's ring state becomes on each event, and what the
// actor must then do about it.
//
// A Machine owns the node's copy of the ring state (ring.State) and its
// Plan, the compatible peers gossip reports, and three flags: whether the
// node has merged a peer's ring since it started (Synced), whether a node
// that never owned replicas is still waiting for the cluster's ring before
// it joins, and when it last logged a refused ring change. Operators'
// commands are ring's commands (State.JoinSelf, Decommission, ForceRemove);
// gossip from a peer is filtered by ring.Shape.Compatible and State.Admit.
//
// Use: the actor converts each message into a call, then carries out the
// returned Effects in order: persist the state (Machine.State), log, report
// ring changes, publish a snapshot, report commands, broadcast a command,
// answer the gossip's sender, send gossip to GossipTo.
//
//	m := topo.New(topo.Config{Self: self, Shape: shape, Seeded: seeded})
//	eff := m.Start(loaded)          // after reading the stored state
//	eff = m.Gossip(g, now)          // a peer's ring state arrived
//	eff, err := m.Command(topo.ActionDecommission, "n3")
//
// Agreement (agreement.go) is the readiness rule built on the RingMark the
// machine asks the actor to announce (Effects.Announce) whenever the
// ownership changes: a node is ready once every live peer announces its
// mark, or once a bounded wait has run out, with a log line that says
// which peers disagreed.
//
// Time arrives as a now argument and randomness as a Rand (a *rand.Rand), so the
// machine reads no clock and tests replay it exactly.
//
// Concurrency: a Machine is single-threaded. One topology actor owns it and
// steps it from its Receive, one message at a time; nothing else may call
// it. Its State and Plan are immutable values and may be shared once read.
package topo
