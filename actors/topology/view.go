package topology

import (
	"sync"
	"sync/atomic"

	"github.com/dhtkv/dht/cluster/membership"
	"github.com/dhtkv/dht/cluster/ring"
)

// Snapshot is one consistent picture of the cluster. It is immutable.
type Snapshot struct {
	// Self is this node's id.
	Self string
	// State is the ownership state and Table the claim computed from it;
	// Plan adds who serves each partition while handoffs run (route by it).
	State ring.State
	Table ring.Table
	Plan  ring.Plan
	// Members is what gossip knows of each node, by id: liveness and
	// addresses. Owners that gossip has never seen are absent.
	Members map[string]membership.Member
	// Synced is set once this node has merged a peer's ring state since it
	// started: before that, State may be only what this node knew alone.
	Synced bool
}

// Alive reports whether node can be sent requests: this node always, others
// when gossip sees them alive.
func (s *Snapshot) Alive(node string) bool {
	if node == s.Self {
		return true
	}
	m, ok := s.Members[node]
	return ok && m.Status == membership.StatusAlive
}

// Ready reports whether this node's own copy of partition p holds the
// partition's data, by the plan: false while the node receives p (it took
// the partition over in a join, or lost its data and is rebuilt), true
// when it is not one of p's replicas. This node records its own handoffs,
// so its plan is the first to know when a copy becomes ready, and it knows
// of its own loss before any peer does.
func (s *Snapshot) Ready(p uint32) bool { return s.Plan.ReadyAt(p, s.Self) }

// HandedOff reports whether this node, on a ring it has synced with a
// peer, has no part in partition p: it is neither a replica nor standing in
// for one. A reader that still asks it for p routes by an older ring; the
// copy it would answer from may be dropped already (a drain drops it once
// the drop delay has passed here, which a slow peer's gossip can outlast),
// and an empty answer would count toward R as the key's state. A node that
// has not synced decides nothing: its ring may be the stale one.
func (s *Snapshot) HandedOff(p uint32) bool {
	return s.Synced && int(p) < len(s.Plan.Slots) && !s.Plan.Needs(s.Self, p)
}

// View publishes the latest Snapshot. Safe for concurrent use; readers never
// block the topology actor.
type View struct {
	p     atomic.Pointer[Snapshot]
	once  sync.Once
	first chan struct{}
}

// Load returns the latest snapshot, or nil before the first is published.
func (v *View) Load() *Snapshot { return v.p.Load() }

// Published is closed once the first snapshot is stored: before that no
// request can be routed.
func (v *View) Published() <-chan struct{} {
	v.init()
	return v.first
}

func (v *View) init() { v.once.Do(func() { v.first = make(chan struct{}) }) }

func (v *View) store(s *Snapshot) {
	v.init()
	if v.p.Swap(s) == nil {
		close(v.first)
	}
}
