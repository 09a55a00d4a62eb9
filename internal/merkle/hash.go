package merkle

import "hash/crc64"

// The hashes below are fixed algorithms with fixed constants, never seeded
// per process (hash/maphash is), because two replicas on different machines
// must put a key in the same bucket and give it the same contribution. Changing
// any of them changes every tree: replicas running different versions would
// then see every bucket differ and exchange everything once. That is slow but
// not wrong, since anti-entropy only ever merges.

const (
	fnvOffset64 = 14695981039346656037
	fnvPrime64  = 1099511628211
	golden64    = 0x9e3779b97f4a7c15
)

// ecma is the table crc64 precomputes for the ECMA polynomial; MakeTable
// returns the shared slicing-by-8 table rather than building a new one.
var ecma = crc64.MakeTable(crc64.ECMA)

// KeyHash is the 64-bit hash that places a key in a bucket: the leaf index is
// its top bits. It is FNV-1a followed by the murmur3 finalizer, which spreads
// keys that differ only in their last bytes (key-0001, key-0002, ...) over
// all the top bits; plain FNV-1a leaves those bits nearly unchanged.
func KeyHash(key []byte) uint64 {
	h := uint64(fnvOffset64)
	for _, c := range key {
		h ^= uint64(c)
		h *= fnvPrime64
	}
	return fmix64(h)
}

// ValueHash hashes the bytes of a stored object: CRC-64/ECMA followed by the
// murmur3 finalizer. The caller must hash a canonical encoding (the same
// logical object must always encode to the same bytes on every replica, e.g.
// deterministic protobuf marshalling with siblings in a fixed order),
// otherwise equal replicas look different forever.
func ValueHash(b []byte) uint64 {
	return fmix64(crc64.Checksum(b, ecma))
}

// contribution is what one key with one value adds to its leaf and to every
// ancestor of the leaf. Nodes hold sums modulo 2^64 of contributions, so the
// order of writes does not matter, and a write is undone by subtracting.
func contribution(keyHash, valueHash uint64) uint64 {
	return fmix64(keyHash ^ fmix64(valueHash^golden64))
}

// fmix64 is murmur3's 64-bit finalizer: a bijection with full avalanche.
func fmix64(k uint64) uint64 {
	k ^= k >> 33
	k *= 0xff51afd7ed558ccd
	k ^= k >> 33
	k *= 0xc4ceb9fe1a85ec53
	k ^= k >> 33
	return k
}
