// Package resolve is the server-side reconciliation hook: it decides, for a
// key holding concurrent siblings, whether the node hands the client all of
// them (the default) or one value resolved by a Resolver.
//
// The store keeps every concurrent write as a sibling (see the README's
// "Siblings" section). Most applications resolve them themselves: read, merge,
// write back with the context. A Go program that embeds a node
// (actors/node) can instead plug a Resolver in, globally or per bucket (a key
// prefix), and name it in the config:
//
//	resolution:
//	  default: siblings
//	  on_write: false
//	  buckets: "carts/=cart,sessions/=lww"
//
//	n, err := node.Start(node.Options{
//		Config:    cfg,
//		Resolvers: map[string]resolve.Resolver{"cart": resolve.Func(mergeCarts)},
//	})
//
// # Where resolvers run
//
//   - On read, after the coordinator has merged the replicas' answers and
//     before the gateway replies. The client receives one value with the
//     merged set's causal context, so its next write supersedes every
//     sibling the resolver saw. A read never changes what is stored.
//   - On write, only with resolution.on_write: at the vnode that coordinates
//     the client's write, when the write leaves more than one live sibling.
//     The resolution is stored as a new write whose context covers all the
//     siblings, then replicated like any write. Replicas that merge it do not
//     resolve again: each would mint a dot of its own, and their resolutions
//     would become new siblings.
//
// # Built-in resolvers
//
//   - "siblings" (KeepSiblings, the default): no server-side resolution; the
//     client receives every sibling. Nothing is lost.
//   - "lww" (LastWriteWins): the sibling with the latest coordinator
//     timestamp wins, ties broken by content so that every node picks the
//     same one. It is lossy: the other siblings are dropped, even when they
//     were written later by a node whose clock is behind. A node logs a
//     warning at start naming the buckets it applies to.
//
// # Failures
//
// A resolver that panics, returns an error, or returns a resolution that is
// not valid (a value over limits.max_value_bytes, a malformed content type,
// contradictory fields) fails safe: Choice.Resolve recovers and reports an
// *Error, and the caller falls back to the unresolved siblings — a read
// answers 300 with all of them and an X-Dht-Resolver-Error header, a write
// leaves them stored. Nothing stored is lost or altered by a failing
// resolver.
//
// # Purity and concurrency
//
// This package reads no clock, starts no goroutines and does no I/O; the
// actors that call it log and count what it reports. A Selector is
// immutable once built and safe for concurrent use. A Resolver is called
// from many goroutines at once, must be safe for that, and should return
// promptly: it runs on the request path, and on a write it holds up the
// vnode that owns the key's partition.
package resolve
