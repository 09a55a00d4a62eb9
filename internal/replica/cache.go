package replica

import (
	"container/list"

	"github.com/dhtkv/dht/internal/dvv"
)

// objectCache keeps a replica's recently used objects decoded, with their
// Merkle value hashes, so that a hot key's read or write skips the engine
// read, the decode and the hash. Under a skewed (zipfian) load most requests
// hit a few keys, and each client update reads the key at every replica and
// then writes it at every replica: without the cache each of those reads
// goes to the engine.
//
// The machine is the only writer of its partition's keys, and it updates the
// cache on every write, so the cache never holds anything but what is
// stored. Cached sets are never modified: dvv.Set's Update and Merge return
// new sets.
//
// It is least-recently-used within a byte budget, and not safe for
// concurrent use (a Machine is owned by one actor).
type objectCache struct {
	budget, used int
	entries      map[string]*list.Element
	lru          list.List // front: most recently used; values are *cached
}

type cached struct {
	key  string
	set  dvv.Set
	hash uint64
	size int
}

// entryOverhead approximates what an entry costs beyond its stored bytes:
// the map slot, the list element, the decoded set's headers.
const entryOverhead = 160

func newObjectCache(budget int) *objectCache {
	return &objectCache{budget: budget, entries: map[string]*list.Element{}}
}

// get returns key's cached object and marks it recently used.
func (c *objectCache) get(key []byte) (*cached, bool) {
	if c == nil {
		return nil, false
	}
	e, ok := c.entries[string(key)]
	if !ok {
		return nil, false
	}
	c.lru.MoveToFront(e)
	return e.Value.(*cached), true
}

// put caches key's object, stored as storedBytes bytes, evicting the least
// recently used entries beyond the budget. An object larger than the whole
// budget is not cached.
func (c *objectCache) put(key []byte, set dvv.Set, hash uint64, storedBytes int) {
	if c == nil {
		return
	}
	size := len(key) + storedBytes + entryOverhead
	if e, ok := c.entries[string(key)]; ok {
		old := e.Value.(*cached)
		c.used -= old.size
		old.set, old.hash, old.size = set, hash, size
		c.used += size
		c.lru.MoveToFront(e)
	} else {
		if size > c.budget {
			return
		}
		k := string(key)
		c.entries[k] = c.lru.PushFront(&cached{key: k, set: set, hash: hash, size: size})
		c.used += size
	}
	for c.used > c.budget {
		c.evict(c.lru.Back())
	}
}

// remove forgets key, after a delete or when what is stored is uncertain
// (a failed write).
func (c *objectCache) remove(key []byte) {
	if c == nil {
		return
	}
	if e, ok := c.entries[string(key)]; ok {
		c.evict(e)
	}
}

// clear forgets everything, after the partition is dropped.
func (c *objectCache) clear() {
	if c == nil {
		return
	}
	clear(c.entries)
	c.lru.Init()
	c.used = 0
}

func (c *objectCache) evict(e *list.Element) {
	ent := c.lru.Remove(e).(*cached)
	delete(c.entries, ent.key)
	c.used -= ent.size
}

// len returns the number of cached objects.
func (c *objectCache) len() int {
	if c == nil {
		return 0
	}
	return len(c.entries)
}
