package merkle

import (
	"errors"
	"fmt"
	"iter"
	"math/bits"
)

// MaxLeaves bounds the number of leaf buckets, and so a tree's memory
// (8 bytes per node, about 8.5 MiB at the bound).
const MaxLeaves = 1 << 20

// ErrBadRequest reports a Level request that names nodes the tree does not
// have. It usually means the peer's tree has another shape or the message was
// corrupted; the answer is to abandon the exchange.
var ErrBadRequest = errors.New("merkle: request outside the tree")

// Shape is the fixed geometry of a tree. Both replicas in an exchange must
// use the same shape, so it is cluster-wide configuration.
type Shape struct {
	// Fanout is the number of children of every inner node: a power of two
	// from 2 to 256.
	Fanout int
	// Depth is the number of levels below the root, from 1 to 6. The tree
	// has Fanout^Depth leaf buckets, at most MaxLeaves.
	Depth int
}

// DefaultShape is 16^3 = 4096 buckets: about 35 KiB per tree, and about 25
// keys per bucket for a partition of 100k keys, which keeps both the descent
// (three rounds) and the bucket listings small.
func DefaultShape() Shape { return Shape{Fanout: 16, Depth: 3} }

// Validate reports the first field that is out of range.
func (s Shape) Validate() error {
	if s.Fanout < 2 || s.Fanout > 256 || s.Fanout&(s.Fanout-1) != 0 {
		return fmt.Errorf("merkle: fanout %d: want a power of two from 2 to 256", s.Fanout)
	}
	if s.Depth < 1 || s.Depth > 6 {
		return fmt.Errorf("merkle: depth %d: want 1 to 6", s.Depth)
	}
	if s.levelBits()*s.Depth > bits.Len(MaxLeaves)-1 {
		return fmt.Errorf("merkle: depth %d: fanout^depth = 2^%d buckets exceeds the limit of %d",
			s.Depth, s.levelBits()*s.Depth, MaxLeaves)
	}
	return nil
}

// Leaves is the number of leaf buckets, Fanout^Depth.
func (s Shape) Leaves() int { return 1 << (s.levelBits() * s.Depth) }

// levelBits is log2(Fanout): how many key hash bits each level consumes.
func (s Shape) levelBits() int { return bits.TrailingZeros(uint(s.Fanout)) }

// Tree is a Merkle tree of fixed shape over one partition's keys. Every node
// holds the sum modulo 2^64 of the contributions of the keys below it, where
// a key's contribution is a strong hash of (key, value hash). Because a sum
// does not depend on order, a write changes one leaf and its Depth ancestors
// by the same delta: Put and Delete cost Depth+1 additions, and Root is a
// read. Two nodes at the same position in two trees are equal exactly when the
// same keys with the same values sit below them (up to 2^-64 collisions).
//
// A Tree is not safe for concurrent use.
type Tree struct {
	shape     Shape
	levelBits uint
	leafShift uint     // KeyHash >> leafShift is the leaf index
	offsets   []int    // offsets[l] is where level l starts in nodes; len Depth+2
	nodes     []uint64 // every level, root first
	n         int
}

// NewTree returns an empty tree of the given shape.
func NewTree(fanout, depth int) (*Tree, error) {
	s := Shape{Fanout: fanout, Depth: depth}
	if err := s.Validate(); err != nil {
		return nil, err
	}
	t := &Tree{
		shape:     s,
		levelBits: uint(s.levelBits()),
		leafShift: uint(64 - s.levelBits()*s.Depth),
		offsets:   make([]int, s.Depth+2),
	}
	for l, width := 0, 1; l <= s.Depth; l, width = l+1, width*s.Fanout {
		t.offsets[l+1] = t.offsets[l] + width
	}
	t.nodes = make([]uint64, t.offsets[s.Depth+1])
	return t, nil
}

// Build makes a tree from every (key, value hash) pair of items, each key
// once; it is how a vnode rebuilds its tree from storage when it starts.
func Build(fanout, depth int, items iter.Seq2[[]byte, uint64]) (*Tree, error) {
	t, err := NewTree(fanout, depth)
	if err != nil {
		return nil, err
	}
	for key, valueHash := range items {
		t.Put(key, valueHash, 0, false)
	}
	return t, nil
}

