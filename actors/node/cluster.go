package node

import (
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/dhtkv/dht/actors/coordinator"
	"github.com/dhtkv/dht/actors/gateway"
	"github.com/dhtkv/dht/actors/handoff"
	"github.com/dhtkv/dht/actors/hints"
	"github.com/dhtkv/dht/actors/topology"
	"github.com/dhtkv/dht/actors/vnode"
	"github.com/dhtkv/dht/cluster/membership"
	"github.com/dhtkv/dht/cluster/ring"
	"github.com/dhtkv/dht/internal/quorum"
)

// clusterRouter routes requests by the latest topology snapshot.
type clusterRouter struct {
	self  string
	local string // this node's actor system address
	view  *topology.View
	// hints enables sloppy quorum: fallbacks keep hints for down owners.
	hints bool
}

// Route converts ring.Plan.Route (pure: live serving owners, the owners
// rebuilding after a data loss, a stand-in for each down owner, the down
// owners left uncovered, the owners still receiving a handoff) into quorum
// targets.
func (r *clusterRouter) Route(p uint32) coordinator.Route {
	snap := r.view.Load()
	if snap == nil || int(p) >= len(snap.Plan.Slots) {
		return coordinator.Route{}
	}
	route := snap.Plan.Route(p, snap.Alive, r.hints)
	out := coordinator.Route{Uncovered: route.Uncovered, Pending: route.Pending}
	for _, id := range route.Owners {
		out.Targets = append(out.Targets, quorum.Target{Node: id, Primary: true})
	}
	for _, id := range route.Rebuilding {
		out.Targets = append(out.Targets, quorum.Target{Node: id, Primary: true, WriteOnly: true})
	}
	for _, s := range route.StandIns {
		out.Targets = append(out.Targets, quorum.Target{Node: s.Node, HintFor: s.For})
	}
	return out
}

func (r *clusterRouter) HintsPID(node string) *actor.PID {
	return actor.NewPID(r.addr(node), nodeActorName+"/"+hintsName)
}

func (r *clusterRouter) addr(node string) string {
	if node == r.self {
		return r.local
	}
	if snap := r.view.Load(); snap != nil {
		return snap.Members[node].RemoteAddr
	}
	return r.local
}

func (r *clusterRouter) VnodePID(node string, p uint32) *actor.PID {
	return actor.NewPID(r.addr(node), nodeActorName+"/"+vnode.Name(p))
}

// clusterView shows the topology snapshot and the hint queue to the admin
// API.
type clusterView struct {
	view    *topology.View
	hints   *hints.Stats
	roots   []atomic.Uint64
	handoff *handoff.Status
}

func (c *clusterView) Status() gateway.StatusInfo {
	pending, bytes := c.hints.Pending()
	info := gateway.StatusInfo{HintsPending: pending, HintsBytes: bytes, MerkleRoots: map[uint32]uint64{}}
	h := c.handoff.Snapshot()
	info.Handoff = gateway.HandoffStatus{Pending: h.Pending, Rebuilding: h.Rebuilding, Draining: h.Draining, Completed: h.Completed, ETASeconds: h.ETASeconds,
		RingVersion: h.RingVersion, Settled: h.Settled,
		Active: []gateway.TransferInfo{}}
	for _, t := range h.Active {
		info.Handoff.Active = append(info.Handoff.Active, gateway.TransferInfo{
			Partition: t.Partition, Kind: t.Kind, Peer: t.Peer, Keys: t.Keys, TotalKeys: t.TotalKeys, Bytes: t.Bytes, StartedAt: t.StartedAt,
		})
	}
	if snap := c.view.Load(); snap != nil {
		info.Node = snap.Self
		for p := range snap.Plan.Slots {
			if snap.Plan.Needs(snap.Self, uint32(p)) {
				info.MerkleRoots[uint32(p)] = c.roots[p].Load()
			}
		}
	}
	return info
}

func (c *clusterView) Members() []gateway.MemberInfo {
	snap := c.view.Load()
	if snap == nil {
		return nil
	}
	counts := snap.Table.Counts()
	seen := map[string]bool{}
	var out []gateway.MemberInfo
	for _, m := range snap.State.Members {
		seen[m.ID] = true
		info := gateway.MemberInfo{ID: m.ID, Zone: m.Zone, Owner: !m.Removed(), Replicas: counts[m.ID], Self: m.ID == snap.Self}
		g, known := snap.Members[m.ID]
		info.HTTPAddr, info.RemoteAddr = g.HTTPAddr, g.RemoteAddr
		info.Status = memberStatus(m.Removed(), m.ID == snap.Self, known, g.Status, g.Leaving || snap.Plan.Involved(m.ID))
		out = append(out, info)
	}
	for id, g := range snap.Members {
		if !seen[id] { // gossip knows it, the ring does not yet
			out = append(out, gateway.MemberInfo{ID: id, Zone: g.Zone, Status: string(g.Status), HTTPAddr: g.HTTPAddr, RemoteAddr: g.RemoteAddr})
		}
	}
	return out
}

