package entropy

import (
	"github.com/dhtkv/dht/actors/topology"
	"github.com/dhtkv/dht/cluster/membership"
	"github.com/dhtkv/dht/internal/antientropy"
)

// viewOf converts the node's topology snapshot into the plain values the
// machine decides by; nil before the first snapshot.
func viewOf(snap *topology.Snapshot) *antientropy.View {
	if snap == nil {
		return nil
	}
	v := &antientropy.View{
		Partitions: make([]antientropy.Partition, len(snap.Plan.Slots)),
		Members:    make(map[string]antientropy.Liveness, len(snap.Members)),
	}
	for _, m := range snap.State.Owners() {
		v.Owners = append(v.Owners, m.ID)
	}
	for id, m := range snap.Members {
		switch m.Status {
		case membership.StatusAlive:
			v.Members[id] = antientropy.Alive
		case membership.StatusLeft:
			v.Members[id] = antientropy.Left
		default:
			v.Members[id] = antientropy.Down
		}
	}
	for p, slots := range snap.Plan.Slots {
		serving, pending := snap.Plan.Serving(uint32(p), snap.Alive)
		part := antientropy.Partition{
			Replicas:  append(serving, pending...),
			Primaries: snap.Table.Preference(uint32(p)),
		}
		for _, slot := range slots {
			if !slot.Received {
				part.Handoff = true
			}
		}
		v.Partitions[p] = part
	}
	return v
}
