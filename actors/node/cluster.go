package node

import (
	"slices"
	"sync/atomic"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/dhtkv/dht/actors/coordinator"
	"github.com/dhtkv/dht/actors/gateway"
	"github.com/dhtkv/dht/actors/hints"
	"github.com/dhtkv/dht/actors/topology"
	"github.com/dhtkv/dht/actors/vnode"
	"github.com/dhtkv/dht/cluster/membership"
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

func (r *clusterRouter) LocalNode() string { return r.self }

// Route converts ring.Table.Route (pure: live owners, a stand-in for each
// down owner, the down owners left uncovered) into quorum targets.
func (r *clusterRouter) Route(p uint32) coordinator.Route {
	snap := r.view.Load()
	if snap == nil || int(p) >= len(snap.Table.Replicas) {
		return coordinator.Route{}
	}
	route := snap.Table.Route(p, snap.Alive, r.hints)
	out := coordinator.Route{Uncovered: route.Uncovered}
	for _, id := range route.Owners {
		out.Targets = append(out.Targets, quorum.Target{Node: id, Primary: true})
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
	view  *topology.View
	hints *hints.Stats
	roots []atomic.Uint64
}

func (c *clusterView) Status() gateway.StatusInfo {
	pending, bytes := c.hints.Pending()
	info := gateway.StatusInfo{HintsPending: pending, HintsBytes: bytes, MerkleRoots: map[uint32]uint64{}}
	if snap := c.view.Load(); snap != nil {
		info.Node = snap.Self
		for p, ids := range snap.Table.Replicas {
			if slices.Contains(ids, snap.Self) {
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
		info := gateway.MemberInfo{ID: m.ID, Zone: m.Zone, Owner: m.RemoveVersion == 0, Replicas: counts[m.ID], Self: m.ID == snap.Self}
		g, known := snap.Members[m.ID]
		info.HTTPAddr, info.RemoteAddr = g.HTTPAddr, g.RemoteAddr
		switch {
		case m.RemoveVersion != 0:
			info.Status = "removed"
		case m.ID == snap.Self:
			info.Status = "alive"
		case !known || g.Status == membership.StatusFailed:
			info.Status = "down"
		default:
			info.Status = string(g.Status)
		}
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
	// The version sums every member's latest change: merging states never
	// lowers it and any change raises it, unlike the highest single clock,
	// which several first joins share.
	var version uint64
	for _, m := range snap.State.Members {
		version += max(m.JoinVersion, m.RemoveVersion)
	}
	return gateway.RingInfo{Partitions: snap.Table.Partitions, N: snap.Table.N, Version: version, Replicas: snap.Table.Replicas}
}
