package persistence

import (
	"bytes"
	"sync"

	"github.com/google/btree"
)

var _ Engine = (*memoryEngine)(nil)

// memoryDegree is the B-tree's minimum degree. 32 keeps nodes a few cache
// lines wide, which is what google/btree's own benchmarks favour.
const memoryDegree = 32

// memItem is one stored pair. Its slices are owned by the tree and never
// modified after insertion, which is what lets Scan hand them to a callback
// without holding the lock.
type memItem struct {
	key, value []byte
}

func memLess(a, b memItem) bool { return bytes.Compare(a.key, b.key) < 0 }

// memoryEngine keeps everything in a copy-on-write B-tree. It is for
// development and tests: nothing survives Close.
type memoryEngine struct {
	mu struct {
		sync.RWMutex
		tree   *btree.BTreeG[memItem] // nil once closed
		closed bool
	}
}

func newMemoryEngine() *memoryEngine {
	e := &memoryEngine{}
	e.mu.tree = btree.NewG(memoryDegree, memLess)
	return e
}

func (e *memoryEngine) Get(key []byte) ([]byte, error) {
	if len(key) == 0 {
		return nil, ErrEmptyKey
	}
	e.mu.RLock()
	defer e.mu.RUnlock()
	if e.mu.closed {
		return nil, ErrClosed
	}
	it, ok := e.mu.tree.Get(memItem{key: key})
	if !ok {
		return nil, ErrNotFound
	}
	return append([]byte{}, it.value...), nil
}

func (e *memoryEngine) Put(key, value []byte) error {
	if len(key) == 0 {
		return ErrEmptyKey
	}
	it := memItem{key: bytes.Clone(key), value: append([]byte{}, value...)}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.mu.closed {
		return ErrClosed
	}
	e.mu.tree.ReplaceOrInsert(it)
	return nil
}

func (e *memoryEngine) Delete(key []byte) error {
	if len(key) == 0 {
		return ErrEmptyKey
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.mu.closed {
		return ErrClosed
	}
	e.mu.tree.Delete(memItem{key: key})
	return nil
}

func (e *memoryEngine) Write(b *Batch) error {
	// Validate and copy before taking the lock: a batch is applied entirely
	// or not at all, and the copies need no lock.
	if err := b.validate(); err != nil {
		return err
	}
	type op struct {
		it  memItem
		del bool
	}
	ops := make([]op, 0, b.Len())
	_ = b.each(func(key, value []byte, del bool) error {
		o := op{it: memItem{key: bytes.Clone(key)}, del: del}
		if !del {
			o.it.value = append([]byte{}, value...)
		}
		ops = append(ops, o)
		return nil
	})
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.mu.closed {
		return ErrClosed
	}
	for _, o := range ops {
		if o.del {
			e.mu.tree.Delete(o.it)
		} else {
			e.mu.tree.ReplaceOrInsert(o.it)
		}
	}
	return nil
}

func (e *memoryEngine) Scan(prefix, start []byte, fn func(key, value []byte) bool) error {
	// Clone is O(1) and copy-on-write: the scan walks a snapshot without the
	// lock, so writers wait only for the clone, never for fn. Clone mutates
	// the source tree's copy-on-write context, hence the write lock.
	e.mu.Lock()
	if e.mu.closed {
		e.mu.Unlock()
		return ErrClosed
	}
	snap := e.mu.tree.Clone()
	e.mu.Unlock()

	visit := func(it memItem) bool {
		if !bytes.HasPrefix(it.key, prefix) {
			return false // keys are ordered, so no later key has the prefix
		}
		return fn(it.key, it.value)
	}
	if from := scanStart(prefix, start); len(from) > 0 {
		snap.AscendGreaterOrEqual(memItem{key: from}, visit)
	} else {
		snap.Ascend(visit)
	}
	return nil
}

func (e *memoryEngine) Close() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.mu.closed = true
	e.mu.tree = nil
	return nil
}