// Shape is the tree's geometry.
func (t *Tree) Shape() Shape { return t.shape }

// Len is the number of keys in the tree, as told by Put and Delete.
func (t *Tree) Len() int { return t.n }

// Put records that key now holds a value with hash valueHash. If the key was
// already in the tree, hadPrevious is true and previous is the hash the tree
// was last told for it; the caller knows it because it read the old object in
// order to merge the write. Putting the same hash again changes nothing.
func (t *Tree) Put(key []byte, valueHash, previous uint64, hadPrevious bool) {
	kh := KeyHash(key)
	delta := contribution(kh, valueHash)
	if hadPrevious {
		delta -= contribution(kh, previous)
	} else {
		t.n++
	}
	t.add(kh, delta)
}

// Delete removes key, whose value hash the tree was last told was previous.
// Deleting a key that is not in the tree corrupts it (the next exchange
// repairs the data, not the tree), so the caller deletes only what it stored.
// In this store a DELETE writes a tombstone, which is a Put; Delete is for
// reaping tombstones and for dropping a partition's keys.
func (t *Tree) Delete(key []byte, previous uint64) {
	kh := KeyHash(key)
	t.n--
	t.add(kh, -contribution(kh, previous))
}

// add applies delta to the leaf of keyHash and to all its ancestors.
func (t *Tree) add(keyHash, delta uint64) {
	if delta == 0 {
		return
	}
	i := int(keyHash >> t.leafShift)
	for l := t.shape.Depth; l >= 0; l-- {
		t.nodes[t.offsets[l]+i] += delta
		i >>= t.levelBits
	}
}

// Root is the hash of the whole tree. Equal roots mean equal contents.
func (t *Tree) Root() uint64 { return t.nodes[0] }

// Bucket is the leaf index of key, from 0 to Leaves-1. It depends only on
// the key and the shape, so it is the same on every replica.
func (t *Tree) Bucket(key []byte) int { return int(KeyHash(key) >> t.leafShift) }

// Level returns the hashes of nodes at level (0 is the root, Depth the
// leaves): at level 0 the root alone, with parents empty; below it the
// Fanout children of each node in parents, which are nodes at level-1, in
// order. It is what the responder sends in one round of an exchange, so its
// input comes from the network: it returns ErrBadRequest rather than panic,
// and it refuses more parents than the level above has, which bounds the
// answer at the size of the level.
func (t *Tree) Level(level int, parents []int) ([]uint64, error) {
	if level < 0 || level > t.shape.Depth {
		return nil, fmt.Errorf("%w: level %d of a tree of depth %d", ErrBadRequest, level, t.shape.Depth)
	}
	if level == 0 {
		if len(parents) != 0 {
			return nil, fmt.Errorf("%w: the root has no parents, got %d", ErrBadRequest, len(parents))
		}
		return []uint64{t.nodes[0]}, nil
	}
	above := t.offsets[level] - t.offsets[level-1]
	if len(parents) > above {
		return nil, fmt.Errorf("%w: %d parents at level %d, which has %d nodes", ErrBadRequest, len(parents), level-1, above)
	}
	f := t.shape.Fanout
	out := make([]uint64, 0, len(parents)*f)
	base := t.offsets[level]
	for _, p := range parents {
		if p < 0 || p >= above {
			return nil, fmt.Errorf("%w: node %d at level %d, which has %d nodes", ErrBadRequest, p, level-1, above)
		}
		first := base + p<<t.levelBits
		out = append(out, t.nodes[first:first+f]...)
	}
	return out, nil
}

// KeyFilter returns a predicate that reports whether a key falls in one of
// buckets. Storage keeps keys in key order, not bucket order, so the actor
// lists the differing buckets of an exchange with one scan of the partition
// that keeps the keys this accepts. Out-of-range buckets are ignored.
func (t *Tree) KeyFilter(buckets []int) func(key []byte) bool {
	set := make([]uint64, (t.shape.Leaves()+63)/64)
	for _, b := range buckets {
		if b >= 0 && b < t.shape.Leaves() {
			set[b/64] |= 1 << (b % 64)
		}
	}
	shift := t.leafShift
	return func(key []byte) bool {
		b := int(KeyHash(key) >> shift)
		return set[b/64]&(1<<(b%64)) != 0
	}
}
