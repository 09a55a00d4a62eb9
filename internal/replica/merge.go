package replica

import (
	"fmt"
	"time"

	"github.com/dhtkv/dht/internal/dvv"
)

// Merge merges a peer's object into key's (replication, read repair),
// persisting only when that changes what is stored: duplicate replication
// and repeated repairs then cost no disk write. Answers ReplyMerge.
func (m *Machine[A]) Merge(to A, key []byte, incoming dvv.Set) Effects[A] {
	if m.barrier {
		return Effects[A]{Defer: true}
	}
	current, prev, err := m.load(key)
	if err != nil {
		return Effects[A]{Reply: errorReply(to, OpMerge, CodeStorage, err.Error())}
	}
	merged := dvv.Merge(current, incoming)
	if merged.Equal(current) {
		return Effects[A]{Reply: Reply[A]{To: to, Op: OpMerge, Kind: ReplyMerge}}
	}
	return m.persist(to, OpMerge, ReplyMerge, key, merged, prev, false, false)
}

// Entry is one key of a merge batch. Err is set when its object could not
// be read off the wire; the batch stops there.
type Entry struct {
	Key    []byte
	Object dvv.Set
	Err    error
}

// batch is a merge batch under way.
type batch[A any] struct {
	to      A
	entries []Entry
	next    int
	merged  uint32
}

// MergeBatch merges a batch of a handoff transfer, one synchronous write
// per changed key. It stops at the first failure: the sender keeps its
// cursor and sends the batch again, and merging what already landed again
// changes nothing. Answers ReplyMergeBatch with the count of keys changed.
func (m *Machine[A]) MergeBatch(to A, entries []Entry) Effects[A] {
	if m.barrier {
		return Effects[A]{Defer: true}
	}
	m.batch = &batch[A]{to: to, entries: entries}
	return m.stepBatch()
}

// stepBatch merges the batch's entries until one needs a write, or none
// is left.
func (m *Machine[A]) stepBatch() Effects[A] {
	b := m.batch
	for b.next < len(b.entries) {
		e := b.entries[b.next]
		b.next++
		if len(e.Key) == 0 {
			m.batch = nil
			return Effects[A]{Reply: errorReply(b.to, OpMergeBatch, CodeBadRequest, "vnode: merge batch: empty key")}
		}
		if e.Err != nil {
			m.batch = nil
			return Effects[A]{Reply: errorReply(b.to, OpMergeBatch, CodeBadRequest, fmt.Sprintf("vnode: merge %q: %v", e.Key, e.Err))}
		}
		current, prev, err := m.load(e.Key)
		if err != nil {
			m.batch = nil
			return Effects[A]{Reply: errorReply(b.to, OpMergeBatch, CodeStorage, err.Error())}
		}
		merged := dvv.Merge(current, e.Object)
		if merged.Equal(current) {
			continue
		}
		eff := m.persist(b.to, OpMergeBatch, ReplyMergeBatch, e.Key, merged, prev, false, true)
		if eff.Reply.Kind == ReplyError {
			m.batch = nil
		}
		return eff
	}
	m.batch = nil
	return Effects[A]{Reply: Reply[A]{To: b.to, Op: OpMergeBatch, Kind: ReplyMergeBatch, Merged: b.merged}}
}

// Reap deletes key if what it stores is exactly want, the tombstone the
// reaper checked on every primary, and holds no live value at now (an
// expired value counts as a tombstone); a write that landed since keeps the
// key. Answers ReplyReap.
func (m *Machine[A]) Reap(to A, key []byte, want dvv.Set, now time.Time) Effects[A] {
	if m.barrier {
		return Effects[A]{Defer: true}
	}
	current, prev, err := m.load(key)
	if err != nil {
		return Effects[A]{Reply: errorReply(to, OpReap, CodeStorage, err.Error())}
	}
	if !prev.found || !current.Equal(want) || !current.At(now).IsDeleted() {
		return Effects[A]{Reply: Reply[A]{To: to, Op: OpReap, Kind: ReplyReap}}
	}
	// Forgotten before the delete: if the delete fails, what is stored is
	// uncertain.
	m.cache.remove(key)
	m.lastID++
	m.writes[m.lastID] = pendingWrite[A]{to: to, op: OpReap, kind: WriteDelete, key: key, prev: prev}
	return Effects[A]{Write: Write{Kind: WriteDelete, ID: m.lastID, Key: key}}
}
