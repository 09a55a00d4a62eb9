package vnode

import (
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/dhtkv/dht/internal/dvv"
	"github.com/dhtkv/dht/internal/merkle"
	"github.com/dhtkv/dht/messages"
	"github.com/dhtkv/dht/metrics"
	"github.com/dhtkv/dht/persistence"
	"github.com/dhtkv/dht/resolve"
	"github.com/dhtkv/dht/wire"
)

// Error codes a vnode answers with in an ErrorReply (messages.ErrorCode).
const (
	CodeTooManySiblings = messages.ErrorCode_ERROR_CODE_TOO_MANY_SIBLINGS
	CodeStorage         = messages.ErrorCode_ERROR_CODE_STORAGE
	CodeBadRequest      = messages.ErrorCode_ERROR_CODE_BAD_REQUEST
	// CodeBadContext refuses a client context no replica can have issued.
	CodeBadContext = messages.ErrorCode_ERROR_CODE_BAD_CONTEXT
	CodeUnknown    = messages.ErrorCode_ERROR_CODE_UNKNOWN_MESSAGE
)

// Config is what a vnode needs. All fields are required except Metrics,
// Logger and Now.
type Config struct {
	Partition uint32
	Engine    persistence.Engine
	Minter    *Minter
	Metrics   *metrics.Metrics
	Logger    *slog.Logger
	// Now is the wall clock for sibling timestamps; nil means time.Now.
	Now func() time.Time
	// Root, when set, mirrors the Merkle root for the admin API, which
	// reads it without messaging the vnode.
	Root *atomic.Uint64
	// Keys, when set, mirrors the number of keys the vnode stores, so the
	// handoff actor knows which partitions hold data without asking.
	Keys *atomic.Int64
	// Dispatcher, when set, runs the vnode's mailbox (the node's worker
	// pool); nil means protoactor's default.
	Dispatcher actor.Dispatcher
	// CacheBytes is the budget of the vnode's cache of decoded objects
	// (see objectCache); zero disables it.
	CacheBytes int
	// ResolveOnWrite, when set, resolves the siblings a client write this
	// vnode coordinates leaves, and stores the resolution
	// (resolution.on_write; see resolveOnWrite); nil stores them as they
	// are.
	ResolveOnWrite *resolve.Selector
}

// Drop asks a vnode to delete every key of its partition, if it has taken
// no write since Generation (a HandoffPullReply's): the caller has pushed
// everything up to then to the partition's serving replicas. The vnode
// answers with a *Dropped.
type Drop struct{ Generation uint64 }

// Dropped answers Drop. Done is false when a write arrived since the
// caller's generation, or on a storage error (Err).
type Dropped struct {
	Partition uint32
	Done      bool
	Keys      int
	Err       error
}

// Name returns the actor name of partition p's vnode under its node actor.
// It is deterministic so peers can address a vnode without a lookup.
func Name(p uint32) string { return fmt.Sprintf("vnode-%d", p) }

// Props returns the props of the vnode actor for cfg.
func Props(cfg Config) *actor.Props {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	cfg.Logger = cfg.Logger.With("partition", cfg.Partition)
	var opts []actor.PropsOption
	if cfg.Dispatcher != nil {
		opts = append(opts, actor.WithDispatcher(cfg.Dispatcher))
	}
	async, _ := cfg.Engine.(persistence.AsyncPutter)
	if async != nil && !async.AsyncPuts() {
		async = nil
	}
	return actor.PropsFromProducer(func() actor.Actor {
		v := &vnode{cfg: cfg, async: async}
		v.inflight.keys = map[string]inflightWrite{}
		if cfg.CacheBytes > 0 {
			v.cache = newObjectCache(cfg.CacheBytes)
		}
		return v
	}, opts...)
}

