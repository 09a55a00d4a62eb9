package vnode

import (
	"fmt"
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/dhtkv/dht/internal/replica"
	"github.com/dhtkv/dht/messages"
	"github.com/dhtkv/dht/persistence"
	"github.com/dhtkv/dht/wire"
)

// vnode is the actor around one partition's replica.Machine: it converts
// each message to a machine call and carries out the effects. It holds no
// lock: the engine's goroutine only sends it a writeDone.
type vnode struct {
	cfg   Config
	m     *replica.Machine[addr]
	store partitionStore
	// inflight counts the asynchronous writes the engine has not
	// answered yet: a stopping vnode waits for them, so that none is
	// still in flight when the node closes its storage.
	inflight sync.WaitGroup
	// async is the engine's non-blocking durable put, if it has one. With
	// it, a client write or a replica merge is handed to the engine and
	// answered when the engine confirms it, while the vnode goes on to
	// its next request: with sync_writes on, a vnode waiting on every
	// fsync in turn could take one write per fsync.
	async persistence.AsyncPutter
	// deferred holds, in arrival order, the requests the machine did not
	// take yet (replica.Effects.Defer), until it resumes.
	deferred []deferred
	// pending counts the writes whose writeDone has not come back yet
	// (Quiesce waits for them).
	pending int
	// hold is set while the vnode is quiesced: it holds every request
	// until a Reshape (see Quiesce).
	hold *holding
	// retired is set while the vnode's number is no partition of the
	// ring (a halving left it above the count): it keeps its name and
	// forwards what reaches it (see Reshape).
	retired bool
	// generation is a retired vnode's last write generation: a vnode
	// brought back starts above it.
	generation uint64
	self       *actor.PID
	root       *actor.RootContext
}

// addr is where a reply goes: the requester, and the envelope's request id
// (or a Dropped, for a Drop).
type addr struct {
	pid  *actor.PID
	id   uint64
	drop bool
}

type deferred struct {
	msg    any
	sender *actor.PID
}

// writeDone reports the engine's answer to an asynchronous write. owner
// tells a restarted vnode's writes from those of the instance before it,
// whose write ids mean nothing to the new machine.
type writeDone struct {
	owner *vnode
	id    uint64
	err   error
}

func newVnode(cfg Config, async persistence.AsyncPutter) *vnode {
	v := &vnode{async: async}
	v.build(cfg, 0)
	return v
}

// build sets the vnode's config, store and a new machine over them, whose
// write generation starts at generation.
func (v *vnode) build(cfg Config, generation uint64) {
	v.cfg = cfg
	in, id := newInheritance(cfg.Partition, cfg.Partitions, cfg.InitialPartitions, cfg.Layouts)
	v.store = partitionStore{engine: cfg.Engine, id: id, in: in}
	rc := replica.Config{
		Partition: cfg.Partition, Store: v.store,
		Codec: codec{}, Minter: cfg.Minter, Logger: cfg.Logger, Async: v.async != nil, CacheBytes: cfg.CacheBytes,
		FirstGeneration: generation,
	}
	if cfg.ResolveOnWrite != nil {
		rc.Resolve = v.resolveOnWrite
	}
	v.m = replica.New[addr](rc)
}

// Receive handles one message. Requests always get an answer, even a
// malformed one, so the coordinator never waits out its deadline for a reply
// that will not come.
func (v *vnode) Receive(ctx actor.Context) {
	switch msg := ctx.Message().(type) {
	case *actor.Started:
		v.self, v.root = ctx.Self(), ctx.ActorSystem().Root
		v.carry(v.m.Start())
		if v.store.in.pending() {
			ctx.Send(v.self, adopt{})
		}
	case adopt:
		if v.hold == nil && !v.retired {
			// A quiesced vnode touches no storage; its reshape
			// starts adoption again.
			v.adopt()
		}
	case *actor.Stopping:
		v.inflight.Wait()
	case *writeDone:
		if msg.owner == v {
			v.pending--
			v.carry(v.m.WriteDone(msg.id, msg.err))
			v.answerQuiesced(ctx)
		}
	case *Quiesce:
		v.quiesce(ctx, ctx.Sender())
	case *Reshape:
		v.reshape(ctx, msg)
	case *messages.Envelope, *Drop:
		v.receiveRequest(ctx, msg, ctx.Sender())
	}
}

