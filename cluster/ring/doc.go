// Package ring maps keys onto the store's consistent-hashing ring.
//
// Keys hash with MD5 into a 128-bit ring split into Q equal partitions, Q a
// power of two (Strategy 3 of the Dynamo paper). The partition of a key is the
// top log2(Q) bits of its hash, so partitions are contiguous arcs of the ring
// and a key's partition never depends on the member set — only the mapping of
// partitions to nodes does.
//
// The package is pure: no I/O, goroutines, clocks or randomness. Every
// function is safe for concurrent use.
package ring
