// Package quorum holds the request state machines a coordinator runs: which
// replicas to ask, when enough have answered, what to tell the client, and
// which replicas to repair.
//
// Each machine is driven by its caller, the coordinator actor, in the style
// of etcd's raft: the caller feeds it events (a replica answered, a replica
// failed, the deadline passed) and carries out the Effects it returns — send
// these requests, reply to the client, repair these replicas. The machines do
// no I/O and read no clock; the caller owns timers and messaging.
//
// A machine is not safe for concurrent use; the coordinator actor that owns it
// processes one message at a time.
package quorum
