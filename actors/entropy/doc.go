// Package entropy holds the anti-entropy scheduler actor.
//
// Every interval the scheduler picks one partition this node owns and a live
// peer that owns it too, and runs one exchange between the two vnodes:
//
//  1. compare Merkle roots, then descend level by level into only the
//     subtrees whose hashes differ (merkle.DiffChildren);
//  2. list the keys of the differing leaf buckets on both sides, with the
//     hash of each stored object, and find the keys that differ
//     (merkle.DiffBuckets);
//  3. read those keys from both replicas, merge, and send the merged object
//     to each side that lacked it.
//
// The bytes exchanged grow with the difference, not with the data. One
// exchange runs at a time and repairs at most a configured number of keys,
// which bounds the load on foreground traffic. Every message has the
// exchange's deadline; an exchange that misses it is abandoned and the next
// one starts over, which is safe because merging is idempotent.
package entropy