type vnode struct {
	cfg Config
	// tree is the partition's Merkle tree, rebuilt from storage at start
	// and kept current on every write, for anti-entropy.
	tree *merkle.Tree
	// generation counts the writes since the actor started.
	generation uint64
	// cache holds hot keys' objects decoded; nil when disabled.
	cache *objectCache

	// async is the engine's non-blocking durable put, if it has one. With
	// it, a client write or a replica merge is handed to the engine and
	// answered when the engine confirms it, while the vnode goes on to
	// its next request: with sync_writes on, a vnode waiting on every
	// fsync in turn could take one write per fsync.
	async persistence.AsyncPutter
	// inflight tracks the writes handed to async and not yet confirmed.
	inflight struct {
		// pending counts them; scans of the partition wait for it, so
		// that they see every write the vnode has made.
		pending sync.WaitGroup
		// keys holds the newest unconfirmed object of each such key:
		// reads must see it, and the cache may have evicted it. The
		// engine's confirmations arrive on its goroutine, hence mu.
		mu   sync.Mutex
		keys map[string]inflightWrite
		seq  uint64
	}
	self *actor.PID
	root *actor.RootContext
}

type inflightWrite struct {
	seq  uint64
	set  dvv.Set
	hash uint64
}

// writeFailed tells a vnode that an asynchronous write failed, so that it
// forgets the object it cached and rebuilds its Merkle tree from storage.
type writeFailed struct{ key string }

// Receive handles one message. Requests always get an answer, even a
// malformed one, so the coordinator never waits out its deadline for a reply
// that will not come.
func (v *vnode) Receive(ctx actor.Context) {
	switch msg := ctx.Message().(type) {
	case *actor.Started:
		v.self, v.root = ctx.Self(), ctx.ActorSystem().Root
		v.buildTree()
		return
	case *actor.Stopping:
		// Storage closes after the vnodes stop: let the engine answer
		// what it holds first.
		v.inflight.pending.Wait()
		return
	case *Drop:
		ctx.Respond(v.drop(msg))
		return
	case *writeFailed:
		v.cache.remove([]byte(msg.key))
		v.inflight.pending.Wait()
		v.buildTree()
		return
	}
	env, ok := ctx.Message().(*messages.Envelope)
	if !ok {
		return
	}
	sender, requestID := ctx.Sender(), env.GetRequestId()
	respond := func(reply *messages.Envelope) {
		reply.RequestId = requestID
		if sender != nil {
			// Not ctx.Respond: this may run later, on the engine's
			// goroutine, after the handler has returned.
			v.root.Send(sender, reply)
		}
	}
	if reply := v.handle(env, respond); reply != nil {
		respond(reply)
	}
}

// handle answers one request: it returns the reply, or nil when it has
// arranged for respond to be called later (an asynchronous write).
func (v *vnode) handle(env *messages.Envelope, respond func(*messages.Envelope)) *messages.Envelope {
	switch body := env.GetBody().(type) {
	case *messages.Envelope_PutRequest:
		return v.put(body.PutRequest, respond)
	case *messages.Envelope_GetRequest:
		return v.count("get", v.get(body.GetRequest))
	case *messages.Envelope_MergeRequest:
		return v.merge(body.MergeRequest, respond)
	case *messages.Envelope_MerkleRequest:
		return v.merkleLevel(body.MerkleRequest)
	case *messages.Envelope_BucketKeysRequest:
		return v.bucketKeys(body.BucketKeysRequest)
	case *messages.Envelope_TombstonesRequest:
		return v.tombstones(body.TombstonesRequest)
	case *messages.Envelope_ReapRequest:
		return v.count("reap", v.reap(body.ReapRequest))
	case *messages.Envelope_HandoffPullRequest:
		return v.count("handoff_pull", v.handoffPull(body.HandoffPullRequest))
	case *messages.Envelope_MergeBatchRequest:
		return v.count("merge_batch", v.mergeBatch(body.MergeBatchRequest))
	default:
		// A newer peer may send a request this version does not know.
		return errorReply(CodeUnknown, fmt.Sprintf("vnode: unsupported request %T", body))
	}
}

