package antientropy

import "slices"

// Liveness is what gossip says of a member.
type Liveness int

// A member is alive, down (failed or leaving: it may come back, holding
// hints), or has left the cluster for good.
const (
	Down Liveness = iota
	Alive
	Left
)

// View is the picture of the cluster a round decides by, as plain values:
// the shell builds it from the node's topology snapshot.
type View struct {
	// Partitions is indexed by partition.
	Partitions []Partition
	// Owners are the ring's owners.
	Owners []string
	// Members is what gossip knows of each node, by id. A node absent
	// from it is not alive.
	Members map[string]Liveness
}

// Partition is one partition as the ring plans it.
type Partition struct {
	// Replicas are the nodes taking part: the serving replicas (stand-ins
	// included while a handoff runs) and the new owners still receiving it.
	Replicas []string
	// Primaries are the partition's preference list.
	Primaries []string
	// Handoff is set while some replica of the partition has not yet
	// received its data.
	Handoff bool
}

// Alive reports whether node can be sent requests: self always, others
// when gossip sees them alive.
func (v *View) Alive(self, node string) bool {
	return node == self || v.Members[node] == Alive
}

// pair is a partition and the peer to exchange it with.
type pair struct {
	partition uint32
	peer      string
}

// pairs lists every partition this node takes part in, with each live peer
// that takes part too: exchanging with a new owner still receiving the
// partition fills it sooner.
func (v *View) pairs(self string) []pair {
	var out []pair
	for p, part := range v.Partitions {
		if !slices.Contains(part.Replicas, self) {
			continue
		}
		for _, id := range part.Replicas {
			if id != self && v.Alive(self, id) {
				out = append(out, pair{uint32(p), id})
			}
		}
	}
	return out
}

// hintHolders lists, sorted, every node that could keep a hint: the owners,
// and any member gossip knows that has not left (a newcomer not yet an
// owner may be a fallback).
func (v *View) hintHolders() []string {
	out := slices.Clone(v.Owners)
	for id, l := range v.Members {
		if l != Left {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}
