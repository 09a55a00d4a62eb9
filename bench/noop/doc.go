// Package noop is an HTTP server that answers this store's key-value API
// without doing any work: every GET returns the same 1 KiB record with a
// context, every PUT and DELETE is acknowledged at once. The dht binding
// (package ycsbdb) run against it measures the harness's own ceiling: the
// load generator, the Go client, HTTP and loopback, with no store behind
// them. The harness runs it as a separate process (dhtbench noop-server),
// so it does not share a Go runtime with the load.
//
// A Handler is safe for concurrent use; it holds no state but its
// precomputed answer.
package noop
