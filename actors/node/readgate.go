package node

import (
	"fmt"

	"github.com/dhtkv/dht/cluster/ring"
)

// replicaReadGate says why this node's copy of partition p must not answer
// replica reads now, or "". Its peers route by their own rings, which learn
// of this node's data loss only by gossip, a round or more after this node
// does; until then they would count its empty answers toward R. So the
// node refuses them itself: while its storage is new and topology has not
// yet decided whether that is a loss, and, once decided, while its plan
// says its copy is not ready. A peer that asks for a partition this node
// has handed over routes by an older ring: the copy may be gone, and the
// peer must ask the replicas that have it (Snapshot.HandedOff). A vnode
// of a resized ring asks in the moment before the snapshot has the new
// count: its partition is then judged by the one it split from, or by
// every partition merged into it.
func (n *Node) replicaReadGate(p uint32, q int) string {
	if n.newEpoch.Load() {
		return "this node's storage is new and it has not yet learnt from the ring whether it owned replicas"
	}
	snap := n.view.Load()
	if snap == nil {
		return ""
	}
	first, last, ok := ring.Overlapping(p, q, len(snap.Plan.Slots))
	if !ok {
		first, last = p, p
	}
	for c := first; c <= last; c++ {
		switch {
		case !snap.Ready(c):
			return "this node is receiving the partition (rebuilt after a data loss, or taken over in a join)"
		case snap.HandedOff(c):
			return fmt.Sprintf("this node has no part in the partition in its ring (version %d): it has handed it over, and the reader routes by an older ring", snap.State.Version())
		}
	}
	return ""
}
