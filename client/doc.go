// Package client is the Go client for a node's HTTP key-value API. dhtctl,
// the benchmark and the multi-process tests use it; applications may too.
//
// The package owns the wire side of the client contract: key escaping, the
// opaque causal context carried in the X-Dht-Context header, decoding of
// sibling lists (300 Multiple Choices) and of JSON error bodies, and
// failover and retries between a cluster's nodes. It knows nothing of
// causality: the caller carries the context from a read to the write that
// follows it.
//
// Typical use:
//
//	c, err := client.New("http://127.0.0.1:8080", client.WithToken(tok))
//	obj, err := c.Get(ctx, "user/42", nil)
//	if obj.Found && len(obj.Siblings) > 1 {
//		// Concurrent writes: merge them and write back with obj.Context,
//		// or let Update do the read-resolve-write cycle.
//	}
//	res, err := c.Put(ctx, "user/42", merged, &client.WriteOptions{Context: obj.Context})
//
// A node that serves HTTPS is reached with an https:// base URL. When its
// certificate comes from a private CA, such as the one `dhtctl certs` makes,
// or it requires client certificates (http.tls.client_ca_file), give the CA
// and the client's certificate with WithTLS:
//
//	tlsCfg, err := client.TLSConfig("ca.crt", "client.crt", "client.key")
//	c, err := client.New("https://127.0.0.1:8080", client.WithTLS(tlsCfg))
//
// A failed handshake is returned as crypto/tls and crypto/x509 report it
// (IsCertificateRefused tells the node's refusal of the client's
// certificate), and a write that failed its handshake is never
// indeterminate: the node did not read it.
//
// Conditional writes use the ETag every answer carries (Object.ETag,
// WriteResult.ETag): WriteOptions.IfMatch writes only while the key is
// unchanged since the read, IfNoneMatch "*" only creates. A failed condition
// matches ErrPreconditionFailed:
//
//	_, err := c.Put(ctx, "user/42", v, &client.WriteOptions{IfMatch: obj.ETag})
//	if errors.Is(err, client.ErrPreconditionFailed) {
//		// Someone wrote since the read: read again and retry.
//	}
//
// A key that is not found is not an error: Get returns an Object with
// Found == false, whose Context must still be sent with a later write so that
// the write supersedes a delete. Failures from the server are *Error values;
// IsIndeterminate reports whether a failed write may still have been applied.
// errors.Is classifies them without parsing codes: ErrNotFound (404),
// ErrConflict (409), ErrPrecondition (412) and ErrUnavailable (503, or no
// endpoint answering after the retries).
//
// Several nodes of one cluster make one client with NewCluster; New is the
// same for one node:
//
//	c, err := client.NewCluster([]string{"http://10.0.0.1:8080", "http://10.0.0.2:8080"})
//
// A call starts with the node that served the last call and moves to the
// next when a node refuses the connection or answers 503. RetryPolicy
// (WithRetry; DefaultRetryPolicy otherwise) bounds the attempts and the
// time spent, waiting between rounds of the endpoints with exponential
// backoff and jitter; the caller's context bounds it all, and a wait that
// would outlast its deadline is not begun; a read a node has not answered
// within RetryPolicy.AttemptTimeout goes to the next endpoint. What is sent
// again follows from what the failure proves:
//
//   - a read (GET, HEAD) after any failure without an answer: a refused or
//     broken connection, a 503, a proxy's 502 or 504;
//   - a write (PUT, DELETE) and an admin command only when nothing can
//     have been applied: the connection was refused, or the node answered
//     503 without "indeterminate" (it stored nothing);
//   - never a write whose outcome is unknown (IsIndeterminate: a 503 that
//     says so, a timeout or a connection lost after sending). Sent again
//     with the same context, an applied write would come back as a second
//     sibling of the same value: DVV keeps both and loses nothing, but the
//     caller would have siblings to resolve that no one wrote concurrently,
//     and a conditional write would fail its own precondition. Read the key
//     and decide.
//
// No 4xx is retried: it is the answer. Join is sent to the first endpoint
// only, since it is about that node. A failure after retries reads as the
// last attempt's failure followed by the number of attempts, and matches
// what that failure matches (errors.AsType[*Error], IsIndeterminate) as
// well as ErrUnavailable, and the context's error when the context ended
// the retries.
//
// The node's admin API is here too, guarded by the token given with
// WithAdminToken rather than WithToken: Members, Ring and Status show the
// cluster; Join, Decommission and ForceRemove change who owns partitions;
// Events and RecentEvents stream what the node saw happen (server-sent
// events, best effort: a reader that falls behind is told how many it lost).
// Their answers are package api's types, the ones the node encodes (Member,
// Ring, Status, Handoff and Transfer here are aliases of them), and
// Error.Code holds one of api's Code values.
//
// Concurrency: a Client's configuration is fixed by New or NewCluster, and
// it is safe for concurrent use by multiple goroutines; the only state it
// keeps is which endpoint served last (an atomic).
package client
