package replica

import (
	"fmt"
	"time"

	"github.com/dhtkv/dht/internal/dvv"
	"github.com/dhtkv/dht/internal/merkle"
)

// Store is the machine's read-only view of its partition in the engine, in
// the manner of raft's Storage: reads are synchronous and cheap enough to
// make inline, while every write leaves as an Effect. Keys are the keys
// within the partition, without the engine's prefix.
type Store interface {
	// Get returns key's stored bytes; found is false when it is absent.
	Get(key []byte) (value []byte, found bool, err error)
	// Scan calls fn for each stored key from start (inclusive; nil: the
	// first) in ascending order until fn returns false. key and value
	// are valid only during the call.
	Scan(start []byte, fn func(key, value []byte) bool) error
}

// Codec turns objects into stored bytes and back (wire.EncodeObject and
// wire.DecodeObject in production).
type Codec interface {
	Encode(s dvv.Set) ([]byte, error)
	Decode(b []byte) (dvv.Set, error)
}

// Minter mints this replica's dots (the vnode's Minter, which persists its
// lease itself).
type Minter interface {
	// Actor is the replica's actor id.
	Actor() dvv.Actor
	// NextAfter returns a dot never minted before, with a counter above
	// floor.
	NextAfter(floor uint64) (dvv.Dot, error)
}

// Logger receives what the machine cannot answer to anyone: a corrupt
// record, a Merkle tree that could not be rebuilt. *slog.Logger is one.
type Logger interface {
	Error(msg string, args ...any)
}

// Config is what a Machine needs. Store, Codec, Minter and Logger are
// required.
type Config struct {
	// Partition is the partition's number, for messages.
	Partition uint32
	Store     Store
	Codec     Codec
	Minter    Minter
	Logger    Logger
	// Async says the owner can hand puts to the engine without waiting
	// (persistence.AsyncPutter): client writes and merges then leave as
	// WritePutAsync, and an early put is answered twice.
	Async bool
	// CacheBytes is the budget of the cache of decoded objects; zero
	// disables it.
	CacheBytes int
	// Resolve, when set, resolves the siblings a client write leaves
	// (resolution.on_write) and returns the set to store; it runs on the
	// owner's goroutine, within Put.
	Resolve func(key []byte, s dvv.Set, now time.Time) dvv.Set
	// FirstGeneration is the write generation the machine starts at. A
	// machine that replaces another over a partition of the same number
	// (a vnode reshaped in place by a resize) starts above the old one's,
	// so that a Drop computed against the old partition never matches.
	FirstGeneration uint64
}

// Machine is one partition replica's decisions. Not safe for concurrent
// use: one actor owns it and steps it one message at a time.
type Machine[A any] struct {
	cfg Config
	// tree is the partition's Merkle tree, rebuilt from the store at start
	// and kept current on every write, for anti-entropy.
	tree *merkle.Tree
	// generation counts the writes since the machine started.
	generation uint64
	cache      *objectCache
	// inflight holds the newest unconfirmed async write of each key:
	// reads must see it, and the cache may have evicted it.
	inflight map[string]inflightWrite
	// writes holds what each write the owner has not yet reported done
	// is to answer, by id.
	writes map[uint64]pendingWrite[A]
	lastID uint64
	// async counts the WritePutAsync writes not yet done.
	async int
	// barrier is set while the machine waits for its async writes to land
	// before taking any request (Effects.Defer); rebuild asks for a tree
	// rebuilt from the store once they have.
	barrier, rebuild bool
	// batch is the merge batch under way, between its synchronous writes.
	batch *batch[A]
}

type inflightWrite struct {
	id   uint64
	set  dvv.Set
	hash uint64
}

// stored describes what a key held before a write, for the Merkle tree.
type stored struct {
	found bool
	hash  uint64
}

// New returns a machine for cfg. Call Start before anything else.
func New[A any](cfg Config) *Machine[A] {
	m := &Machine[A]{cfg: cfg, inflight: map[string]inflightWrite{}, writes: map[uint64]pendingWrite[A]{}, generation: cfg.FirstGeneration}
	if cfg.CacheBytes > 0 {
		m.cache = newObjectCache(cfg.CacheBytes)
	}
	return m
}

// Start builds the Merkle tree from the store.
func (m *Machine[A]) Start() Effects[A] {
	m.buildTree()
	return Effects[A]{Publish: true}
}

// Generation returns the count of writes taken since Start.
func (m *Machine[A]) Generation() uint64 { return m.generation }

// Pending returns the number of writes handed out and not yet reported.
func (m *Machine[A]) Pending() int { return len(m.writes) }

// Root returns the Merkle root, zero without a tree.
func (m *Machine[A]) Root() uint64 {
	if m.tree == nil {
		return 0
	}
	return m.tree.Root()
}

// Len returns the number of keys stored, as the Merkle tree counts them.
func (m *Machine[A]) Len() int {
	if m.tree == nil {
		return 0
	}
	return m.tree.Len()
}

// load returns the stored set of key, the empty set when absent. A corrupt
// record is reported, never silently treated as absent: that would let the
// next write drop the siblings it held.
func (m *Machine[A]) load(key []byte) (dvv.Set, stored, error) {
	if m.async > 0 {
		if w, ok := m.inflight[string(key)]; ok {
			return w.set, stored{found: true, hash: w.hash}, nil
		}
	}
	if c, ok := m.cache.get(key); ok {
		return c.set, stored{found: true, hash: c.hash}, nil
	}
	raw, found, err := m.cfg.Store.Get(key)
	if err != nil {
		return dvv.Set{}, stored{}, fmt.Errorf("vnode: read %q: %w", key, err)
	}
	if !found {
		return dvv.Set{}, stored{}, nil
	}
	s, err := m.cfg.Codec.Decode(raw)
	if err != nil {
		m.cfg.Logger.Error("corrupt stored object", "key", key, "err", err)
		return dvv.Set{}, stored{}, fmt.Errorf("vnode: read %q: %w", key, err)
	}
	hash := merkle.ValueHash(raw)
	m.cache.put(key, s, hash, len(raw))
	return s, stored{found: true, hash: hash}, nil
}

// buildTree rebuilds the Merkle tree from the partition's stored keys,
// keeping the old one if that fails.
func (m *Machine[A]) buildTree() {
	shape := merkle.DefaultShape()
	tree, err := merkle.Build(shape.Fanout, shape.Depth, func(yield func([]byte, uint64) bool) {
		err := m.cfg.Store.Scan(nil, func(key, value []byte) bool {
			return yield(key, merkle.ValueHash(value))
		})
		if err != nil {
			m.cfg.Logger.Error("scanning the partition for its Merkle tree", "err", err)
		}
	})
	if err != nil {
		m.cfg.Logger.Error("building the Merkle tree", "err", err)
		return
	}
	m.tree = tree
}

// treePut records a write of key in the Merkle tree.
func (m *Machine[A]) treePut(key []byte, hash uint64, prev stored) {
	if m.tree != nil {
		m.tree.Put(key, hash, prev.hash, prev.found)
	}
}
