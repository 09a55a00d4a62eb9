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