func (v *vnode) put(req *messages.PutRequest, respond func(*messages.Envelope)) *messages.Envelope {
	ctxVV, err := wire.VVFromProto(req.GetContext())
	if err != nil {
		return v.count("put", errorReply(CodeBadRequest, fmt.Sprintf("vnode: client context: %v", err)))
	}
	stored, prev, err := v.load(req.GetKey())
	if err != nil {
		return v.count("put", errorReply(CodeStorage, err.Error()))
	}
	if limit := PlausibleCounter(v.cfg.Now()); ctxVV.MaxCounter() > limit {
		return v.count("put", errorReply(CodeBadContext, fmt.Sprintf(
			"vnode: the context names a dot (counter %d) beyond any a replica can have minted by now (%d): it was not issued by this cluster", ctxVV.MaxCounter(), limit)))
	}
	// Mint above whatever the key's contexts say of this replica, so that
	// a context naming it ahead of its minter cannot make the key
	// unwritable here.
	dot, err := v.cfg.Minter.NextAfter(max(stored.Context.Get(v.cfg.Minter.Actor()), ctxVV.Get(v.cfg.Minter.Actor())))
	if err != nil {
		return v.count("put", errorReply(CodeStorage, err.Error()))
	}
	sib := wire.SiblingFromProto(req.GetValue())
	sib.Timestamp = v.cfg.Now().UnixMilli()
	// A client's context cannot grow the stored one without bound, however
	// it was made (dvv.VersionVector.Bounded).
	ctxVV = ctxVV.Bounded(stored.Context, dvv.MaxContextEntries)
	updated, err := stored.Update(ctxVV, sib, dot, int(req.GetMaxSiblings()))
	switch {
	case errors.Is(err, dvv.ErrTooManySiblings):
		return v.count("put", errorReply(CodeTooManySiblings, err.Error()))
	case err != nil:
		return v.count("put", errorReply(CodeBadRequest, err.Error()))
	}
	updated = v.resolveOnWrite(req.GetKey(), updated)
	if v.cfg.Metrics != nil {
		v.cfg.Metrics.Siblings.Observe(float64(len(updated.Siblings)))
	}
	var object *messages.Object
	if req.GetEarly() && v.async != nil {
		// The object now, its durability later. Sent before the write is
		// queued, so that it precedes the confirmation on every path, and
		// the confirmation then carries no object.
		respond(&messages.Envelope{Body: &messages.Envelope_PutReply{PutReply: &messages.PutReply{Object: wire.ObjectToProto(updated), Minted: true}}})
	} else {
		object = wire.ObjectToProto(updated)
	}
	answer := func(err error) *messages.Envelope {
		if err != nil {
			return v.count("put", errorReply(CodeStorage, err.Error()))
		}
		return v.count("put", &messages.Envelope{Body: &messages.Envelope_PutReply{PutReply: &messages.PutReply{Object: object}}})
	}
	if v.storeAsync(req.GetKey(), updated, prev, func(err error) { respond(answer(err)) }) {
		return nil
	}
	return answer(v.store(req.GetKey(), updated, prev))
}

func (v *vnode) get(req *messages.GetRequest) *messages.Envelope {
	stored, _, err := v.load(req.GetKey())
	if err != nil {
		return errorReply(CodeStorage, err.Error())
	}
	return &messages.Envelope{Body: &messages.Envelope_GetReply{GetReply: &messages.GetReply{Object: wire.ObjectToProto(stored)}}}
}

func (v *vnode) merge(req *messages.MergeRequest, respond func(*messages.Envelope)) *messages.Envelope {
	merged, prev, changed, errEnv := v.prepareMerge(req.GetKey(), req.GetObject())
	if errEnv != nil {
		return v.count("merge", errEnv)
	}
	answer := func(err error) *messages.Envelope {
		if err != nil {
			return v.count("merge", errorReply(CodeStorage, err.Error()))
		}
		return v.count("merge", &messages.Envelope{Body: &messages.Envelope_MergeReply{MergeReply: &messages.MergeReply{}}})
	}
	if !changed {
		return answer(nil)
	}
	if v.storeAsync(req.GetKey(), merged, prev, func(err error) { respond(answer(err)) }) {
		return nil
	}
	return answer(v.store(req.GetKey(), merged, prev))
}

