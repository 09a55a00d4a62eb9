// Package clienttest provides Server, an in-memory fake of a node's client
// HTTP API, for tests of code that talks to the store through package client
// (the client itself, dhtctl, the benchmark).
//
// The fake follows the wire contract (key escaping, X-Dht-Context,
// 300 Multiple Choices with siblings, JSON errors, bearer token) with a
// deliberately simple causality model: every write gets a fresh id, and a
// context is the set of ids it covers. A write replaces the siblings its
// context covers and otherwise adds one, which is how a DVV set behaves for
// a single object. Failures are injected per key with Fail, and every request
// is recorded for assertions.
//
// The read-only admin endpoints (GET /admin/members and /admin/ring) answer
// with whatever SetCluster was given, and 503 until then, as a node without
// a cluster view does; GET /admin/status with SetStatus's. The ownership
// changes (POST /admin/join, /admin/decommission, /admin/force-remove)
// answer by the node's contract against that cluster without changing it,
// and GET /admin/events streams what SetEvents was given. They are guarded
// by the token set with SetAdminToken rather than the client token, as on a
// node. Every JSON body it sends is one of package api's types, the shapes a
// node sends; the handlers that fill them are its own, written apart from the
// node's.
//
// Key listing (GET /v1/kv?prefix=) lists the live keys in one global key
// order, since the fake has no partitions, with a cursor of its own; it
// takes the admin token once SetAdminToken has set one.
//
// It is test-only infrastructure, not a reference for the server's
// implementation: there are no replicas, so R, W, PR and PW are only
// validated (1..3), never enforced.
//
// Concurrency: all methods of Server are safe for concurrent use, including
// while requests are being served.
package clienttest
