package node

import (
	"log/slog"

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

// resize replaces the vnodes with those of a ring of q partitions (a
// resize: ring.State.Resize, which only grows Q by a power of two). Each
// old vnode answers what its mailbox holds and stops, waiting for its
// writes in flight, before its children
// start, so that they, which read and adopt the keys it holds, never race
// a write of it. Partitions go from the last down: the children of p are
// numbered p·f and up, so the old vnodes whose names they take have
// stopped already. A request for a partition in between finds no vnode
// and fails, as for a node that is briefly down; its coordinator asks the
// other replicas.
func (a *nodeActor) resize(ctx actor.Context, q int) {
	from := a.partitions
	if q <= from || q%from != 0 {
		if q != from {
			a.logger.Error("the ring's partition count shrank or is not a multiple of this node's; keeping the vnodes", "from", from, "to", q)
		}
		return
	}
	f := q / from
	next := make([]*actor.PID, q)
	for p := from - 1; p >= 0; p-- {
		if pid := a.vnodes[p]; pid != nil {
			// A poison pill, not a stop: the requests already in its
			// mailbox are answered first.
			_ = ctx.PoisonFuture(pid).Wait()
		}
		for c := p * f; c < (p+1)*f; c++ {
			pid, err := ctx.SpawnNamed(a.vnodeProps(uint32(c), q), vnode.Name(uint32(c)))
			if err != nil {
				a.logger.Error("spawn vnode", "partition", c, "err", err)
				continue
			}
			next[c] = pid
		}
	}
	a.partitions, a.vnodes = q, next
	a.logger.Info("replaced the vnodes for the resized ring", "from", from, "to", q)
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