// mergeOne merges one incoming object into key's stored set, waiting for
// the write; it reports whether that changed the stored set, or the error
// reply to send.
func (v *vnode) mergeOne(key []byte, obj *messages.Object) (bool, *messages.Envelope) {
	merged, prev, changed, errEnv := v.prepareMerge(key, obj)
	if errEnv != nil || !changed {
		return false, errEnv
	}
	if err := v.store(key, merged, prev); err != nil {
		return false, errorReply(CodeStorage, err.Error())
	}
	return true, nil
}

// prepareMerge merges an incoming object with key's stored set. changed
// is false when the merge leaves the stored set as it is: writing only on
// change keeps duplicate replication and repeated repairs free of disk
// writes.
func (v *vnode) prepareMerge(key []byte, obj *messages.Object) (merged dvv.Set, prev stored, changed bool, errEnv *messages.Envelope) {
	incoming, err := wire.ObjectFromProto(obj)
	if err != nil {
		return dvv.Set{}, stored{}, false, errorReply(CodeBadRequest, fmt.Sprintf("vnode: merge %q: %v", key, err))
	}
	current, prev, err := v.load(key)
	if err != nil {
		return dvv.Set{}, stored{}, false, errorReply(CodeStorage, err.Error())
	}
	merged = dvv.Merge(current, incoming)
	return merged, prev, !merged.Equal(current), nil
}

// mergeBatch merges a batch of a handoff transfer. It stops at the first
// failure: the sender keeps its cursor and sends the batch again, and
// merging what already landed again changes nothing.
func (v *vnode) mergeBatch(req *messages.MergeBatchRequest) *messages.Envelope {
	var changed uint32
	for _, e := range req.GetEntries() {
		if len(e.GetKey()) == 0 {
			return errorReply(CodeBadRequest, "vnode: merge batch: empty key")
		}
		ok, errEnv := v.mergeOne(e.GetKey(), e.GetObject())
		if errEnv != nil {
			return errEnv
		}
		if ok {
			changed++
		}
	}
	return &messages.Envelope{Body: &messages.Envelope_MergeBatchReply{MergeBatchReply: &messages.MergeBatchReply{Merged: changed}}}
}

// handoffPull answers one batch of a partition transfer: the stored
// objects of the keys after the request's key, in key order.
func (v *vnode) handoffPull(req *messages.HandoffPullRequest) *messages.Envelope {
	v.inflight.pending.Wait()
	maxKeys, maxBytes := int(req.GetMaxKeys()), int(req.GetMaxBytes())
	if maxKeys <= 0 || maxBytes <= 0 {
		return errorReply(CodeBadRequest, "vnode: handoff pull: max_keys and max_bytes must be positive")
	}
	prefix := persistence.DataPrefix(v.cfg.Partition)
	var start []byte
	if after := req.GetAfterKey(); len(after) > 0 {
		// The smallest key after after: the same bytes and a zero byte.
		start = append(persistence.DataKey(v.cfg.Partition, after), 0)
	}
	reply := &messages.HandoffPullReply{Done: true, Generation: v.generation}
	if v.tree != nil {
		reply.TotalKeys = uint64(v.tree.Len())
	}
	size := 0
	var decodeErr error
	err := v.cfg.Engine.Scan(prefix, start, func(k, value []byte) bool {
		_, key, ok := persistence.SplitDataKey(k)
		if !ok {
			return true
		}
		if len(reply.Entries) >= maxKeys || (len(reply.Entries) > 0 && size+len(key)+len(value) > maxBytes) {
			reply.Done = false
			return false
		}
		set, err := wire.DecodeObject(value)
		if err != nil {
			decodeErr = fmt.Errorf("vnode: handoff pull: stored %q: %w", key, err)
			return false
		}
		reply.Entries = append(reply.Entries, &messages.KeyObject{Key: slices.Clone(key), Object: wire.ObjectToProto(set)})
		size += len(key) + len(value)
		return true
	})
	if err == nil {
		err = decodeErr
	}
	if err != nil {
		// A corrupt record stops the transfer loudly rather than skipping
		// a key the receiver would then never get.
		return errorReply(CodeStorage, err.Error())
	}
	return &messages.Envelope{Body: &messages.Envelope_HandoffPullReply{HandoffPullReply: reply}}
}

