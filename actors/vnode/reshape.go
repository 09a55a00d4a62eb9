package vnode

import (
	"errors"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/dhtkv/dht/cluster/ring"
	"github.com/dhtkv/dht/internal/replica"
	"github.com/dhtkv/dht/messages"
)

// Quiesce asks a vnode to stop touching its partition's storage, without
// stopping: it finishes the writes it has in flight (answering their
// requesters), then answers Quiesced and holds every request that arrives
// after, in order, until a Reshape. The node quiesces every vnode before a
// resize, so that no vnode of the new ring reads a partition the old one
// still writes, and no request is lost in the switch: a stopped actor's
// mailbox is dropped, and a request to a name with no actor behind it is
// answered by nobody the requester can match it to.
type Quiesce struct{}

// Quiesced answers Quiesce once the vnode's writes have landed.
type Quiesced struct{}

// Reshape makes a quiesced vnode partition p (its own number) of a ring of
// Partitions partitions, a multiple or a fraction of its current count: it
// drops its machine, builds one over the new partition's keys (read
// through the partitions of the ring's other sizes, Layouts, see
// inheritance), and handles what it held as the new partition would. A
// vnode whose number a halving leaves above the count retires: it keeps
// its name and mailbox, holds no machine, and hands on whatever reaches
// it, by key to the vnode that has the key now, refusing as not ready what
// has no single key (vnode.Rehome); a later Reshape to a count above its
// number brings it back. (A stopped actor would drop what its mailbox
// still held.) A vnode still quiescing carries a Reshape out once its
// writes have landed; one never quiesced ignores it.
type Reshape struct {
	Partitions int
	Layouts    []int
}

// holding is set between Quiesce and Reshape.
type holding struct {
	// requester is whom to answer Quiesced, nil once answered.
	requester *actor.PID
	// reshapeTo is a Reshape that came before the vnode was quiesced
	// (its node stopped waiting): it is carried out once it is.
	reshapeTo *Reshape
	held      []deferred
}

// quiesce starts holding requests and answers once no write is in flight.
func (v *vnode) quiesce(ctx actor.Context, requester *actor.PID) {
	if v.hold == nil {
		v.hold = &holding{}
	}
	v.hold.requester = requester
	v.answerQuiesced(ctx)
}

// quiet reports whether every write the vnode started has landed and
// every request the machine deferred behind them is done.
func (v *vnode) quiet() bool { return v.pending == 0 && len(v.deferred) == 0 }

// answerQuiesced answers Quiesce once the vnode is quiet, and carries out
// a Reshape that came early.
func (v *vnode) answerQuiesced(ctx actor.Context) {
	h := v.hold
	if h == nil || h.requester == nil || !v.quiet() {
		return
	}
	v.root.Send(h.requester, &Quiesced{})
	h.requester = nil
	if h.reshapeTo != nil {
		v.reshape(ctx, h.reshapeTo)
	}
}

// reshape rebuilds the vnode for a ring of r.Partitions partitions, or
// retires it, and handles what it held.
func (v *vnode) reshape(ctx actor.Context, r *Reshape) {
	h, q := v.hold, r.Partitions
	if h == nil {
		v.cfg.Logger.Error("reshape of a vnode that was not quiesced; ignored", "partitions", q)
		return
	}
	if h.requester != nil || !v.quiet() {
		// Its node stopped waiting for it; the vnode does the
		// reshape once its writes have landed.
		h.reshapeTo = r
		return
	}
	from := v.cfg.Partitions
	switch {
	case !overlaps(from, q):
		v.cfg.Logger.Error("reshape to a partition count that is neither a multiple nor a fraction of this one; keeping it", "from", from, "to", q)
	case int(v.cfg.Partition) >= q:
		v.retire(q)
	default:
		cfg := v.cfg
		cfg.Partitions, cfg.Layouts = q, r.Layouts
		if v.cfg.CacheBytes > 0 && from > 0 {
			cfg.CacheBytes = v.cfg.CacheBytes * from / q
		}
		// Above the old machine's generation: a Drop the handoff
		// computed for the old partition fails, as after a write,
		// rather than empty the new one.
		generation := v.generation
		if v.m != nil {
			generation = v.m.Generation()
		}
		v.retired = false
		v.build(cfg, generation+1)
		// The new machine's write ids start over: the old one's writes
		// have all landed (pending is 0), so none can be mistaken.
		v.carry(v.m.Start())
		if v.store.in.pending() {
			ctx.Send(v.self, adopt{})
		}
	}
	v.hold = nil
	for _, r := range h.held {
		v.receiveRequest(ctx, r.msg, r.sender)
	}
}

