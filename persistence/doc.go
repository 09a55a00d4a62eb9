// Package persistence owns the node's local storage: the [Engine] interface,
// its implementations, and the layout of the keyspace inside the one
// database each node keeps.
//
// # What it owns
//
//   - [Engine]: an ordered byte key-value store with point reads, atomic
//     batches and prefix scans. It knows nothing about DVV sets, partitions
//     or hints; callers encode those into keys and values.
//   - Three engines behind [Open]: "badger" (the default, on disk),
//     "pebble" (on disk), both tuned by a small-memory profile unless told
//     otherwise, and "memory" (for development and tests).
//     docs/engines.md compares them and says which to choose when.
//   - The keyspace ([DataKey], [HintKey], [MetaKey] and friends): data of
//     partition p lives under [DataPrefix](p) (on a resized ring, under
//     [DataPrefix] of its [DataID]), hints under [HintPrefix],
//     node metadata under [MetaPrefix]. The prefixes never overlap, so a
//     vnode can scan its partition, and the hint queue its hints, in the
//     same database without seeing anything else.
//
// The conformance suite every engine must pass lives in the sub-package
// enginetest, so that every engine is tested by the same properties; the
// tests of this package run it, and the kill -9 durability test, over all
// three.
//
// # Usage
//
//	opts := persistence.DefaultOptions("/var/lib/dht")
//	opts.SyncWrites = cfg.Storage.SyncWrites
//	eng, err := persistence.Open(opts)
//	if err != nil { ... }
//	defer eng.Close()
//
//	k := persistence.DataKey(partition, userKey)
//	if err := eng.Put(k, encodedObject); err != nil { ... }
//	err = eng.Scan(persistence.DataPrefix(partition), nil, func(k, v []byte) bool {
//		_, userKey, _ := persistence.SplitDataKey(k)
//		... // k and v are only valid until fn returns; copy what you keep
//		return true
//	})
//
// # Durability
//
// Once Put, Delete or Write returns nil the write survives kill -9 of the
// process. With [Options].SyncWrites it also survives a crash of the machine
// (power loss, kernel panic), at the cost of a sync before each write
// returns. Writes from many goroutines share syncs (group commit). Badger
// v4.9 syncs its memtable's write-ahead log once per transaction, so with
// SyncWrites the badger engine queues writes to a committer of its own
// that applies all waiting writes as one transaction (commit.go); it also
// offers [AsyncPutter], a put that does not block its caller on the sync.
// Pebble shares one WAL write and sync among all commits waiting for it.
//
// Pebble's own "no sync" mode keeps a write in a buffer inside the process
// until a WAL block fills, which kill -9 loses. So the pebble engine always
// commits with a sync and, without SyncWrites, skips the WAL's fsync
// instead: a write has reached the kernel when it returns (see
// walWriteThroughFS).
//
// # Concurrency
//
// An [Engine] is safe for concurrent use by any number of goroutines: reads,
// writes and scans may overlap freely. A scan sees each [Batch] entirely or
// not at all, and it does not hold back writers on other goroutines while it
// runs. The callback passed to Scan must not call back into the same engine
// (it may deadlock with a concurrent Close, and an engine is free to hold
// internal resources for the duration of the scan); collect what you need
// and act after Scan returns. Close waits for calls in flight to finish;
// every call after it returns [ErrClosed]. A [Batch] is not safe for
// concurrent use; build it on one goroutine and hand it to Write.
package persistence
