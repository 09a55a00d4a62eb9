package node

import (
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/dhtkv/dht/actors/vnode"
	"github.com/dhtkv/dht/cluster/ring"
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
	// partitions is the ring's Q the vnodes are of, and layouts the ring
	// sizes its data has been laid out under (ring.Base.LayoutSizes).
	// vnodes holds their PIDs by partition, and after a halving, past
	// partitions, those of the retired vnodes (vnode.Reshape).
	partitions int
	layouts    []int
	vnodes     []*actor.PID
	// count mirrors partitions for the dead-letter watch (rehomeOrphans).
	count         *atomic.Int64
	vnodeProps    func(p uint32, q int, layouts []int) *actor.Props
	logger        *slog.Logger
	topologyProps *actor.Props
	hintsProps    *actor.Props
	entropyProps  *actor.Props // nil when anti-entropy is off
	handoffProps  *actor.Props // nil on a standalone node
	gatewayProps  *actor.Props
	started       chan struct{}
}

// partitionsChanged tells the node actor the ring's partition count and
// layouts (topology.Config.OnPartitions).
type partitionsChanged struct {
	q       int
	layouts []int
}

func (a *nodeActor) Receive(ctx actor.Context) {
	switch msg := ctx.Message().(type) {
	case *actor.Started:
		a.start(ctx)
	case partitionsChanged:
		a.resize(ctx, msg.q, msg.layouts)
		if ctx.Sender() != nil {
			ctx.Respond(partitionsChanged{q: a.partitions})
		}
	}
}

// spawnVnodes spawns a vnode for each partition of a ring of a.partitions.
func (a *nodeActor) spawnVnodes(ctx actor.Context) {
	a.count.Store(int64(a.partitions))
	a.vnodes = make([]*actor.PID, a.partitions)
	for p := range a.vnodes {
		pid, err := ctx.SpawnNamed(a.vnodeProps(uint32(p), a.partitions, a.layouts), vnode.Name(uint32(p)))
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
// ring.State.Resize multiplies Q by a power of two, FinishHalving halves
// it; a node that joins a ring halved more than once, or restarts on one
// whose state it lacked, meets a smaller power-of-two fraction), in three
// steps, none of which loses a request:
//   - every vnode is quiesced: it finishes its writes in flight and then
//     holds what arrives, so that no vnode of the new ring reads a
//     partition an old one still writes;
//   - on a split, the partitions numbered from the vnodes there are up,
//     whose names no vnode has, are spawned;
//   - each vnode is reshaped in place into the partition of its own
//     number on the new ring (vnode.Reshape), and handles what it held,
//     forwarding a key of another partition to it; after a halving, a
//     vnode whose number is no longer a partition retires, and forwards
//     what reaches it by key.
//
// A vnode keeps its name and mailbox throughout, so a request sent to it
// during the switch waits a moment instead of being dropped with a
// stopped actor's mailbox.
func (a *nodeActor) resize(ctx actor.Context, q int, layouts []int) {
	from := a.partitions
	if _, _, ok := ring.Overlapping(0, from, q); q == from || !ok {
		if q != from {
			a.logger.Error("the ring's partition count is neither a multiple nor a fraction of this node's; keeping the vnodes", "from", from, "to", q)
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
	existing := len(a.vnodes)
	for c := existing; c < q; c++ {
		pid, err := ctx.SpawnNamed(a.vnodeProps(uint32(c), q, layouts), vnode.Name(uint32(c)))
		if err != nil {
			a.logger.Error("spawn vnode", "partition", c, "err", err)
		}
		a.vnodes = append(a.vnodes, pid) // nil on failure: it has its number
	}
	// From here a dead letter to a number at or above q is no vnode's.
	a.count.Store(int64(q))
	for _, pid := range a.vnodes[:existing] {
		if pid != nil {
			ctx.Send(pid, &vnode.Reshape{Partitions: q, Layouts: layouts})
		}
	}
	a.partitions, a.layouts = q, layouts
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
