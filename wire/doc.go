// Package wire converts between the protobuf messages of package messages
// and the domain types of the pure packages, and owns the two byte formats
// that outlive a process: the stored form of an object and the causal context
// token handed to clients. A context token is checksummed, or, when the
// cluster has a context secret, MAC'd so that clients cannot forge causality
// (ContextCodec).
//
// Every decoder here faces untrusted bytes (a client's header, a peer's
// message, a possibly corrupted disk) and returns an error rather than
// panicking; each has a fuzz target. All functions are safe for concurrent
// use.
package wire