// receiveRequest handles a client or peer request (an Envelope or a Drop)
// from sender, forwarding a key of a sibling partition.
func (v *vnode) receiveRequest(ctx actor.Context, msg any, sender *actor.PID) {
	if v.hold != nil {
		v.hold.held = append(v.hold.held, deferred{msg: msg, sender: sender})
		return
	}
	if v.retired {
		v.forward(ctx, msg, sender)
		return
	}
	env, ok := msg.(*messages.Envelope)
	if !ok {
		v.request(msg, sender)
		return
	}
	if p, op, ok := v.keyElsewhere(env); ok {
		// The sender routes by a ring of another size (a resize
		// reaching the nodes a gossip round apart): the key's partition
		// on this node's ring is a sibling, which answers the sender
		// itself. Without one to forward to, the vnode refuses, and the
		// sender asks the other replicas.
		if parent := ctx.Parent(); parent != nil {
			ctx.RequestWithCustomSender(actor.NewPID(parent.Address, parent.Id+"/"+Name(p)), env, sender)
			return
		}
		v.carry(replica.Effects[addr]{Reply: replica.Reply[addr]{To: addr{pid: sender, id: env.GetRequestId()}, Op: op,
			Kind: replica.ReplyError, Code: replica.CodeNotReady, Message: v.notHere(p)}})
		return
	}
	v.request(env, sender)
}

// errRetired answers a Drop sent to a retired vnode.
var errRetired = errors.New("vnode: the partition is no longer on this node's ring")

// retire makes the vnode a forwarder on a ring of q partitions, q at most
// its number (see Reshape): its machine and its storage view go, and its
// admin mirrors read an empty partition.
func (v *vnode) retire(q int) {
	if v.m != nil {
		v.generation = v.m.Generation()
	}
	v.cfg.Partitions, v.retired, v.m = q, true, nil
	v.store = partitionStore{}
	if v.cfg.Root != nil {
		v.cfg.Root.Store(0)
	}
	if v.cfg.Keys != nil {
		v.cfg.Keys.Store(0)
	}
}

// forward hands a request that reached a retired vnode on: by its key to
// the vnode that has it on the node's ring, answering that vnode to the
// sender; anything else is refused as not ready.
func (v *vnode) forward(ctx actor.Context, msg any, sender *actor.PID) {
	switch msg := msg.(type) {
	case *messages.Envelope:
		to, refusal, ok := Rehome(msg, v.cfg.Partition, v.cfg.Partitions)
		if parent := ctx.Parent(); ok && parent != nil {
			ctx.RequestWithCustomSender(actor.NewPID(parent.Address, parent.Id+"/"+Name(to)), msg, sender)
			return
		}
		if sender != nil && refusal != nil {
			v.root.Send(sender, refusal)
		}
	case *Drop:
		if sender != nil {
			v.root.Send(sender, &Dropped{Partition: v.cfg.Partition, Err: errRetired})
		}
	}
}

// overlaps reports whether rings of from and to partitions map onto each
// other (ring.Overlapping): one count divides the other.
func overlaps(from, to int) bool {
	_, _, ok := ring.Overlapping(0, from, to)
	return ok
}
