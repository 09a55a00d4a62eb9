package replica

import (
	"fmt"

	"github.com/dhtkv/dht/internal/dvv"
	"github.com/dhtkv/dht/internal/merkle"
)

// pendingWrite is what a write handed to the owner is to answer once done.
type pendingWrite[A any] struct {
	to     A
	op     Op
	kind   WriteKind
	answer ReplyKind
	// withObject: the answer carries set (a put not answered early).
	withObject bool
	batch      bool
	key        []byte
	set        dvv.Set
	hash       uint64
	size       int
	prev       stored
}

// persist asks for s to be stored at key, which held prev, answering with
// answer once that is done. sync forces a write the owner waits for, even
// with Config.Async (a merge batch stops at its first failure). An async
// write is taken as written at once: the engine applies writes in the
// order they are handed over, so a later write of the key lands after it,
// and if it fails WriteDone puts the cache and tree right.
func (m *Machine[A]) persist(to A, op Op, answer ReplyKind, key []byte, s dvv.Set, prev stored, withObject, sync bool) Effects[A] {
	raw, err := m.cfg.Codec.Encode(s)
	if err != nil {
		return Effects[A]{Reply: errorReply(to, op, CodeStorage, err.Error())}
	}
	m.lastID++
	id := m.lastID
	hash := merkle.ValueHash(raw)
	p := pendingWrite[A]{to: to, op: op, kind: WritePut, answer: answer, withObject: withObject, batch: sync,
		key: key, set: s, hash: hash, size: len(raw), prev: prev}
	if !m.cfg.Async || sync {
		m.writes[id] = p
		return Effects[A]{Write: Write{Kind: WritePut, ID: id, Key: key, Value: raw}}
	}
	p.kind = WritePutAsync
	m.writes[id] = p
	m.async++
	m.inflight[string(key)] = inflightWrite{id: id, set: s, hash: hash}
	m.applied(key, s, hash, len(raw), prev)
	return Effects[A]{Write: Write{Kind: WritePutAsync, ID: id, Key: key, Value: raw}, Publish: true}
}

// applied records a put of key as stored.
func (m *Machine[A]) applied(key []byte, s dvv.Set, hash uint64, size int, prev stored) {
	m.generation++
	m.cache.put(key, s, hash, size)
	m.treePut(key, hash, prev)
}

// WriteDone reports the outcome of the Write with this id. An id the
// machine does not know (a write of an earlier machine) is ignored.
func (m *Machine[A]) WriteDone(id uint64, err error) Effects[A] {
	p, ok := m.writes[id]
	if !ok {
		return Effects[A]{}
	}
	delete(m.writes, id)
	var eff Effects[A]
	switch p.kind {
	case WritePutAsync:
		eff = m.asyncDone(id, p, err)
	case WritePut:
		eff = m.putDone(p, err)
	case WriteDelete:
		eff = m.deleteDone(p, err)
	case WriteDropAll:
		eff = m.dropDone(p, err)
	}
	return eff
}

func (m *Machine[A]) asyncDone(id uint64, p pendingWrite[A], err error) Effects[A] {
	m.async--
	if w, ok := m.inflight[string(p.key)]; ok && w.id == id {
		delete(m.inflight, string(p.key))
	}
	var eff Effects[A]
	if err != nil {
		// The write may or may not have landed, and later writes of the
		// key were built on it: forget it, and once every write in
		// flight has landed rebuild the tree from what is stored.
		m.cache.remove(p.key)
		m.rebuild, m.barrier = true, true
		eff.Reply = errorReply(p.to, p.op, CodeStorage, fmt.Sprintf("vnode: write %q: %v", p.key, err))
	} else {
		eff.Reply = m.answer(p)
	}
	if m.async == 0 && m.barrier {
		if m.rebuild {
			m.buildTree()
			m.rebuild = false
			eff.Publish = true
		}
		m.barrier = false
		eff.Resume = true
	}
	return eff
}

func (m *Machine[A]) putDone(p pendingWrite[A], err error) Effects[A] {
	if err != nil {
		// The write may or may not have landed: read it afresh next time.
		m.cache.remove(p.key)
		m.batch = nil
		return Effects[A]{Reply: errorReply(p.to, p.op, CodeStorage, fmt.Sprintf("vnode: write %q: %v", p.key, err))}
	}
	m.applied(p.key, p.set, p.hash, p.size, p.prev)
	if m.async > 0 {
		// Newer than any async write of the key in flight: reads must
		// not go back to that one.
		delete(m.inflight, string(p.key))
	}
	if p.batch {
		m.batch.merged++
		eff := m.stepBatch()
		eff.Publish = true
		return eff
	}
	return Effects[A]{Reply: m.answer(p), Publish: true}
}

func (m *Machine[A]) deleteDone(p pendingWrite[A], err error) Effects[A] {
	if err != nil {
		return Effects[A]{Reply: errorReply(p.to, p.op, CodeStorage, err.Error())}
	}
	m.generation++
	if m.tree != nil {
		m.tree.Delete(p.key, p.prev.hash)
	}
	return Effects[A]{Reply: Reply[A]{To: p.to, Op: p.op, Kind: ReplyReap, Reaped: true}, Publish: true}
}

func (m *Machine[A]) dropDone(p pendingWrite[A], err error) Effects[A] {
	n := m.Len()
	m.generation++
	m.cache.clear()
	m.buildTree()
	r := Reply[A]{To: p.to, Op: p.op, Kind: ReplyDropped, Dropped: Dropped{Done: true, Keys: n}}
	if err != nil {
		r.Dropped = Dropped{Err: fmt.Errorf("vnode: drop partition %d: %w", m.cfg.Partition, err)}
	}
	return Effects[A]{Reply: r, Publish: true}
}

// answer is the reply to a write that landed.
func (m *Machine[A]) answer(p pendingWrite[A]) Reply[A] {
	r := Reply[A]{To: p.to, Op: p.op, Kind: p.answer}
	if p.withObject {
		r.Object, r.HasObject = p.set, true
	}
	return r
}
