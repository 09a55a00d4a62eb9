package persistence

import (
	"encoding/binary"
	"math"
)

// The node's single database is split by a one-byte tag at the start of
// every key. Distinct tags make the three keyspaces disjoint, so a scan of
// one never sees another, and there is room for more.
const (
	dataTag byte = 'd'
	hintTag byte = 'h'
	metaTag byte = 'm'
)

// dataHeaderLen is the tag plus the big-endian partition.
const dataHeaderLen = 1 + 4

// DataKey returns the engine key of user key in partition (a DataID):
// 'd' | big-endian uint32 partition | key. Big-endian makes partitions sort
// in numeric order, and all of a partition's keys contiguous, so a vnode
// scans its partition with DataPrefix and a handoff can resume from the
// last key it sent.
func DataKey(partition uint32, key []byte) []byte {
	k := make([]byte, dataHeaderLen, dataHeaderLen+len(key))
	k[0] = dataTag
	binary.BigEndian.PutUint32(k[1:], partition)
	return append(k, key...)
}

// DataPrefix returns the prefix shared by every DataKey of partition.
func DataPrefix(partition uint32) []byte {
	return DataKey(partition, nil)
}

// DataID returns the id under whose DataPrefix partition p of a ring of q
// partitions keeps its data, for a ring that started with initial
// partitions: p itself on the initial ring (the layout every store had
// before rings could be resized), q+p on a larger one, and q+p with the
// top bit set on a smaller one (a halved ring). The ids never collide:
// the initial ring's are below initial, a larger ring of q uses [q, 2q),
// and a smaller one [2³¹+q, 2³¹+2q). Ids of their own keep a partition's
// keys apart from those of the partition its number had on a ring of
// another size. q and initial must be powers of two with p < q.
func DataID(p uint32, q, initial int) uint32 {
	switch {
	case q == initial:
		return p
	case q > initial:
		return uint32(q) + p
	}
	return belowInitial | (uint32(q) + p)
}

// belowInitial marks the ids of rings smaller than the initial one.
const belowInitial = 1 << 31

// DataSource is where keys of a partition may still sit: under the id of
// Partition of a ring of Partitions, one of the sizes the data was laid
// out under before. A key there is the partition's when its partition on
// that ring is Partition (for a source on a larger ring, every key there
// is; on a smaller ring, only those of the partition's own arc).
type DataSource struct {
	ID         uint32
	Partitions int
	Partition  uint32
}

// DataSources returns the sources of partition p of a ring of q
// partitions that started with initial, given sizes, the ring sizes the
// data has been laid out under (ring.Base.LayoutSizes; q's own is skipped):
// for each size below q, the partition p split from; for each size above
// it, every partition that merged into p. Nearest size first, the smaller
// before the larger at equal distance. A ring never resized has none.
func DataSources(p uint32, q, initial int, sizes []int) []DataSource {
	var below, above []DataSource
	for _, s := range sizes {
		switch {
		case s < q:
			sp := p / uint32(q/s)
			below = append(below, DataSource{ID: DataID(sp, s, initial), Partitions: s, Partition: sp})
		case s > q:
			f := uint32(s / q)
			for c := p * f; c < (p+1)*f; c++ {
				above = append(above, DataSource{ID: DataID(c, s, initial), Partitions: s, Partition: c})
			}
		}
	}
	// below is ascending by size: the nearest is its last.
	var out []DataSource
	for len(below) > 0 || len(above) > 0 {
		nb, na := 0, 0
		if len(below) > 0 {
			nb = q / below[len(below)-1].Partitions
		}
		if len(above) > 0 {
			na = above[0].Partitions / q
		}
		if nb != 0 && (na == 0 || nb <= na) {
			out = append(out, below[len(below)-1])
			below = below[:len(below)-1]
			continue
		}
		k := 0
		for k < len(above) && above[k].Partitions == above[0].Partitions {
			k++
		}
		out = append(out, above[:k]...)
		above = above[k:]
	}
	return out
}

// SplitDataKey is the inverse of DataKey. key aliases k. ok is false when k
// is not a data key.
func SplitDataKey(k []byte) (partition uint32, key []byte, ok bool) {
	if len(k) < dataHeaderLen || k[0] != dataTag {
		return 0, nil, false
	}
	return binary.BigEndian.Uint32(k[1:dataHeaderLen]), k[dataHeaderLen:], true
}

// HintPrefix returns the prefix shared by every hint key.
func HintPrefix() []byte {
	return []byte{hintTag}
}

// HintKey returns the engine key of the hint numbered seq for the node
// target: 'h' | uvarint len(target) | target | big-endian uint64 seq.
// The length prefix keeps one target's hints apart from those of a target
// it is a prefix of ("node-1" and "node-10"); big-endian seq makes a scan of
// HintTargetPrefix deliver hints oldest first.
func HintKey(target string, seq uint64) []byte {
	k := HintTargetPrefix(target)
	return binary.BigEndian.AppendUint64(k, seq)
}

// HintTargetPrefix returns the prefix shared by every hint key of target.
func HintTargetPrefix(target string) []byte {
	k := make([]byte, 0, 1+binary.MaxVarintLen64+len(target)+8)
	k = append(k, hintTag)
	k = binary.AppendUvarint(k, uint64(len(target)))
	return append(k, target...)
}

// SplitHintKey is the inverse of HintKey. ok is false when k is not a
// well-formed hint key.
func SplitHintKey(k []byte) (target string, seq uint64, ok bool) {
	if len(k) == 0 || k[0] != hintTag {
		return "", 0, false
	}
	n, w := binary.Uvarint(k[1:])
	if w <= 0 {
		return "", 0, false
	}
	rest := k[1+w:]
	// Compare in uint64 so that a huge decoded length cannot overflow.
	if n > math.MaxInt || uint64(len(rest)) != n+8 {
		return "", 0, false
	}
	// Reject non-minimal varints, so that each hint has exactly one key.
	if w != len(binary.AppendUvarint(nil, n)) {
		return "", 0, false
	}
	return string(rest[:n]), binary.BigEndian.Uint64(rest[n:]), true
}

// MetaPrefix returns the prefix shared by every metadata key.
func MetaPrefix() []byte {
	return []byte{metaTag}
}

// MetaKey returns the engine key of the node metadata item name (the
// replica id, its epoch, the dot-counter lease): 'm' | name.
func MetaKey(name string) []byte {
	k := make([]byte, 0, 1+len(name))
	k = append(k, metaTag)
	return append(k, name...)
}
