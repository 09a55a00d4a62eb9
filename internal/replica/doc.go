// Package replica holds the replica machine: what one partition replica (a
// vnode) decides about the keys it stores. It owns the partition's Merkle
// tree, the cache of decoded objects, the write generation and the writes
// in flight, and decides
//
//   - Put: a client write this replica coordinates — the bad_context verdict
//     on an implausible context counter (PlausibleCounter), a conditional
//     write's Precondition tested against the stored object, the dot minted
//     above whatever the key's contexts say of this replica, dvv.Update within
//     the sibling limit, resolution on write, persisting;
//   - Get: the stored object, a write still in flight included;
//   - Merge and MergeBatch: dvv.Merge, persisting only on change;
//   - HandoffPull, BucketKeys, Tombstones, MerkleLevel: scans and their pages;
//   - Reap (the tombstone still exactly what the reaper checked) and Drop
//     (no write since the caller's generation).
//
// It follows internal/quorum and etcd's raft: the owner, the vnode actor,
// converts each message to a call, and carries out the Effects it returns,
// in order: the Write (persist), then the Reply. Reads go through Store,
// synchronously, as raft's core reads its Storage; every write leaves as an
// effect, and the owner reports its outcome with WriteDone — at once for a
// synchronous write, from a message the engine's goroutine sends for an
// asynchronous one. So the owner holds no lock and never blocks waiting for
// the engine:
//
//	m := replica.New[addr](cfg)
//	carry(m.Start())
//	carry(m.Put(from, req, now))    // Write{WritePutAsync, id}, maybe Reply{Minted}
//	...                              // later, the engine answered:
//	carry(m.WriteDone(id, err))     // Reply: a bare put reply, or a storage error
//
// An async write is taken as written at once (reads see it, the tree has
// it); if it fails, the machine forgets the cached object, and once every
// write in flight has landed rebuilds the tree from the store. A scan must
// see every write made before it, so while async writes are in flight it
// returns Defer: the owner keeps that request, and every later one, until
// an Effects with Resume. The type parameter A is the owner's reply
// address, carried opaquely to the Reply.
//
// Error messages keep the "vnode:" prefix they have always had: peers,
// clients and tests see them in replies.
//
// A Machine is not safe for concurrent use: it is single-threaded, owned
// and stepped by one actor, one message at a time. It reads no clock (now
// is an argument) and does no I/O but Store's reads and Minter's lease.
package replica
