// Package coordinator holds the request coordinator: one short-lived actor
// per client request that drives a quorum state machine (package quorum) to
// its answer.
//
// The gateway spawns a coordinator with a Request and the PID to answer. The
// coordinator resolves the key's replicas through a Router, sends each
// request to a vnode in a messages.Envelope (the same path whether the vnode
// is local or on another node), feeds every reply and its deadline to the
// state machine, and carries out what it returns: send, reply, repair. A
// write asks its coordinating vnode for the object early: with sync_writes
// the object reaches the other replicas while the coordinator's own fsync
// runs, so a durable write waits for one fsync, not two in turn. It
// lingers after replying only to collect stragglers — for read repair and so
// late acknowledgements do not land in dead letters — and stops at the
// request's deadline at the latest.
package coordinator
