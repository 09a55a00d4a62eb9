package ring

import (
	"crypto/md5"
	"encoding/binary"
	"fmt"
	"math/bits"
)

// MinPartitions and MaxPartitions bound Q. Below 8 a ring cannot spread load;
// above 65536 per-partition state (vnode actors, Merkle trees) outweighs the
// finer balance.
const (
	MinPartitions = 8
	MaxPartitions = 1 << 16
)

// ValidatePartitions reports whether q is a usable partition count.
func ValidatePartitions(q int) error {
	if q < MinPartitions || q > MaxPartitions || q&(q-1) != 0 {
		return fmt.Errorf("ring: partition count must be a power of two from %d to %d, got %d", MinPartitions, MaxPartitions, q)
	}
	return nil
}

// Hash returns the key's position on the 128-bit ring.
func Hash(key []byte) [md5.Size]byte { return md5.Sum(key) }

// PartitionOf returns the partition (0 ≤ p < q) holding key. q must satisfy
// ValidatePartitions.
func PartitionOf(key []byte, q int) uint32 {
	h := Hash(key)
	return partitionOfHash(h, q)
}

func partitionOfHash(h [md5.Size]byte, q int) uint32 {
	shift := 64 - bits.TrailingZeros64(uint64(q))
	return uint32(binary.BigEndian.Uint64(h[:8]) >> shift)
}

// Overlapping returns the partitions of a ring of to partitions whose arcs
// overlap partition p of a ring of from, first to last: the one p lies in
// when to is smaller, those p splits into when it is larger. ok is false
// when neither count divides the other (or either is not positive); a
// resize keeps both powers of two.
func Overlapping(p uint32, from, to int) (first, last uint32, ok bool) {
	switch {
	case from <= 0 || to <= 0:
		return 0, 0, false
	case to <= from && from%to == 0:
		q := p / uint32(from/to)
		return q, q, true
	case to > from && to%from == 0:
		f := uint32(to / from)
		return p * f, p*f + f - 1, true
	}
	return 0, 0, false
}
