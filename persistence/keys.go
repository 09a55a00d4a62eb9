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
// before rings could be resized), q+p on a resized one. A resize only
// grows q (ring.State.Resize), so the ids never collide: the initial
// ring's are below initial, and a ring of q > initial uses [q, 2q). Ids
// of their own keep a child partition's keys apart from those of the
// partition its number had on the smaller ring. q and initial must be
// powers of two with p < q and initial ≤ q.
func DataID(p uint32, q, initial int) uint32 {
	if q == initial {
		return p
	}
	return uint32(q) + p
}

// DataAncestors returns the ids of the partitions that partition p of a
// ring of q partitions split from, nearest first, down to the initial
// ring's (none on the initial ring). Their prefixes may still hold keys of
// p that it has not adopted yet.
func DataAncestors(p uint32, q, initial int) []uint32 {
	var out []uint32
	for q > initial {
		q, p = q/2, p/2
		out = append(out, DataID(p, q, initial))
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
