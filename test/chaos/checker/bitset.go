package checker

import "math/bits"

// bitset is a set of small non-negative integers (version indexes). The
// methods that change it take a pointer and grow it as needed; a bitset
// shared through a memo is never changed, only cloned.
type bitset []uint64

func (b bitset) has(i int) bool {
	w := i / 64
	return w < len(b) && b[w]&(1<<(uint(i)%64)) != 0
}

func (b *bitset) set(i int) {
	w := i / 64
	for len(*b) <= w {
		*b = append(*b, 0)
	}
	(*b)[w] |= 1 << (uint(i) % 64)
}

func (b *bitset) orIn(o bitset) {
	for len(*b) < len(o) {
		*b = append(*b, 0)
	}
	for i, w := range o {
		(*b)[i] |= w
	}
}

func (b bitset) clone() bitset { return append(bitset(nil), b...) }

// without returns b without i: b itself when i is not in it, else a copy.
func (b bitset) without(i int) bitset {
	if !b.has(i) {
		return b
	}
	c := b.clone()
	c[i/64] &^= 1 << (uint(i) % 64)
	return c
}

func (b bitset) count() int {
	n := 0
	for _, w := range b {
		n += bits.OnesCount64(w)
	}
	return n
}