// drop deletes the partition's keys, unless a write arrived since the
// caller read them.
func (v *vnode) drop(req *Drop) *Dropped {
	v.inflight.pending.Wait()
	if req.Generation != v.generation {
		return &Dropped{Partition: v.cfg.Partition}
	}
	// Scan must not call back into the engine: collect the keys, then
	// delete them in batches small enough for badger's transaction limit.
	var keys [][]byte
	err := v.cfg.Engine.Scan(persistence.DataPrefix(v.cfg.Partition), nil, func(k, _ []byte) bool {
		keys = append(keys, slices.Clone(k))
		return true
	})
	for len(keys) > 0 && err == nil {
		b := persistence.NewBatch()
		for len(keys) > 0 && b.Size() < 1<<20 {
			b.Delete(keys[0])
			keys = keys[1:]
		}
		err = v.cfg.Engine.Write(b)
	}
	n := 0
	if v.tree != nil {
		n = v.tree.Len()
	}
	v.generation++
	v.cache.clear()
	v.buildTree()
	if err != nil {
		return &Dropped{Partition: v.cfg.Partition, Err: fmt.Errorf("vnode: drop partition %d: %w", v.cfg.Partition, err)}
	}
	return &Dropped{Partition: v.cfg.Partition, Done: true, Keys: n}
}

// stored describes what a key held before a write, for the Merkle tree.
type stored struct {
	found bool
	hash  uint64
}

// load returns the stored set of key, the empty set when absent. A corrupt
// record is reported, never silently treated as absent: that would let the
// next write drop the siblings it held.
func (v *vnode) load(key []byte) (dvv.Set, stored, error) {
	if w, ok := v.inflightObject(key); ok {
		return w.set, stored{found: true, hash: w.hash}, nil
	}
	if c, ok := v.cache.get(key); ok {
		return c.set, stored{found: true, hash: c.hash}, nil
	}
	raw, err := v.cfg.Engine.Get(persistence.DataKey(v.cfg.Partition, key))
	if errors.Is(err, persistence.ErrNotFound) {
		return dvv.Set{}, stored{}, nil
	}
	if err != nil {
		return dvv.Set{}, stored{}, fmt.Errorf("vnode: read %q: %w", key, err)
	}
	s, err := wire.DecodeObject(raw)
	if err != nil {
		v.cfg.Logger.Error("corrupt stored object", "key", key, "err", err)
		return dvv.Set{}, stored{}, fmt.Errorf("vnode: read %q: %w", key, err)
	}
	hash := merkle.ValueHash(raw)
	v.cache.put(key, s, hash, len(raw))
	return s, stored{found: true, hash: hash}, nil
}

// inflightObject returns key's newest unconfirmed write, if any.
func (v *vnode) inflightObject(key []byte) (inflightWrite, bool) {
	if v.async == nil {
		return inflightWrite{}, false
	}
	v.inflight.mu.Lock()
	defer v.inflight.mu.Unlock()
	w, ok := v.inflight.keys[string(key)]
	return w, ok
}