// request steps the machine with one request, or keeps it for later.
func (v *vnode) request(msg any, sender *actor.PID) {
	eff := v.step(msg, sender)
	if eff.Defer {
		v.deferred = append(v.deferred, deferred{msg: msg, sender: sender})
		return
	}
	v.carry(eff)
}

// resume hands the machine again what it deferred, in order; what it
// defers again goes back in the queue, still in order.
func (v *vnode) resume() {
	queued := v.deferred
	v.deferred = nil
	for _, d := range queued {
		v.request(d.msg, d.sender)
	}
}

// step converts one request to its machine call.
func (v *vnode) step(msg any, sender *actor.PID) replica.Effects[addr] {
	if d, ok := msg.(*Drop); ok {
		return v.m.Drop(addr{pid: sender, drop: true}, d.Generation)
	}
	env := msg.(*messages.Envelope)
	to := addr{pid: sender, id: env.GetRequestId()}
	if op, why := v.misrouted(env); why != "" {
		return replica.Effects[addr]{Reply: replica.Reply[addr]{To: to, Op: op, Kind: replica.ReplyError, Code: replica.CodeNotReady, Message: why}}
	}
	switch body := env.GetBody().(type) {
	case *messages.Envelope_PutRequest:
		return v.put(to, env, body.PutRequest, replica.Precondition{})
	case *messages.Envelope_ConditionalPutRequest:
		cond, err := wire.PreconditionFromProto(body.ConditionalPutRequest)
		if err != nil {
			return refuse(to, replica.OpPut, fmt.Sprintf("vnode: precondition: %v", err))
		}
		return v.put(to, env, body.ConditionalPutRequest.GetPut(), cond)
	case *messages.Envelope_GetRequest:
		if v.cfg.ReadGate != nil {
			if why := v.cfg.ReadGate(v.cfg.Partition, v.cfg.Partitions); why != "" {
				return replica.Effects[addr]{Reply: replica.Reply[addr]{To: to, Op: replica.OpGet, Kind: replica.ReplyError,
					Code: replica.CodeNotReady, Message: fmt.Sprintf("vnode: partition %d does not answer reads yet: %s", v.cfg.Partition, why)}}
			}
		}
		return v.m.Get(to, body.GetRequest.GetKey())
	case *messages.Envelope_ListRequest:
		// A listing is a read: a replica without its data yet would
		// answer a short page, so it refuses and the gateway asks another.
		if v.cfg.ReadGate != nil {
			if why := v.cfg.ReadGate(v.cfg.Partition, v.cfg.Partitions); why != "" {
				return replica.Effects[addr]{Reply: replica.Reply[addr]{To: to, Kind: replica.ReplyError,
					Code: replica.CodeNotReady, Message: fmt.Sprintf("vnode: partition %d does not answer reads yet: %s", v.cfg.Partition, why)}}
			}
		}
		req := body.ListRequest
		return v.m.List(to, req.GetPrefix(), req.GetAfterKey(), int(req.GetLimit()), req.GetWithValues(), v.cfg.Clock())
	case *messages.Envelope_MergeRequest:
		req := body.MergeRequest
		incoming, err := wire.ObjectFromProto(req.GetObject())
		if err != nil {
			return refuse(to, replica.OpMerge, fmt.Sprintf("vnode: merge %q: %v", req.GetKey(), err))
		}
		return v.m.Merge(to, req.GetKey(), incoming)
	case *messages.Envelope_MergeBatchRequest:
		entries := make([]replica.Entry, len(body.MergeBatchRequest.GetEntries()))
		for i, e := range body.MergeBatchRequest.GetEntries() {
			entries[i].Key = e.GetKey()
			if len(entries[i].Key) > 0 {
				entries[i].Object, entries[i].Err = wire.ObjectFromProto(e.GetObject())
			}
		}
		return v.m.MergeBatch(to, entries)
	case *messages.Envelope_ReapRequest:
		want, err := wire.ObjectFromProto(body.ReapRequest.GetObject())
		if err != nil {
			return refuse(to, replica.OpReap, fmt.Sprintf("vnode: reap: %v", err))
		}
		return v.m.Reap(to, body.ReapRequest.GetKey(), want, v.cfg.Now())
	case *messages.Envelope_HandoffPullRequest:
		req := body.HandoffPullRequest
		if len(req.GetKeys()) > 0 {
			return v.m.HandoffPullKeys(to, req.GetKeys(), int(req.GetMaxBytes()))
		}
		return v.m.HandoffPull(to, req.GetAfterKey(), int(req.GetMaxKeys()), int(req.GetMaxBytes()))
	case *messages.Envelope_MerkleRequest:
		return v.m.MerkleLevel(to, int(body.MerkleRequest.GetLevel()), ints(body.MerkleRequest.GetParents()))
	case *messages.Envelope_BucketKeysRequest:
		return v.m.BucketKeys(to, ints(body.BucketKeysRequest.GetBuckets()))
	case *messages.Envelope_TombstonesRequest:
		req := body.TombstonesRequest
		return v.m.Tombstones(to, req.GetOlderThanUnixMs(), int(req.GetLimit()))
	default:
		// A newer peer may send a request this version does not know.
		return replica.Effects[addr]{Reply: replica.Reply[addr]{To: to, Kind: replica.ReplyError,
			Code: replica.CodeUnknownRequest, Message: fmt.Sprintf("vnode: unsupported request %T", body)}}
	}
}

