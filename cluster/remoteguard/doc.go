// Package remoteguard stands in front of protoactor's gRPC endpoint reader
// on the remote port, so that no bytes a peer sends can crash the node or
// speak for another node.
//
// protoactor-go (the pinned version) trusts its peers completely: an
// unknown type name, an out-of-range type, target or sender index, an
// unknown serializer id or a nil PID panics inside its reader, and its
// unary RPCs (ListProcesses, GetProcessDiagnostics) panic by design. gRPC
// does not recover a handler's panic, so each of those killed the process.
// The Guard is a pair of gRPC interceptors:
//
//   - every unary RPC is refused;
//   - the one stream RPC, Receive, is wrapped: each frame is checked as it
//     is read, before protoactor's reader sees it (Check), and a panic on
//     the stream's goroutine is recovered, closing only that stream;
//   - the stream must open with a ConnectRequest naming the peer's actor
//     address. With mutual TLS, the node id in the peer's certificate must
//     be the member known at that address (and that member's address the
//     one claimed); without TLS, an IP address claimed must be the one the
//     connection comes from. Every sender PID of the stream must then be at
//     that address, and every target at this node's;
//   - the frames to the topology actor carry the authenticated peer in
//     their message header (PeerHeader), from which the actor decides what
//     ring changes that peer may make (ring.State.Admit). Headers a peer
//     sets itself under that name are removed.
//
// Refusals end the stream with a gRPC status and are logged at most once
// per peer per LogInterval, with the count of the ones not logged.
//
// Concurrency: a Guard is safe for concurrent use; gRPC calls its
// interceptors on each stream's own goroutine.
package remoteguard
