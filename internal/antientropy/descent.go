package antientropy

import (
	"fmt"

	"github.com/dhtkv/dht/internal/dvv"
	"github.com/dhtkv/dht/internal/merkle"
)

// askLevel asks both replicas the descent's next question, local first.
func (m *Machine) askLevel(q merkle.Request) Effects {
	r := m.r
	r.answered = [2]bool{}
	var eff Effects
	for _, sd := range []side{local, remote} {
		eff.Send = append(eff.Send, m.send(pending{kind: MerkleLevel, side: sd, node: m.node(sd)},
			Request{Level: q.Level, Parents: q.Parents}))
	}
	r.bytes += 2 * 4 * len(q.Parents)
	return eff
}

// Hashes records one replica's answer to a MerkleLevel request, of a tree
// of the given shape. Once both sides answered, the descent moves on: to
// the next level below the nodes that differ, to the listings of the
// differing buckets, or, when nothing differs, to the reap phase.
func (m *Machine) Hashes(id uint64, hashes []uint64, shape merkle.Shape) Effects {
	p, ok := m.take(id)
	if !ok {
		return Effects{}
	}
	if p.kind != MerkleLevel {
		return m.finish(Aborted, wrap(ErrBadReply, p, "a Merkle level answered"))
	}
	r := m.r
	r.hashes[p.side], r.answered[p.side] = hashes, true
	r.bytes += 8 * len(hashes)
	if r.ex == nil {
		r.shapes[p.side] = shape
	}
	if !r.answered[local] || !r.answered[remote] {
		return Effects{}
	}
	if r.ex == nil {
		// The vnodes say their trees' shape with every answer; both must
		// agree before positions in the two trees can be compared.
		if r.shapes[local] != r.shapes[remote] {
			return m.finish(Aborted, wrap(ErrBadReply, p, fmt.Sprintf("tree shapes differ: local %d^%d, peer %d^%d",
				r.shapes[local].Fanout, r.shapes[local].Depth, r.shapes[remote].Fanout, r.shapes[remote].Depth)))
		}
		ex, err := merkle.NewRemoteExchange(r.shapes[local])
		if err != nil {
			return m.finish(Aborted, wrap(ErrBadReply, p, err.Error()))
		}
		r.ex = ex
	}
	if err := r.ex.ReceiveBoth(r.hashes[local], r.hashes[remote]); err != nil {
		return m.finish(Aborted, wrap(ErrBadReply, p, err.Error()))
	}
	switch {
	case !r.ex.Done():
		return m.askLevel(r.ex.Request())
	case len(r.ex.Buckets()) == 0:
		return m.inSync()
	default:
		return m.askKeys(r.ex.Buckets())
	}
}

// askKeys asks both replicas for the keys of the differing buckets.
func (m *Machine) askKeys(buckets []int) Effects {
	m.r.answered = [2]bool{}
	var eff Effects
	for _, sd := range []side{local, remote} {
		eff.Send = append(eff.Send, m.send(pending{kind: BucketKeys, side: sd, node: m.node(sd)},
			Request{Buckets: buckets}))
	}
	return eff
}

// Keys records one replica's listing of the differing buckets. Once both
// are in, it reads every key that is missing on a side or differs, at most
// MaxKeys of them, from both replicas.
func (m *Machine) Keys(id uint64, keys []merkle.KeyVersion) Effects {
	p, ok := m.take(id)
	if !ok {
		return Effects{}
	}
	if p.kind != BucketKeys {
		return m.finish(Aborted, wrap(ErrBadReply, p, "a bucket listing answered"))
	}
	r := m.r
	r.keys[p.side] = append(r.keys[p.side], keys...)
	for _, kv := range keys {
		r.bytes += len(kv.Key) + 8
	}
	r.answered[p.side] = true
	if !r.answered[local] || !r.answered[remote] {
		return Effects{}
	}
	missingHere, missingThere, differing := merkle.DiffBuckets(r.keys[local], r.keys[remote])
	var todo [][]byte
	for _, set := range [][][]byte{missingHere, missingThere, differing} {
		todo = append(todo, set...)
	}
	if len(todo) > m.cfg.MaxKeys {
		todo = todo[:m.cfg.MaxKeys]
	}
	if len(todo) == 0 {
		return m.inSync()
	}
	var eff Effects
	for _, key := range todo {
		r.objects[string(key)] = &[2]*dvv.Set{}
		for _, sd := range []side{local, remote} {
			eff.Send = append(eff.Send, m.send(pending{kind: Get, side: sd, key: string(key), node: m.node(sd)},
				Request{Key: key}))
		}
	}
	return eff
}

// Object records a replica's stored set for a key it was asked, size bytes
// on the wire. In the repair phase, once both copies of a key are in, it
// merges them and sends the result to each side whose copy differs (repair,
// like handoff, is exempt from client limits, so the merge is never
// refused). In the reap phase it is a primary's copy of a tombstone.
func (m *Machine) Object(id uint64, obj dvv.Set, size int) Effects {
	p, ok := m.take(id)
	if !ok {
		return Effects{}
	}
	if p.kind != Get {
		return m.finish(Aborted, wrap(ErrBadReply, p, "an object answered"))
	}
	if p.reap {
		return m.reapAnswer(p, &obj, 0)
	}
	r := m.r
	r.bytes += size
	pair := r.objects[p.key]
	pair[p.side] = &obj
	if pair[local] == nil || pair[remote] == nil {
		return Effects{}
	}
	merged := dvv.Merge(*pair[local], *pair[remote])
	var eff Effects
	for _, sd := range []side{local, remote} {
		if merged.Equal(*pair[sd]) {
			continue
		}
		if m.cfg.MergeSize != nil {
			r.bytes += m.cfg.MergeSize(r.partition, []byte(p.key), merged)
		}
		r.repaired++
		eff.Send = append(eff.Send, m.send(pending{kind: Merge, side: sd, key: p.key, node: m.node(sd)},
			Request{Key: []byte(p.key), Object: merged}))
	}
	if len(r.pending) == 0 {
		eff.add(m.finish(Repaired, nil))
	}
	return eff
}

// Unreadable records that a replica's answer to a Get could not be decoded.
// The repair aborts; in the reap phase the key is unknown, so nothing is
// reaped and the round stays in sync.
func (m *Machine) Unreadable(id uint64, err error) Effects {
	p, ok := m.take(id)
	if !ok {
		return Effects{}
	}
	if p.reap {
		return m.finish(InSync, ErrNotReapable)
	}
	return m.finish(Aborted, wrap(ErrUnreadable, p, err.Error()))
}

// Merged records a replica's acknowledgement of a repair; the round ends
// repaired with the last one.
func (m *Machine) Merged(id uint64) Effects {
	p, ok := m.take(id)
	if !ok {
		return Effects{}
	}
	if p.kind != Merge {
		return m.finish(Aborted, wrap(ErrBadReply, p, "a merge answered"))
	}
	if len(m.r.pending) == 0 {
		return m.finish(Repaired, nil)
	}
	return Effects{}
}
