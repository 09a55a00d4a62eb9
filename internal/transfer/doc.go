// Package transfer holds the pure machine of ownership transfer for one
// node: which partitions it receives, which it drains and drops, how many
// move at once, and when it has handed everything over and may retire.
//
// The ring's Plan (cluster/ring) says what should hold what; this machine
// decides what to do about it, one event at a time. Its caller, the handoff
// actor, reads the topology snapshot, converts it to a Snapshot of plain
// values and steps the machine:
//
//	m := transfer.New(cfg)
//	m.Restore(cursor)               // once: where earlier receives stopped
//	eff := m.Tick(now, snapshot)    // every interval, and on Effects.Recheck
//	eff = m.Hashes(now, id, hashes) // a MerkleReply
//	eff = m.Listed(now, id, keys)   // a BucketKeysReply
//	eff = m.Pulled(now, id, batch)  // a HandoffPullReply
//	eff = m.Merged(now, id)         // a MergeBatchReply
//	eff = m.Failed(now, id, reason) // an ErrorReply
//	eff = m.Dropped(now, p, result) // the vnode's answer to Drop
//
// and carries out each Effects in order: persist (Cursors), then send
// (Compares, Lists, Pulls, Merges, Drops, Done, Recheck), then report
// (Moved, Compared, Active, Ended, Events, Report, Retire). The effects name request ids; the caller puts
// them on the requests and hands them back with the replies, so a reply to
// an aborted transfer is recognised as a straggler and ignored.
//
// What it decides, as the testdata/ scenarios tell:
//
//   - receive: each placement of this node that no handoff record covers is
//     pulled in batches (BatchKeys, BatchBytes) from the first live source,
//     each batch merged into the local vnode and its last key saved as a
//     cursor, so a transfer cut by a restart resumes there. The last batch
//     in, it reports Done (HandoffDone to the topology actor);
//   - drain: a partition this node holds data of but no longer has a part in
//     (in a ring this node has synced) waits DropDelay, is pushed to every
//     live serving and pending replica, and the vnode is asked to drop it at
//     the generation it had when the push began. A write since then makes
//     the vnode refuse, and the drain runs again;
//   - compare first (Config.Compare): before a receive or a drain sends
//     anything, the source's Merkle tree is compared with each receiver's
//     (all asked the same question each round, so a drain's targets share
//     one descent). Equal trees: nothing is sent. Otherwise the differing
//     leaf buckets are listed on every side (key and value hash, listChunk
//     buckets a request) and only the keys some receiver lacks or holds
//     another version of are pulled, by key, and merged. The partition is
//     streamed whole instead, after the cursor, when a receiver's tree is
//     empty (a wiped node rebuilding), when more than half of the buckets
//     differ (mostDiffer), when a tree cannot be read or has another shape,
//     and when the source answers a keyed pull as a vnode that predates
//     keyed pulls (with the page after the cursor, which the stream takes
//     on). A finished transfer still means every receiver holds all the
//     source held when it began: equal buckets hold equal keys and values,
//     and a receiver loses no key meanwhile (but a reaped tombstone). Keys sent by key save no cursor; a
//     restart compares again and finds them sent. A drain drops at the
//     generation of its own first Merkle answer, so any write after the
//     comparison began makes the vnode refuse the drop;
//   - throttle: at most Concurrency transfers, receives and drains together;
//   - abort: a transfer stops when a peer goes down, its request times out,
//     a peer answers an error, or (a receive) the ring no longer wants it;
//     it starts again on a later tick;
//   - retire: a node that had a part in the ring during this run, and is now
//     removed from a synced ring with nothing left to receive, drain or
//     hold, retires once.
//
// Time comes in as the now argument of every event; the machine reads no
// clock, does no I/O and sends nothing itself.
//
// Concurrency: a Machine is single-threaded. It is owned by one actor, which
// steps it from its Receive, one message at a time.
package transfer
