// Package gateway holds the HTTP gateway actor: the node's front door.
//
// The actor owns the HTTP server. It serves the client API under /v1/kv/,
// /metrics, /healthz and /readyz. Each client request is parsed and validated
// at the edge (parse.go, pure functions), then handed to the gateway actor,
// which spawns one coordinator actor per request as its child; the HTTP
// handler waits on a future for the coordinator's answer and renders it.
//
// A read whose merged object holds several live siblings passes through the
// node's server-side resolver, when one is configured for the key (package
// resolve, resolve.go), before it is rendered: the client then gets one value
// with the merged context, or, if the resolver fails, every sibling and an
// X-Dht-Resolver-Error header. Only the reply changes, never what is stored.
//
// Bad input never reaches the coordinator: every malformed key, oversized
// value, corrupt context or impossible quorum is answered with a 4xx whose
// JSON body names the problem (see errors.go for the codes).
//
// The causal contexts handed to clients are tokens of wire.ContextCodec:
// MAC'd under the cluster's context secret when it has one, so that a
// client cannot claim to have seen siblings it never read; a token this
// cluster did not issue, or one altered, is a 400 bad_context.
//
// The listener is bounded: request bodies (MaxBodyBytes), header blocks
// (MaxHeaderBytes, answered 431 by net/http), idle keep-alive connections
// (IdleTimeout) and open connections (MaxConnections, limit.go). It serves
// HTTPS when TLSConfig is set. /metrics may move to a plain-HTTP listener
// of its own (MetricsListener), which serves the probes too.
//
// The admin API under /admin/ (admin.go) is guarded by its own token. It
// shows the cluster through a ClusterView, carries out ownership changes
// (join, decommission, force-remove) through a ClusterAdmin, and streams the
// node's events from an events.Bus as server-sent events (admin_events.go).
// All three are interfaces or values the node hands in, so the gateway
// itself holds no cluster state; any of them may be nil, and its endpoints
// then answer 503.
//
// Concurrency: HTTP handlers run on net/http's goroutines and talk to actors
// only through the actor system's root context, which is safe for concurrent
// use. An event stream's handler lives as long as its client; Shutdown ends
// every open stream, which would otherwise hold it until its deadline.
package gateway