func (c *clusterView) Ring() gateway.RingInfo {
	snap := c.view.Load()
	if snap == nil {
		return gateway.RingInfo{}
	}
	return gateway.RingInfo{Partitions: snap.Table.Partitions, N: snap.Table.N, Version: snap.State.Version(), Replicas: snap.Table.Replicas}
}

// clusterAdmin carries out the admin API's ownership changes through the
// topology actor, which applies them to the ring state and broadcasts them.
type clusterAdmin struct{ n *Node }

func (c *clusterAdmin) Join() error { return c.command(topology.ActionJoin, c.n.cfg.Node.ID) }

func (c *clusterAdmin) Decommission(node string) error {
	return c.command(topology.ActionDecommission, node)
}

func (c *clusterAdmin) ForceRemove(node string) error {
	if err := c.command(topology.ActionForceRemove, node); err != nil {
		return err
	}
	// Serf would otherwise keep reporting the node as failed for a day.
	if agent := c.n.agent.Load(); agent != nil {
		if err := agent.RemoveFailed(node); err != nil {
			c.n.logger.Warn("telling gossip a force-removed node is gone", "node", node, "err", err)
		}
	}
	return nil
}

// Resize grows the ring to partitions through the topology actor
// (topo.Machine.Resize); gossip carries it on, and every node replaces its
// vnodes when it has the resized ring (nodeActor.resize).
func (c *clusterAdmin) Resize(partitions int) error {
	if c.n.cfg.Standalone() {
		return fmt.Errorf("%w: a standalone node has no ring to resize", gateway.ErrConflict)
	}
	pid := actor.NewPID(c.n.system.Address(), nodeActorName+"/"+topologyName)
	res, err := c.n.system.Root.RequestFuture(pid, &topology.Resize{Partitions: partitions}, 10*time.Second).Result()
	if err != nil {
		return fmt.Errorf("node: resize to %d partitions: %w", partitions, err)
	}
	r, ok := res.(*topology.CommandResult)
	if !ok {
		return fmt.Errorf("node: resize to %d partitions: unexpected answer %T", partitions, res)
	}
	switch {
	case r.Err == nil:
		return nil
	case errors.Is(r.Err, ring.ErrResizeCount), errors.Is(r.Err, ring.ErrResizeShrink):
		return fmt.Errorf("%w: %v", gateway.ErrInvalid, r.Err)
	case errors.Is(r.Err, topology.ErrRefused):
		return fmt.Errorf("%w: %v", gateway.ErrConflict, r.Err)
	}
	return r.Err
}

func (c *clusterAdmin) command(action, node string) error {
	if c.n.cfg.Standalone() {
		return fmt.Errorf("%w: a standalone node has no ring to change", gateway.ErrConflict)
	}
	pid := actor.NewPID(c.n.system.Address(), nodeActorName+"/"+topologyName)
	res, err := c.n.system.Root.RequestFuture(pid, &topology.Command{Action: action, Node: node}, 10*time.Second).Result()
	if err != nil {
		return fmt.Errorf("node: %s %s: %w", action, node, err)
	}
	r, ok := res.(*topology.CommandResult)
	if !ok {
		return fmt.Errorf("node: %s %s: unexpected answer %T", action, node, res)
	}
	switch {
	case r.Err == nil:
		return nil
	case errors.Is(r.Err, topology.ErrUnknownMember):
		return fmt.Errorf("%w: %v", gateway.ErrUnknownNode, r.Err)
	case errors.Is(r.Err, topology.ErrRefused):
		return fmt.Errorf("%w: %v", gateway.ErrConflict, r.Err)
	}
	return r.Err
}

// memberStatus is how the admin API shows a ring member: removed says the
// ring removed it, self that it is this node, known that gossip knows it,
// with gossip's status, and handingOver that it announces it hands its
// partitions over (membership's leaving tag) or the plan still has it
// serving some.
func memberStatus(removed, self, known bool, gossip membership.Status, handingOver bool) string {
	alive := self || known && gossip == membership.StatusAlive
	switch {
	case removed && alive && handingOver:
		// Decommissioned and still running its drain: it hands its
		// partitions over, pushes what was written meanwhile and waits
		// handoff.drop_delay before it leaves gossip and exits. Until
		// then it is leaving, so that dhtctl status keeps showing it. A
		// decommissioned node started again holds nothing: removed.
		return gateway.MemberLeaving
	case removed:
		return gateway.MemberRemoved
	case alive:
		return gateway.MemberAlive
	}
	// A stopped owner is down whether it crashed or left gossip cleanly
	// on its way out: it keeps its partitions, and hints are kept for it.
	return gateway.MemberDown
}
