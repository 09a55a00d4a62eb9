package node

import (
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
	partitions    int
	vnodeProps    func(p uint32) *actor.Props
	topologyProps *actor.Props
	hintsProps    *actor.Props
	entropyProps  *actor.Props // nil when anti-entropy is off
	handoffProps  *actor.Props // nil on a standalone node
	gatewayProps  *actor.Props
	started       chan struct{}
}

func (a *nodeActor) Receive(ctx actor.Context) {
	if _, ok := ctx.Message().(*actor.Started); !ok {
		return
	}
	for p := 0; p < a.partitions; p++ {
		if _, err := ctx.SpawnNamed(a.vnodeProps(uint32(p)), vnode.Name(uint32(p))); err != nil {
			ctx.Logger().Error("spawn vnode", "partition", p, "err", err)
		}
	}
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