// put steps the machine with a client write this vnode coordinates, tested
// against cond (the zero Precondition tests nothing).
func (v *vnode) put(to addr, env *messages.Envelope, req *messages.PutRequest, cond replica.Precondition) replica.Effects[addr] {
	if d := env.GetDeadlineUnixMs(); d > 0 && v.cfg.Clock().UnixMilli() > d {
		// The coordinator has handed the write to another replica
		// by now (or answered its client): minting it here as well
		// would add a second dot its client's context never covers.
		// A request delayed in a paused process or in a reconnecting
		// remote's queue arrives like this.
		return replica.Effects[addr]{Reply: replica.Reply[addr]{To: to, Op: replica.OpPut, Kind: replica.ReplyError,
			Code: replica.CodeExpired, Message: fmt.Sprintf("vnode: write of %q arrived %dms after its deadline; not stored",
				req.GetKey(), v.cfg.Clock().UnixMilli()-d)}}
	}
	ctxVV, err := wire.VVFromProto(req.GetContext())
	if err != nil {
		return refuse(to, replica.OpPut, fmt.Sprintf("vnode: client context: %v", err))
	}
	ttl := req.GetTtlMs()
	if ttl < 0 || ttl > replica.MaxTTL.Milliseconds() {
		return refuse(to, replica.OpPut, fmt.Sprintf("vnode: ttl_ms %d outside 0..%d", ttl, replica.MaxTTL.Milliseconds()))
	}
	return v.m.Put(to, replica.PutRequest{Key: req.GetKey(), Context: ctxVV, Value: wire.SiblingFromProto(req.GetValue()),
		MaxSiblings: int(req.GetMaxSiblings()), Early: req.GetEarly(), Precondition: cond,
		TTL: time.Duration(ttl) * time.Millisecond}, v.cfg.Now())
}

// refuse answers a request that could not be read off the wire.
func refuse(to addr, op replica.Op, msg string) replica.Effects[addr] {
	return replica.Effects[addr]{Reply: replica.Reply[addr]{To: to, Op: op, Kind: replica.ReplyError, Code: replica.CodeBadRequest, Message: msg}}
}

func ints(in []uint32) []int {
	out := make([]int, len(in))
	for i, x := range in {
		out[i] = int(x)
	}
	return out
}
