// Package vnode holds the vnode actor, one per partition replica held on a
// node, and the node-wide dot Minter the vnodes share.
//
// A vnode owns its partition's keys in the node's engine (under the
// partition's key prefix) and is the only writer of them, so each key's
// read-merge-write happens one message at a time without locks. It answers
// requests carried in a messages.Envelope (put, conditional put, get,
// merge, merge batch, handoff pull (the page after a key, or the listed keys
// of a transfer that compared trees first), Merkle level, bucket keys,
// tombstones, reap, key listing) and the node's
// Drop.
//
// The actor is a thin shell around internal/replica's Machine, which makes
// every decision (see that package for the rules: the bad_context verdict,
// the mint floor, sibling limits, reap and drop verdicts, the cache, the
// Merkle tree, which scans wait for writes in flight). Receive converts a
// message with package wire (receive.go), steps the machine, and carries
// out the effects in order: persist, publish the Merkle root, reply
// (effects.go). The machine reads the engine through partitionStore
// (store.go).
//
// When the engine makes writes durable later (storage.sync_writes,
// persistence.AsyncPutter), a client write or a merge is handed to the
// engine and the vnode goes on to its next request. The engine's goroutine
// only sends the vnode a writeDone; the vnode then steps the machine, which
// answers the write. An early PutRequest is answered twice: the object as
// soon as it is merged (PutReply.minted), and a bare PutReply (or a storage
// error) once it is durable, so that the coordinator can send it on while
// the fsync runs. A request the machine defers (a scan while writes are in
// flight, and everything after it) waits in the vnode's queue, not in a
// blocked mailbox.
//
// On a resized ring (Config.Partitions other than Config.InitialPartitions)
// a partition's data lives under an id of its own (persistence.DataID), and
// the keys that the partitions of the ring's other sizes (Config.Layouts)
// hold of it, those it split from and those merged into it, stay where
// they are until the vnode adopts them: partitionStore reads through to
// them, scans
// merge them in key order, and a write deletes the inherited copy in the
// same batch; meanwhile adopt messages the vnode sends itself move the
// rest, a few hundred keys at a time between requests (adopt.go). While
// it inherits, the vnode writes synchronously, so that no write is in
// flight when a step moves a key. A put, get, merge or reap of a key of
// another partition (from a node on a ring of the other size, while a
// resize reaches every node) is forwarded to the sibling vnode that holds
// it; a request that names another ring size (Envelope.ring_partitions),
// or a merge batch with a key of another partition, is refused as not
// ready. The node changes its vnodes' count without stopping them
// (reshape.go): Quiesce lets a vnode finish its writes in flight and hold
// later requests, and Reshape rebuilds it as the partition of its number
// on the new ring, under the same name and mailbox, before it handles
// them; after a halving, a vnode whose number is no longer a partition
// retires and forwards what reaches it by key. Rehome decides what becomes
// of a request a peer on the larger ring sent to a vnode this node does
// not have.
//
// With Config.ResolveOnWrite (resolution.on_write), a write that leaves
// several live siblings is followed by their resolution, stored as a second
// update with a fresh dot (resolve.go); merges never resolve. Handoff and
// repair traffic is exempt from client size limits so replicas can always
// converge.
//
// A vnode is an actor: one goroutine at a time runs Receive; the Minter is
// safe for concurrent use by every vnode of the node.
package vnode
