// Package gateway holds the HTTP gateway actor: the node's front door.
//
// The actor owns the HTTP server. It serves the client API under /v1/kv/,
// /metrics, /healthz and /readyz, and supervises the coordinator actors
// (package coordinator), a few per CPU, that run the client requests.
//
// # A PUT, step by step
//
//  1. serveKV (http.go) runs on net/http's goroutine, behind instrument
//     (the request metrics) and requireToken. It maps the method to
//     coordinator.OpPut and calls parse, which validates the key, the quorum
//     parameters, the causal context and the value at the edge (pure
//     functions in parse.go) and builds a coordinator.Request with its
//     deadline (replication.request_timeout).
//  2. and 3. coordinate (gateway.go) sends the next coordinator a
//     *coordinator.Start with the request and a channel, and waits on the
//     channel: no actor is spawned and no future registered per request.
//     The coordinator steps a quorum.Put to its answer (steps 4-6 in the
//     coordinator's doc): it reaches the replicas' vnodes through the
//     Router the node hands in, which builds their PIDs (actors/node), and
//     sends a *coordinator.Reply on the channel.
//  7. coordinate returns the reply to serveKV, which renders it: 204 with
//     the new context token (ContextHeader, wire.ContextCodec), its ETag
//     (ETagHeader) and the count of live siblings (SiblingsHeader; tombstones
//     are not counted); or replyError and writeError turn the error into a
//     status and an api.Error body (409 too_many_siblings, 412
//     precondition_failed, 503 timeout with "indeterminate": true, ...).
//
// A PUT may carry ?ttl= (parseTTL: a Go duration, replica.MinTTL to
// replica.MaxTTL, else 400 bad_ttl), which the coordinator hands the
// coordinating vnode; answers whose live values expire carry
// ExpiresHeader (the earliest expiry). The coordinator's answers are read
// at the node's clock, so the gateway renders an expired value as absent
// without a clock of its own.
//
// A DELETE is a PUT of a tombstone (coordinator.OpDelete). One sent
// without a context or a precondition is read first, as Riak does, by the
// coordinator (quorum.BlindDelete), which takes r and pr from the query as
// well as w and pw (parseDeleteParams); if the read finds no live value,
// nothing is written and serveKV answers 404.
//
// # Conditional requests and ETags
//
// Every answer with a context carries its ETag (etag.go): the context's
// dvv.Tag, quoted, so the same context always has the same ETag.
// parsePrecondition turns If-Match and If-None-Match into a
// replica.Precondition. A write's is tested by the coordinating vnode as it
// mints the write, and a failure comes back as a refusal answered 412. A
// read's is tested here, on the merged answer (readPrecondition): 304 or
// 412. HEAD is served as a GET whose body net/http discards; the answers
// declare Content-Length so that its headers equal the GET's.
//
// # A GET, step by step
//
//  1. serveKV maps GET (and HEAD) to coordinator.OpGet; parse validates the
//     key, the quorum parameters and the conditional headers.
//  2. and 3. As for a PUT; the coordinator steps a quorum.Get.
//  7. serveKV sets the context token and renders the merged object through
//     resolveRead (the server-side resolver, when one applies) and
//     writeObject: 404 when nothing live remains, the value for one
//     sibling, 300 with an api.Siblings body for several. The coordinator
//     repairs stale replicas after the answer.
//
// Should the coordinator not answer by a second past the deadline,
// coordinate answers for it: a timeout for a read, an
// indeterminate outcome for a write.
//
// A read whose merged object holds several live siblings passes through the
// node's server-side resolver, when one is configured for the key (package
// resolve, resolve.go), before it is rendered: the client then gets one value
// with the merged context, or, if the resolver fails, every sibling and an
// X-Dht-Resolver-Error header. Only the reply changes, never what is stored.
//
// Bad input never reaches the coordinator: every malformed key, oversized
// value, corrupt context or impossible quorum is answered with a 4xx whose
// JSON body (api.Error) names the problem; the codes are package api's.
//
// # Routes and edges
//
// Routes are Go 1.22 method patterns ("GET /admin/ring", "PUT
// /v1/kv/{key...}") on a router (edges.go) that keeps ServeMux's own
// answers away from clients: a request that matches no pattern is answered
// 405 with Allow (HEAD wherever GET is) or 404 unknown_path, in JSON, behind
// the guard of its area (tokens, request metrics), and a path ServeMux
// would redirect (to a cleaned path, or to a subtree's slash) is answered
// instead: no answer of the gateway is a redirect. A key's path with a "."
// or ".." segment is a 400 bad_key: the keys "." and ".." are sent as %2E
// and %2E%2E (api.EscapeKey). GET /v1/kv, the collection, answers 404
// unknown_path until keys can be listed (collection.go).
//
// Some requests net/http refuses itself, before any handler, in plain text:
// a request line it cannot parse (a key's path that is not valid
// percent-encoding), a header block over MaxHeaderBytes, a missing Host.
// On plain-HTTP listeners the connections are wrapped (servererrors.go)
// so that those answers, and only those, leave as the API's JSON: 400
// bad_key or bad_request, 431 headers_too_large. Over HTTPS they stay plain
// text.
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
// The admin API under /admin/ (admin.go) is guarded by its own token; its
// answers are package api's types, shared with the client. It
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
