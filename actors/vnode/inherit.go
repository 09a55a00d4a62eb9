package vnode

import (
	"bytes"
	"errors"
	"slices"

	"github.com/dhtkv/dht/cluster/ring"
	"github.com/dhtkv/dht/persistence"
)

// inheritance is what a partition of a resized ring has still to take
// over from the partitions of the ring's other sizes: the ones it split
// from, and the ones merged into it (its sources; "ancestors" below
// covers both). Only the vnode's goroutine touches it.
//
// The ancestors' prefixes are read-only once the resize is made: no vnode
// of theirs runs any more. Every write of the partition reads the key
// through the store (ancestors included) before it writes, and deletes the
// ancestors' copies in the same batch; so a key is held once, and where
// the partition's own prefix holds a key, its object descends from any
// ancestor's copy. Adopting a key is therefore a move of its stored bytes,
// and a key already in the own prefix only has its stale copy deleted.
type inheritance struct {
	partition uint32
	q         int
	// from lists the sources that may still hold keys of the partition,
	// nearest first; empty once all are adopted.
	from []persistence.DataSource
	// cursor is where adoption goes on in from[0]: the smallest key not
	// yet looked at, nil at its start.
	cursor []byte
	// adopted counts the keys moved so far.
	adopted int
}

// newInheritance returns the inheritance of partition p of a ring of q
// partitions that started with initial, whose data has been laid out
// under the ring sizes layouts (ring.Base.LayoutSizes; nil stands for
// every size from initial up to q, the splits a ring could make before
// halving existed), and its DataID; nil when it has no sources (a ring
// never resized) or q is unset.
func newInheritance(p uint32, q, initial int, layouts []int) (*inheritance, uint32) {
	if q <= 0 || initial <= 0 {
		return nil, p
	}
	if layouts == nil {
		for s := initial; s <= q; s *= 2 {
			layouts = append(layouts, s)
		}
	}
	from := persistence.DataSources(p, q, initial, layouts)
	if len(from) == 0 {
		return nil, persistence.DataID(p, q, initial)
	}
	return &inheritance{partition: p, q: q, from: from}, persistence.DataID(p, q, initial)
}

// holds reports whether src may hold key, a key of the partition: every
// source it split from does (a smaller ring's partition holds all of its
// arc), and of those merged into it, the one per size whose arc holds the
// key. Only the latter hash the key.
func (in *inheritance) holds(src persistence.DataSource, key []byte) bool {
	return src.Partitions < in.q || ring.PartitionOf(key, src.Partitions) == src.Partition
}

// pending reports whether an ancestor may still hold keys of the partition.
func (in *inheritance) pending() bool { return in != nil && len(in.from) > 0 }

// owns reports whether key belongs to the partition.
func (in *inheritance) owns(key []byte) bool { return ring.PartitionOf(key, in.q) == in.partition }

// inheritChunk bounds what one pass over the ancestors collects: the
// entries a merged scan holds in memory at once, and the keys one
// adoption step moves.
const inheritChunk = 256

type entry struct {
	key, value []byte
	// from is the ancestor's id.
	from uint32
}

// inherited returns, in key order, the partition's keys from start on
// that its ancestors hold, up to limit of each ancestor, and the key the
// list is complete up to (inclusive): nil when it holds every such key.
func (s partitionStore) inherited(start []byte, limit int) (out []entry, bound []byte, err error) {
	for _, a := range s.in.from {
		got, more, err := s.scanAncestor(a.ID, start, limit, 0)
		if err != nil {
			return nil, nil, err
		}
		out = append(out, got...)
		if more && (bound == nil || bytes.Compare(got[len(got)-1].key, bound) < 0) {
			bound = got[len(got)-1].key
		}
	}
	if bound != nil {
		out = slices.DeleteFunc(out, func(e entry) bool { return bytes.Compare(e.key, bound) > 0 })
	}
	// A key is held once (see inheritance); should two ancestors hold it,
	// the nearer one's copy is the later.
	slices.SortStableFunc(out, func(a, b entry) int { return bytes.Compare(a.key, b.key) })
	out = slices.CompactFunc(out, func(a, b entry) bool { return bytes.Equal(a.key, b.key) })
	return out, bound, nil
}

// scanAncestor returns up to limit keys of the partition that ancestor a
// holds from start on, and whether it holds more. With visit > 0 it also
// stops after visiting that many keys of a, the partition's or not, so
// that an adoption step over a sibling's keys stays short; more is then
// set, and the last entry returned may be a sibling's key with a nil
// value, marking where the scan stopped.
func (s partitionStore) scanAncestor(a uint32, start []byte, limit, visit int) (out []entry, more bool, err error) {
	var from []byte
	if start != nil {
		from = persistence.DataKey(a, start)
	}
	visited := 0
	err = s.engine.Scan(persistence.DataPrefix(a), from, func(k, value []byte) bool {
		_, key, ok := persistence.SplitDataKey(k)
		if !ok {
			return true
		}
		if len(out) == limit {
			more = true
			return false
		}
		visited++
		owned := s.in.owns(key)
		if owned {
			out = append(out, entry{key: slices.Clone(key), value: slices.Clone(value), from: a})
		}
		if visit > 0 && visited >= visit {
			if !owned {
				out = append(out, entry{key: slices.Clone(key), from: a})
			}
			more = true
			return false
		}
		return true
	})
	return out, more, err
}

// adoptStep moves up to inheritChunk keys of the partition from its
// nearest ancestor that still holds some into its own prefix, in one
// atomic batch, and returns how many it moved. It must run on the vnode's
// goroutine, with no write of the partition in flight (see inheritance).
func (s partitionStore) adoptStep() (int, error) {
	in := s.in
	if !in.pending() {
		return 0, nil
	}
	a := in.from[0].ID
	got, more, err := s.scanAncestor(a, in.cursor, inheritChunk, 4*inheritChunk)
	if err != nil {
		return 0, err
	}
	b := persistence.NewBatch()
	moved := 0
	for _, e := range got {
		if e.value == nil {
			continue // where the scan stopped: a sibling's key
		}
		own := persistence.DataKey(s.id, e.key)
		if _, err := s.engine.Get(own); errors.Is(err, persistence.ErrNotFound) {
			b.Put(own, e.value)
			moved++
		} else if err != nil {
			return 0, err
		}
		b.Delete(persistence.DataKey(a, e.key))
	}
	if err := s.engine.Write(b); err != nil {
		return 0, err
	}
	in.adopted += moved
	if more && len(got) > 0 {
		in.cursor = append(slices.Clip(got[len(got)-1].key), 0)
	} else {
		in.from, in.cursor = in.from[1:], nil
	}
	return moved, nil
}
