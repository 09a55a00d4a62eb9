package vnode

import (
	"bytes"
	"errors"
	"slices"

	"github.com/dhtkv/dht/internal/dvv"
	"github.com/dhtkv/dht/internal/replica"
	"github.com/dhtkv/dht/persistence"
	"github.com/dhtkv/dht/wire"
)

// partitionStore is the replica machine's read view of one partition in
// the engine: keys without the partition's prefix. On a resized ring the
// partition's keys may still sit under the prefixes of the partitions of
// the ring's other sizes (persistence.DataSources): the one it split from,
// or those merged into it, until the vnode adopts them; the view covers
// those too, so a resize needs no copy before the vnode serves.
type partitionStore struct {
	engine persistence.Engine
	// id is the partition's persistence.DataID.
	id uint32
	// in is what the partition still inherits; nil on a ring that was
	// never resized.
	in *inheritance
}

var _ replica.Store = partitionStore{}

func (s partitionStore) Get(key []byte) ([]byte, bool, error) {
	raw, err := s.engine.Get(persistence.DataKey(s.id, key))
	if errors.Is(err, persistence.ErrNotFound) && s.in.pending() {
		for _, a := range s.in.from {
			if !s.in.holds(a, key) {
				continue
			}
			if raw, err = s.engine.Get(persistence.DataKey(a.ID, key)); !errors.Is(err, persistence.ErrNotFound) {
				break
			}
		}
	}
	if errors.Is(err, persistence.ErrNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	return raw, true, nil
}

// Scan calls fn for the partition's keys from start on, in key order:
// its own, merged with what its ancestors still hold of it.
func (s partitionStore) Scan(start []byte, fn func(key, value []byte) bool) error {
	if !s.in.pending() {
		return s.scanOwn(start, nil, fn)
	}
	cursor := start
	for {
		inherited, bound, err := s.inherited(cursor, inheritChunk)
		if err != nil {
			return err
		}
		i, stopped := 0, false
		err = s.scanOwn(cursor, bound, func(key, value []byte) bool {
			for ; i < len(inherited) && bytes.Compare(inherited[i].key, key) < 0; i++ {
				if !fn(inherited[i].key, inherited[i].value) {
					stopped = true
					return false
				}
			}
			if i < len(inherited) && bytes.Equal(inherited[i].key, key) {
				i++ // the own copy descends from the inherited one
			}
			if !fn(key, value) {
				stopped = true
				return false
			}
			return true
		})
		if err != nil || stopped {
			return err
		}
		for ; i < len(inherited); i++ {
			if !fn(inherited[i].key, inherited[i].value) {
				return nil
			}
		}
		if bound == nil {
			return nil
		}
		cursor = append(slices.Clip(bound), 0)
	}
}

// scanOwn scans the partition's own prefix from start, up to bound
// (inclusive) when it is not nil.
func (s partitionStore) scanOwn(start, bound []byte, fn func(key, value []byte) bool) error {
	var from []byte
	if start != nil {
		from = persistence.DataKey(s.id, start)
	}
	return s.engine.Scan(persistence.DataPrefix(s.id), from, func(k, value []byte) bool {
		_, key, ok := persistence.SplitDataKey(k)
		if !ok {
			return true
		}
		if bound != nil && bytes.Compare(key, bound) > 0 {
			return false
		}
		return fn(key, value)
	})
}

// writeKey stores value (nil: deletes) at key: in the own prefix, and
// while the partition inherits, with the ancestors' copies deleted in the
// same batch.
func (s partitionStore) writeKey(key, value []byte) error {
	own := persistence.DataKey(s.id, key)
	if !s.in.pending() {
		if value == nil {
			return s.engine.Delete(own)
		}
		return s.engine.Put(own, value)
	}
	b := persistence.NewBatch()
	if value == nil {
		b.Delete(own)
	} else {
		b.Put(own, value)
	}
	for _, a := range s.in.from {
		if s.in.holds(a, key) {
			b.Delete(persistence.DataKey(a.ID, key))
		}
	}
	return s.engine.Write(b)
}

// keys returns the engine keys of every key of the partition: its own
// prefix's and those its ancestors still hold of it.
func (s partitionStore) keys() ([][]byte, error) {
	var out [][]byte
	err := s.engine.Scan(persistence.DataPrefix(s.id), nil, func(k, _ []byte) bool {
		out = append(out, slices.Clone(k))
		return true
	})
	if err != nil || !s.in.pending() {
		return out, err
	}
	for _, a := range s.in.from {
		err = s.engine.Scan(persistence.DataPrefix(a.ID), nil, func(k, _ []byte) bool {
			if _, key, ok := persistence.SplitDataKey(k); ok && s.in.owns(key) {
				out = append(out, slices.Clone(k))
			}
			return true
		})
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// codec stores objects as package wire encodes them.
type codec struct{}

var _ replica.Codec = codec{}

func (codec) Encode(s dvv.Set) ([]byte, error) { return wire.EncodeObject(s) }
func (codec) Decode(b []byte) (dvv.Set, error) { return wire.DecodeObject(b) }
