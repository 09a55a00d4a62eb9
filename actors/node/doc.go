// Package node assembles one store node: it opens storage, loads the replica
// identity, starts the actor system, and spawns the node actor, which
// supervises one vnode actor per partition and the HTTP gateway actor.
//
// Start and Stop are the node's lifecycle for cmd/dhtd and for the
// in-process test harness; both are called from one goroutine. Stop drains
// HTTP first, so requests in flight complete, then stops the actors, then
// closes storage, so no actor writes to a closed engine.
package node
