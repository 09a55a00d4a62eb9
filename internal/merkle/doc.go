// Package merkle keeps a Merkle tree over one partition's keys and compares
// two replicas' trees so that anti-entropy exchanges bytes in proportion to
// the difference between the replicas, not to the data.
//
// # What it owns
//
// A Tree has a fixed shape (fanout^depth leaf buckets, DefaultShape is
// 16^3 = 4096). A key belongs to the bucket named by the top bits of its
// KeyHash. Every node holds the sum, modulo 2^64, of the contributions of the
// keys beneath it, where a key's contribution is a mixed hash of its KeyHash
// and the hash of its stored value. Sums do not depend on insertion order, a
// write changes one leaf and its ancestors by one delta (depth+1 additions, no
// dirty flags, no recomputation), and a write is undone by subtracting. The
// tree stores no keys: about 8 bytes per node, 35 KiB at the default shape.
//
// The package also holds the pure half of an exchange: Exchange walks down
// the two trees, and DiffBuckets compares bucket listings. Storage scans,
// messages and rate limiting belong to the actors.
//
// # Usage
//
// The vnode actor owns its partition's tree. At start it rebuilds the tree by
// scanning the partition (Build, or Put for each key). On every write it has
// the old object at hand, because it merges into it, and calls
//
//	tree.Put(key, merkle.ValueHash(newBytes), merkle.ValueHash(oldBytes), hadOld)
//
// after the write is persisted. Tombstones are values like any other, so that
// anti-entropy spreads deletes. Delete is called only when a tombstone is
// reaped, or when the partition is dropped. The tree is not persisted: it is
// cheaper to rebuild than to keep consistent with the engine across crashes.
//
// The anti-entropy scheduler pairs two replicas of a partition. The
// initiator checks that their Shapes match (NewExchange does) and then runs
// the descent. Each round sends Exchange.Request to the peer, which answers
// with Tree.Level, and passes the answer to Exchange.Receive. Round 0 compares
// roots, so equal replicas cost one hash each way. Round k asks only for the
// children of the nodes that differed in round k-1. After at most depth+1
// rounds, Exchange.Buckets names the differing leaf buckets. Both sides then
// list the keys of those buckets with their value hashes, using one scan
// filtered by Tree.KeyFilter. The peer sends its listing, and DiffBuckets
// says which keys to pull, which to push, and which to send both ways for a
// DVV merge. The scheduler itself owns neither tree: it asks both vnodes
// each Request and passes the two answers to Exchange.ReceiveBoth of a
// NewRemoteExchange (internal/antientropy does). With 10 differences among 100k keys, the descent and the
// listings cost about 10 KB, against about 100 MB of data.
//
// # Determinism
//
// Two replicas on different machines compare trees, so every hash is a fixed
// algorithm with fixed constants. KeyHash is FNV-1a and ValueHash is
// CRC-64/ECMA, each followed by the murmur3 finalizer. hash/maphash is
// avoided because it is seeded per process. Equal keys with equal values
// therefore give bit-identical trees everywhere. The caller must hash a
// canonical encoding of each stored object, otherwise two replicas holding
// the same object differ forever. The tests pin the hashes to golden values.
//
// # Concurrency
//
// Nothing here is safe for concurrent use, and nothing needs to be: the vnode
// actor owns its tree and reads and writes it only from its Receive, and an
// Exchange is driven by the one actor that owns that tree. The package starts
// no goroutines, does no I/O and reads no clock or random source.
package merkle
