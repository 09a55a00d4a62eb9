// Package vnode holds the vnode actor, one per partition replica held on a
// node, and the node-wide dot Minter the vnodes share.
//
// A vnode owns its partition's keys in the node's engine (under the
// partition's key prefix) and is the only writer of them, so each key's
// read-merge-write happens one message at a time without locks. It answers
// three requests, all carried in a messages.Envelope:
//
//   - PutRequest: coordinate a client write — mint a dot, apply dvv.Update,
//     persist, reply with the resulting object. When the engine makes writes
//     durable later (storage.sync_writes, persistence.AsyncPutter) and the
//     request is early, the vnode answers twice: the object as soon as it is
//     merged (PutReply.minted), and a bare PutReply once it is durable, so
//     that the coordinator can send it on while the fsync runs. With
//     Config.ResolveOnWrite
//     (resolution.on_write), a write that leaves several live siblings is
//     followed by their resolution, stored as a second update with a fresh
//     dot (resolve.go); merges never resolve;
//   - GetRequest: reply with the stored object;
//   - MergeRequest: dvv.Merge a peer's object into the stored one (replication,
//     read repair), persisting only when something changed.
//
// The actor is a thin shell: it converts messages with package wire, calls
// package dvv for every decision, persists, then replies. Handoff and repair
// traffic is exempt from client size limits so replicas can always converge.
package vnode
