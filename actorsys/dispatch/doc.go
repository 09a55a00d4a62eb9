// Package dispatch provides the actor dispatcher the node's busy actors run
// on: a pool of long-lived goroutines in place of protoactor's default of a
// new goroutine each time a mailbox gets work.
//
// A fresh goroutine starts with a small stack, and a vnode's or
// coordinator's message handling (protobuf, the engine, DVV merges) grows it
// by copying, every time; under load that copying showed up as about 15% of
// a node's CPU profile. A pooled worker keeps the stack it grew. When every
// worker is busy (say, many vnodes waiting on fsync at once) the pool falls
// back to a new goroutine, so a mailbox never waits for a worker and actors
// can never deadlock on the pool.
package dispatch