// storeAsync hands the write of s at key to the engine without waiting for
// it, and reports true; done is called, on another goroutine, once the
// engine confirms or fails the write. Until then reads see the write, and
// scans wait for it. It reports false, doing nothing, when the engine has
// no asynchronous path; the caller then uses store.
func (v *vnode) storeAsync(key []byte, s dvv.Set, prev stored, done func(error)) bool {
	if v.async == nil {
		return false
	}
	raw, err := wire.EncodeObject(s)
	if err != nil {
		done(err)
		return true
	}
	k := string(key)
	hash := merkle.ValueHash(raw)
	v.inflight.mu.Lock()
	v.inflight.seq++
	seq := v.inflight.seq
	v.inflight.keys[k] = inflightWrite{seq: seq, set: s, hash: hash}
	v.inflight.mu.Unlock()
	v.inflight.pending.Add(1)
	settle := func() {
		v.inflight.mu.Lock()
		if w, ok := v.inflight.keys[k]; ok && w.seq == seq {
			delete(v.inflight.keys, k)
		}
		v.inflight.mu.Unlock()
		v.inflight.pending.Done()
	}
	queued := v.async.PutAsync(persistence.DataKey(v.cfg.Partition, key), raw, func(err error) {
		settle()
		if err != nil {
			err = fmt.Errorf("vnode: write %q: %w", key, err)
			v.root.Send(v.self, &writeFailed{key: k})
		}
		done(err)
	})
	if !queued {
		settle()
		return false
	}
	// Taken as written: the engine applies writes in the order they are
	// handed over, so a later write of this key lands after this one, and
	// if this one fails, writeFailed puts the tree and cache right.
	v.generation++
	v.cache.put(key, s, hash, len(raw))
	if v.tree != nil {
		v.tree.Put(key, hash, prev.hash, prev.found)
		v.publishRoot()
	}
	return true
}

func (v *vnode) store(key []byte, s dvv.Set, prev stored) error {
	raw, err := wire.EncodeObject(s)
	if err != nil {
		return err
	}
	if err := v.cfg.Engine.Put(persistence.DataKey(v.cfg.Partition, key), raw); err != nil {
		// The write may or may not have landed: read it afresh next time.
		v.cache.remove(key)
		return fmt.Errorf("vnode: write %q: %w", key, err)
	}
	v.generation++
	hash := merkle.ValueHash(raw)
	v.cache.put(key, s, hash, len(raw))
	if v.tree != nil {
		v.tree.Put(key, hash, prev.hash, prev.found)
		v.publishRoot()
	}
	return nil
}

func (v *vnode) publishRoot() {
	if v.cfg.Root != nil {
		v.cfg.Root.Store(v.tree.Root())
	}
	if v.cfg.Keys != nil {
		v.cfg.Keys.Store(int64(v.tree.Len()))
	}
}

// buildTree rebuilds the Merkle tree from the partition's stored keys.
func (v *vnode) buildTree() {
	v.inflight.pending.Wait()
	shape := merkle.DefaultShape()
	tree, err := merkle.Build(shape.Fanout, shape.Depth, func(yield func([]byte, uint64) bool) {
		err := v.cfg.Engine.Scan(persistence.DataPrefix(v.cfg.Partition), nil, func(k, value []byte) bool {
			_, key, ok := persistence.SplitDataKey(k)
			return !ok || yield(key, merkle.ValueHash(value))
		})
		if err != nil {
			v.cfg.Logger.Error("scanning the partition for its Merkle tree", "err", err)
		}
	})
	if err != nil {
		v.cfg.Logger.Error("building the Merkle tree", "err", err)
		return
	}
	v.tree = tree
	v.publishRoot()
}

func (v *vnode) merkleLevel(req *messages.MerkleRequest) *messages.Envelope {
	if v.tree == nil {
		return errorReply(CodeStorage, "vnode: no Merkle tree")
	}
	parents := make([]int, len(req.GetParents()))
	for i, p := range req.GetParents() {
		parents[i] = int(p)
	}
	hashes, err := v.tree.Level(int(req.GetLevel()), parents)
	if err != nil {
		return errorReply(CodeBadRequest, err.Error())
	}
	shape := v.tree.Shape()
	return &messages.Envelope{Body: &messages.Envelope_MerkleReply{MerkleReply: &messages.MerkleReply{
		Hashes: hashes, Fanout: uint32(shape.Fanout), Depth: uint32(shape.Depth),
	}}}
}

