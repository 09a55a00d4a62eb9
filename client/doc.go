// Package client is the Go client for a node's HTTP key-value API. dhtctl,
// the benchmark and the multi-process tests use it; applications may too.
//
// The package owns the wire side of the client contract: key escaping, the
// opaque causal context carried in the X-Dht-Context header, decoding of
// sibling lists (300 Multiple Choices) and of JSON error bodies. It holds no
// state between calls besides its configuration, so it knows nothing of
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
// Concurrency: a Client is immutable after New and safe for concurrent use by
// multiple goroutines.
package client
