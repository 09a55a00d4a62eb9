// Package membership embeds serf in a node: gossip-based membership and
// SWIM failure detection, plus user events for operator-triggered cluster
// events.
//
// An Agent announces the node with tags — its id, actor remote address, HTTP
// address, zone, cluster name, partition count and N, and the mark of the
// ring it routes by (SetRing, updated when the ownership changes, so that
// peers' readiness can wait until they route by the same ring) — and
// reports changes through a callback. Serf's events are hints only: they can be lost or
// reordered, so the receiver (the topology actor) reconciles against
// Members() on every event and on a timer.
//
// Membership is liveness, not ownership. A node that fails or restarts stays
// an owner; only an explicit join, decommission or force-remove changes the
// ring. That is why Shutdown does not leave the cluster: peers mark the node
// failed and keep its place. Leave is for decommissioning.
//
// Concurrency: Agent methods are safe for concurrent use. The callback runs
// on one goroutine owned by the Agent, one event at a time; it must not
// block for long (send an actor message and return).
package membership
