package node

import (
	"github.com/asynkron/protoactor-go/actor"

	"github.com/dhtkv/dht/actors/gateway"
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
}

func (r *clusterRouter) LocalNode() string { return r.self }

// Targets returns the partition's owners that are alive, in preference
// order. A down owner is left out, so its absence shows as fewer replicas
// reachable; fallbacks (sloppy quorum) come with hinted handoff.
func (r *clusterRouter) Targets(p uint32) []quorum.Target {
	snap := r.view.Load()
	if snap == nil || int(p) >= len(snap.Table.Replicas) {
		return nil
	}
	var out []quorum.Target
	for _, id := range snap.Table.Preference(p) {
		if snap.Alive(id) {
			out = append(out, quorum.Target{Node: id, Primary: true})
		}
	}
	return out
}

func (r *clusterRouter) VnodePID(node string, p uint32) *actor.PID {
	addr := r.local
	if node != r.self {
		if snap := r.view.Load(); snap != nil {
			addr = snap.Members[node].RemoteAddr
		}
	}
	return actor.NewPID(addr, nodeActorName+"/"+vnode.Name(p))
}

// clusterView shows the topology snapshot to the admin API.
type clusterView struct {
	view *topology.View
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
	return gateway.RingInfo{Partitions: snap.Table.Partitions, N: snap.Table.N, Version: snap.State.Clock(), Replicas: snap.Table.Replicas}
}