func (v *vnode) bucketKeys(req *messages.BucketKeysRequest) *messages.Envelope {
	v.inflight.pending.Wait()
	if v.tree == nil {
		return errorReply(CodeStorage, "vnode: no Merkle tree")
	}
	buckets := make([]int, len(req.GetBuckets()))
	for i, b := range req.GetBuckets() {
		buckets[i] = int(b)
	}
	in := v.tree.KeyFilter(buckets)
	reply := &messages.BucketKeysReply{}
	err := v.cfg.Engine.Scan(persistence.DataPrefix(v.cfg.Partition), nil, func(k, value []byte) bool {
		if _, key, ok := persistence.SplitDataKey(k); ok && in(key) {
			reply.Keys = append(reply.Keys, &messages.KeyVersion{Key: slices.Clone(key), ValueHash: merkle.ValueHash(value)})
		}
		return true
	})
	if err != nil {
		return errorReply(CodeStorage, err.Error())
	}
	return &messages.Envelope{Body: &messages.Envelope_BucketKeysReply{BucketKeysReply: reply}}
}

func (v *vnode) count(kind string, reply *messages.Envelope) *messages.Envelope {
	if v.cfg.Metrics != nil {
		result := "ok"
		if e := reply.GetErrorReply(); e != nil {
			result = e.GetCode().String()
		}
		v.cfg.Metrics.VnodeOps.WithLabelValues(kind, result).Inc()
	}
	return reply
}

func errorReply(code messages.ErrorCode, msg string) *messages.Envelope {
	return &messages.Envelope{Body: &messages.Envelope_ErrorReply{ErrorReply: &messages.ErrorReply{Code: code, Message: msg}}}
}

// tombstones lists keys holding only tombstones older than the cutoff.
func (v *vnode) tombstones(req *messages.TombstonesRequest) *messages.Envelope {
	v.inflight.pending.Wait()
	reply := &messages.TombstonesReply{}
	limit := int(req.GetLimit())
	err := v.cfg.Engine.Scan(persistence.DataPrefix(v.cfg.Partition), nil, func(k, value []byte) bool {
		_, key, ok := persistence.SplitDataKey(k)
		if !ok {
			return true
		}
		set, err := wire.DecodeObject(value)
		if err != nil || !dvv.Reapable([]dvv.Set{set}, 1, req.GetOlderThanUnixMs()) {
			return true
		}
		reply.Keys = append(reply.Keys, slices.Clone(key))
		return limit <= 0 || len(reply.Keys) < limit
	})
	if err != nil {
		return errorReply(CodeStorage, err.Error())
	}
	return &messages.Envelope{Body: &messages.Envelope_TombstonesReply{TombstonesReply: reply}}
}

// reap deletes a key whose stored set is exactly the one the reaper checked
// on every primary; a write that landed since keeps the key.
func (v *vnode) reap(req *messages.ReapRequest) *messages.Envelope {
	want, err := wire.ObjectFromProto(req.GetObject())
	if err != nil {
		return errorReply(CodeBadRequest, fmt.Sprintf("vnode: reap: %v", err))
	}
	current, prev, err := v.load(req.GetKey())
	if err != nil {
		return errorReply(CodeStorage, err.Error())
	}
	reaped := prev.found && current.Equal(want) && current.IsDeleted()
	if reaped {
		// Forgotten before the delete: if the delete fails, what is
		// stored is uncertain.
		v.cache.remove(req.GetKey())
		if err := v.cfg.Engine.Delete(persistence.DataKey(v.cfg.Partition, req.GetKey())); err != nil {
			return errorReply(CodeStorage, err.Error())
		}
		v.generation++
		if v.tree != nil {
			v.tree.Delete(req.GetKey(), prev.hash)
			v.publishRoot()
		}
	}
	return &messages.Envelope{Body: &messages.Envelope_ReapReply{ReapReply: &messages.ReapReply{Reaped: reaped}}}
}
