package entropy

import (
	"fmt"
	"maps"
	"slices"
	"sync"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/dhtkv/dht/internal/dvv"
	"github.com/dhtkv/dht/internal/merkle"
	"github.com/dhtkv/dht/messages"
	"github.com/dhtkv/dht/wire"
)

// fakeReplica stands in for one node's vnode of a partition and its hint
// queue: an in-memory store with its Merkle tree, answering what the
// scheduler asks as the real actors do. The test reads its store while the
// actor writes it, hence the lock.
type fakeReplica struct {
	mu struct {
		sync.Mutex
		store map[string]dvv.Set
		tree  *merkle.Tree
		hints map[string]uint32
		// fail makes every answer an error, as of a vnode without a tree.
		fail bool
		// stamps counts the ring sizes the requests said
		// (Envelope.ring_partitions), by request kind.
		stamps map[string]map[uint32]int
	}
}

func newFakeReplica(store map[string]dvv.Set) *fakeReplica {
	f := &fakeReplica{}
	f.mu.store = map[string]dvv.Set{}
	f.mu.hints = map[string]uint32{}
	f.mu.tree, _ = merkle.NewTree(16, 2)
	for k, v := range store {
		f.put(k, v)
	}
	return f
}

// hash is the value hash of a stored set: of its canonical encoding, as a
// vnode hashes what it stores.
func hash(s dvv.Set) uint64 {
	b, err := wire.EncodeObject(s)
	if err != nil {
		panic(err)
	}
	return merkle.ValueHash(b)
}

// put stores v under k, keeping the tree current; the caller holds mu or
// owns f alone.
func (f *fakeReplica) put(k string, v dvv.Set) {
	old, had := f.mu.store[k]
	f.mu.store[k] = v
	f.mu.tree.Put([]byte(k), hash(v), hash(old), had)
}

// stampsSeen returns a copy of the ring sizes the requests said, by kind.
func (f *fakeReplica) stampsSeen() map[string]map[uint32]int {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[string]map[uint32]int{}
	for kind, by := range f.mu.stamps {
		out[kind] = maps.Clone(by)
	}
	return out
}

// get returns what k holds now.
func (f *fakeReplica) get(k string) (dvv.Set, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	v, ok := f.mu.store[k]
	return v, ok
}

func (f *fakeReplica) Receive(ctx actor.Context) {
	env, ok := ctx.Message().(*messages.Envelope)
	if !ok {
		return
	}
	f.mu.Lock()
	kind := fmt.Sprintf("%T", env.GetBody())
	if f.mu.stamps == nil {
		f.mu.stamps = map[string]map[uint32]int{}
	}
	if f.mu.stamps[kind] == nil {
		f.mu.stamps[kind] = map[uint32]int{}
	}
	f.mu.stamps[kind][env.GetRingPartitions()]++
	reply := f.answer(env)
	f.mu.Unlock()
	reply.RequestId = env.GetRequestId()
	ctx.Respond(reply)
}

func (f *fakeReplica) answer(env *messages.Envelope) *messages.Envelope {
	if f.mu.fail {
		return errorReply("fake replica: failing")
	}
	switch body := env.GetBody().(type) {
	case *messages.Envelope_MerkleRequest:
		var parents []int
		for _, p := range body.MerkleRequest.GetParents() {
			parents = append(parents, int(p))
		}
		hashes, err := f.mu.tree.Level(int(body.MerkleRequest.GetLevel()), parents)
		if err != nil {
			return errorReply(err.Error())
		}
		shape := f.mu.tree.Shape()
		return &messages.Envelope{Body: &messages.Envelope_MerkleReply{MerkleReply: &messages.MerkleReply{
			Hashes: hashes, Fanout: uint32(shape.Fanout), Depth: uint32(shape.Depth)}}}
	case *messages.Envelope_BucketKeysRequest:
		var buckets []int
		for _, b := range body.BucketKeysRequest.GetBuckets() {
			buckets = append(buckets, int(b))
		}
		in := f.mu.tree.KeyFilter(buckets)
		reply := &messages.BucketKeysReply{}
		for _, k := range slices.Sorted(maps.Keys(f.mu.store)) {
			if in([]byte(k)) {
				reply.Keys = append(reply.Keys, &messages.KeyVersion{Key: []byte(k), ValueHash: hash(f.mu.store[k])})
			}
		}
		return &messages.Envelope{Body: &messages.Envelope_BucketKeysReply{BucketKeysReply: reply}}
	case *messages.Envelope_GetRequest:
		return &messages.Envelope{Body: &messages.Envelope_GetReply{GetReply: &messages.GetReply{
			Object: wire.ObjectToProto(f.mu.store[string(body.GetRequest.GetKey())])}}}
	case *messages.Envelope_MergeRequest:
		obj, err := wire.ObjectFromProto(body.MergeRequest.GetObject())
		if err != nil {
			return errorReply(err.Error())
		}
		k := string(body.MergeRequest.GetKey())
		f.put(k, dvv.Merge(f.mu.store[k], obj))
		return &messages.Envelope{Body: &messages.Envelope_MergeReply{MergeReply: &messages.MergeReply{}}}
	case *messages.Envelope_TombstonesRequest:
		reply := &messages.TombstonesReply{}
		for _, k := range slices.Sorted(maps.Keys(f.mu.store)) {
			if dvv.Reapable([]dvv.Set{f.mu.store[k]}, 1, body.TombstonesRequest.GetOlderThanUnixMs()) {
				reply.Keys = append(reply.Keys, []byte(k))
			}
		}
		return &messages.Envelope{Body: &messages.Envelope_TombstonesReply{TombstonesReply: reply}}
	case *messages.Envelope_HintsForRequest:
		return &messages.Envelope{Body: &messages.Envelope_HintsForReply{HintsForReply: &messages.HintsForReply{
			Count: f.mu.hints[string(body.HintsForRequest.GetKey())]}}}
	case *messages.Envelope_ReapRequest:
		want, err := wire.ObjectFromProto(body.ReapRequest.GetObject())
		if err != nil {
			return errorReply(err.Error())
		}
		k := string(body.ReapRequest.GetKey())
		cur, ok := f.mu.store[k]
		reaped := ok && cur.Equal(want) && cur.IsDeleted()
		if reaped {
			delete(f.mu.store, k)
			f.mu.tree.Delete([]byte(k), hash(cur))
		}
		return &messages.Envelope{Body: &messages.Envelope_ReapReply{ReapReply: &messages.ReapReply{Reaped: reaped}}}
	}
	return errorReply(fmt.Sprintf("fake replica: unexpected %T", env.GetBody()))
}

func errorReply(msg string) *messages.Envelope {
	return &messages.Envelope{Body: &messages.Envelope_ErrorReply{ErrorReply: &messages.ErrorReply{
		Code: messages.ErrorCode_ERROR_CODE_UNKNOWN_MESSAGE, Message: msg}}}
}
