// Package certs owns the node's TLS material: it loads certificates, keys
// and CA bundles from PEM files, re-reads them when they change (rotation
// without a restart), builds the tls.Configs of the remote port (mutual TLS
// between nodes), of the HTTP API and of clients, and issues development
// certificates (dhtctl certs, tests).
//
// # Identity
//
// A node's certificate carries its node id as its subject common name
// (NodeID), is signed by the cluster CA, and has both server and client
// authentication in its extended key usage, because a node both listens
// and dials on the remote port. Verification is by chain to the CA and the
// certificate's validity period; host names are not checked on the remote
// port, where a peer is known by its node id, which the remote guard
// (package remoteguard) compares with the one the peer claims in the ring.
//
// # Rotation
//
// A Store polls its files (content, not modification time) every
// ReloadInterval. New handshakes use what it read last; connections already
// open keep the certificate they were made with, so a rotation fails no
// request. A half-written rotation (a certificate that does not match its
// key, a file that does not parse) keeps the previous material and is
// logged, and the next poll tries again.
//
// Concurrency: a Store's methods and the callbacks of the configs it builds
// are safe for concurrent use. Close stops its poller.
package certs
