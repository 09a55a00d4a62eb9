package node

import (
	"log/slog"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/dhtkv/dht/actors/vnode"
)

// Names of the node actor's singleton children; peers address them by
// these names.
const (
	topologyName = "topology"
	hintsName    = "hints"
	entropyName  = "entropy"
	handoffName  = "handoff"
)

// nodeActor supervises the vnodes, the topology actor and the gateway.
type nodeActor struct {
	// partitions is the ring's Q the vnodes are of, and vnodes their PIDs
	// by partition.
	partitions    int
	vnodes        []*actor.PID
	vnodeProps    func(p uint32, q int) *actor.Props
	logger        *slog.Logger
	topologyProps *actor.Props
	hintsProps    *actor.Props
	entropyProps  *actor.Props // nil when anti-entropy is off
	handoffProps  *actor.Props // nil on a standalone node
	gatewayProps  *actor.Props
	started       chan struct{}
}

// partitionsChanged tells the node actor the ring's partition count
// (topology.Config.OnPartitions).
type partitionsChanged struct{ q int }

func (a *nodeActor) Receive(ctx actor.Context) {
	switch msg := ctx.Message().(type) {
	case *actor.Started:
		a.start(ctx)
	case partitionsChanged:
		a.resize(ctx, msg.q)
		if ctx.Sender() != nil {
			ctx.Respond(partitionsChanged{q: a.partitions})
		}
	}
}

// spawnVnodes spawns a vnode for each partition of a ring of a.partitions.
func (a *nodeActor) spawnVnodes(ctx actor.Context) {
	a.vnodes = make([]*actor.PID, a.partitions)
	for p := range a.vnodes {
		pid, err := ctx.SpawnNamed(a.vnodeProps(uint32(p), a.partitions), vnode.Name(uint32(p)))
		if err != nil {
			ctx.Logger().Error("spawn vnode", "partition", p, "err", err)
			continue
		}
		a.vnodes[p] = pid
	}
}

// quiesceTimeout bounds how long a resize waits for one vnode's writes in
// flight to land.
const quiesceTimeout = 10 * time.Second

// resize makes the vnodes those of a ring of q partitions (a resize:
// ring.State.Resize, which only grows Q by a power of two), in three
// steps, none of which loses a request:
//   - every vnode is quiesced: it finishes its writes in flight and then
//     holds what arrives, so that no vnode of the new ring reads a
//     partition an old one still writes;
//   - the partitions numbered from the old count up, whose names no vnode
//     has, are spawned;
//   - each old vnode is reshaped in place into the partition of its own
//     number on the new ring (vnode.Reshape), and handles what it held,
//     forwarding a key of a sibling partition to it.
//
// A vnode keeps its name and mailbox throughout, so a request sent to it
// during the switch waits a moment instead of being dropped with a
// stopped actor's mailbox.
func (a *nodeActor) resize(ctx actor.Context, q int) {
	from := a.partitions
	if q <= from || q%from != 0 {
		if q != from {
			a.logger.Error("the ring's partition count shrank or is not a multiple of this node's; keeping the vnodes", "from", from, "to", q)
		}
		return
	}
	begin := time.Now()
	futures := make([]*actor.Future, 0, len(a.vnodes))
	for _, pid := range a.vnodes {
		if pid != nil {
			futures = append(futures, ctx.RequestFuture(pid, &vnode.Quiesce{}, quiesceTimeout))
		}
	}
	for _, f := range futures {
		if _, err := f.Result(); err != nil {
			// It reshapes once its writes land (vnode.Reshape).
			a.logger.Error("a vnode did not quiesce for the resize in time; going on", "err", err)
		}
	}
	next := make([]*actor.PID, q)
	copy(next, a.vnodes)
	for c := from; c < q; c++ {
		pid, err := ctx.SpawnNamed(a.vnodeProps(uint32(c), q), vnode.Name(uint32(c)))
		if err != nil {
			a.logger.Error("spawn vnode", "partition", c, "err", err)
			continue
		}
		next[c] = pid
	}
	for _, pid := range a.vnodes {
		if pid != nil {
			ctx.Send(pid, &vnode.Reshape{Partitions: q})
		}
	}
	a.partitions, a.vnodes = q, next
	a.logger.Info("replaced the vnodes for the resized ring", "from", from, "to", q, "took", time.Since(begin).Round(time.Microsecond))
}

func (a *nodeActor) start(ctx actor.Context) {
	a.spawnVnodes(ctx)
	if _, err := ctx.SpawnNamed(a.topologyProps, topologyName); err != nil {
		ctx.Logger().Error("spawn topology", "err", err)
	}
	if _, err := ctx.SpawnNamed(a.hintsProps, hintsName); err != nil {
		ctx.Logger().Error("spawn hints", "err", err)
	}
	if a.entropyProps != nil {
		if _, err := ctx.SpawnNamed(a.entropyProps, entropyName); err != nil {
			ctx.Logger().Error("spawn entropy", "err", err)
		}
	}
	if a.handoffProps != nil {
		if _, err := ctx.SpawnNamed(a.handoffProps, handoffName); err != nil {
			ctx.Logger().Error("spawn handoff", "err", err)
		}
	}
	if _, err := ctx.SpawnNamed(a.gatewayProps, "gateway"); err != nil {
		ctx.Logger().Error("spawn gateway", "err", err)
	}
	close(a.started)
}
