package vnode

import (
	"errors"

	"github.com/dhtkv/dht/internal/dvv"
	"github.com/dhtkv/dht/internal/replica"
	"github.com/dhtkv/dht/persistence"
	"github.com/dhtkv/dht/wire"
)

// partitionStore is the replica machine's read view of one partition in
// the engine: keys without the partition's prefix.
type partitionStore struct {
	engine    persistence.Engine
	partition uint32
}

var _ replica.Store = partitionStore{}

func (s partitionStore) Get(key []byte) ([]byte, bool, error) {
	raw, err := s.engine.Get(persistence.DataKey(s.partition, key))
	if errors.Is(err, persistence.ErrNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	return raw, true, nil
}

func (s partitionStore) Scan(start []byte, fn func(key, value []byte) bool) error {
	var from []byte
	if start != nil {
		from = persistence.DataKey(s.partition, start)
	}
	return s.engine.Scan(persistence.DataPrefix(s.partition), from, func(k, value []byte) bool {
		_, key, ok := persistence.SplitDataKey(k)
		return !ok || fn(key, value)
	})
}

// codec stores objects as package wire encodes them.
type codec struct{}

var _ replica.Codec = codec{}

func (codec) Encode(s dvv.Set) ([]byte, error) { return wire.EncodeObject(s) }
func (codec) Decode(b []byte) (dvv.Set, error) { return wire.DecodeObject(b) }
